package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrorClass is what a database error means for the write that got it.
type ErrorClass int

const (
	// ClassTransient: about the moment (connection lost, lock held,
	// resources exhausted, server shutting down). The same write may
	// succeed later: retry it, with a bound.
	ClassTransient ErrorClass = iota
	// ClassContent: about the record (a value the column's type, an
	// index or a constraint refuses). It never succeeds, and the other
	// records of the batch can be stored without it.
	ClassContent
	// ClassStatement: about the database or the statement (undefined
	// table, not migrated, corruption, a damaged SQLite file). Usually no
	// record can be written until someone acts, and then all can: it is
	// the database's state, not the records' fault, so it is not
	// permanent. WriteSalvaging treats it as ClassUnknown: a row is
	// quarantined only when it alone is refused (a record-specific SQLite
	// ERROR such as malformed JSON in an expression index) while its table
	// takes others; otherwise the error is returned to be retried, and the
	// detector's write-ahead log holds the spans until the database is
	// fixed.
	ClassStatement
	// ClassUnknown: not in the tables below (PostgreSQL's XX000 or a
	// trigger's P0001, an unlisted SQLite code, a Go-side driver error).
	// WriteSalvaging asks the database: if it answers, the batch is
	// salvaged, a row refused alone is quarantined as for ClassStatement;
	// if not, it is transient.
	ClassUnknown
)

func (c ErrorClass) String() string {
	switch c {
	case ClassContent:
		return "content"
	case ClassStatement:
		return "statement"
	case ClassUnknown:
		return "unknown"
	}
	return "transient"
}

// pgClasses classifies SQLSTATEs by their class (first two characters);
// pgCodes overrides single codes. Classes not listed are ClassUnknown.
var (
	pgClasses = map[string]ErrorClass{
		"22": ClassContent,   // data exception: invalid JSON, value out of range, untranslatable character
		"23": ClassContent,   // integrity constraint violation: check, unique, foreign key, not null
		"54": ClassContent,   // program limit exceeded: index row too large for a btree
		"21": ClassContent,   // cardinality violation: ON CONFLICT affecting a row twice
		"42": ClassStatement, // syntax error or access rule violation: undefined table (not migrated)
		"0A": ClassStatement, // feature not supported
		"2B": ClassStatement, // dependent privilege descriptors still exist
		"55": ClassStatement, // object not in prerequisite state (but see pgCodes)
		"08": ClassTransient,
		"28": ClassTransient, // authentication: a rotated password comes back
		"40": ClassTransient, // serialization failure, deadlock
		"53": ClassTransient, // insufficient resources: disk full, too many connections
		"57": ClassTransient, // operator intervention: shutdown, query canceled
		"58": ClassTransient, // system error: I/O
	}
	pgCodes = map[string]ErrorClass{
		"55P03": ClassTransient, // lock_not_available
		"55006": ClassTransient, // object_in_use
		"XX001": ClassStatement, // data_corrupted
		"XX002": ClassStatement, // index_corrupted
	}
)

// sqliteClasses classifies SQLite primary result codes (the low byte of
// an extended code); codes not listed are ClassUnknown.
var sqliteClasses = map[int]ErrorClass{
	sqlite3.SQLITE_CONSTRAINT: ClassContent, // CHECK (json_valid, status), NOT NULL, PRIMARY KEY, FOREIGN KEY
	sqlite3.SQLITE_MISMATCH:   ClassContent,
	sqlite3.SQLITE_TOOBIG:     ClassContent, // a string or blob over SQLITE_MAX_LENGTH
	sqlite3.SQLITE_RANGE:      ClassContent,
	sqlite3.SQLITE_ERROR:      ClassStatement, // no such table, SQL logic error
	sqlite3.SQLITE_CORRUPT:    ClassStatement,
	sqlite3.SQLITE_NOTADB:     ClassStatement,
	sqlite3.SQLITE_FORMAT:     ClassStatement,
	sqlite3.SQLITE_AUTH:       ClassStatement,
	sqlite3.SQLITE_BUSY:       ClassTransient,
	sqlite3.SQLITE_LOCKED:     ClassTransient,
	sqlite3.SQLITE_IOERR:      ClassTransient,
	sqlite3.SQLITE_FULL:       ClassTransient,
	sqlite3.SQLITE_NOMEM:      ClassTransient,
	sqlite3.SQLITE_INTERRUPT:  ClassTransient,
	sqlite3.SQLITE_CANTOPEN:   ClassTransient,
	sqlite3.SQLITE_READONLY:   ClassTransient, // a file made writable again
	sqlite3.SQLITE_PROTOCOL:   ClassTransient,
	sqlite3.SQLITE_SCHEMA:     ClassTransient, // the schema changed under a statement: prepared again
}

// Classify tells what err means for the write that got it.
func Classify(err error) ErrorClass {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return ClassTransient
	}
	if errors.Is(err, ErrInvalidArgument) {
		return ClassContent
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if c, ok := pgCodes[pgErr.Code]; ok {
			return c
		}
		if len(pgErr.Code) >= 2 {
			if c, ok := pgClasses[pgErr.Code[:2]]; ok {
				return c
			}
		}
		return ClassUnknown
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		if c, ok := sqliteClasses[sqErr.Code()&0xff]; ok {
			return c
		}
		return ClassUnknown
	}
	if isConnection(err) {
		return ClassTransient
	}
	return ClassUnknown
}

// isConnection reports an error of the way to the database, not of what
// was sent: a lost or refused connection, a network timeout.
func isConnection(err error) bool {
	var netErr net.Error
	var connErr *pgconn.ConnectError
	return errors.As(err, &netErr) || errors.As(err, &connErr) || pgconn.Timeout(err) || pgconn.SafeToRetry(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone)
}

// IsPermanent reports whether the database refuses err's record for what
// it holds (ClassContent): that record can never be stored, the other
// records of its batch can. Statement and unknown errors are not
// permanent (someone can fix the database); transient ones pass.
func IsPermanent(err error) bool {
	return err != nil && Classify(err) == ClassContent
}

// ErrorCode is the database's own code of err (a SQLSTATE, or SQLite's
// extended result code), "" when it has none.
func ErrorCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		if name, ok := sqlite.ErrorCodeString[sqErr.Code()]; ok {
			return name
		}
	}
	if errors.Is(err, ErrInvalidArgument) {
		return "invalid_argument"
	}
	return ""
}

// IsDuplicate reports whether err is a primary key or unique violation of
// either database, e.g. InsertAuditLogs given an id that is already stored.
// Such errors are also permanent (IsPermanent); this tells callers that want
// to answer "already exists" (HTTP 409) or skip rows a retry already wrote
// apart from other refused data.
func IsDuplicate(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505" // unique_violation
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		c := sqErr.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || c == sqlite3.SQLITE_CONSTRAINT_UNIQUE
	}
	return false
}

// isBusy reports a SQLite lock conflict worth retrying at once.
func isBusy(err error) bool {
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		c := sqErr.Code() & 0xff
		return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
	}
	return false
}
