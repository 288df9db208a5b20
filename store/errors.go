package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrInvalidArgument marks a bad filter or bad rows given to the store
// (unknown severity, negative limit, invalid JSON, missing id...). Such
// errors are permanent: retrying the same call cannot succeed.
var ErrInvalidArgument = errors.New("invalid argument")

func invalidf(format string, args ...any) error {
	return fmt.Errorf("storage: %w: %s", ErrInvalidArgument, fmt.Sprintf(format, args...))
}

// IsPermanent reports whether err can never succeed on retry: invalid data,
// constraint violations, JSON and type errors, a corrupt database. Transient
// errors (connection refused or reset, SQLITE_BUSY/LOCKED, serialization
// failures and deadlocks, timeouts, server shutdown, full disk) and errors of
// unknown origin return false, so the exporter retries them with backoff.
func IsPermanent(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrInvalidArgument) {
		return true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgPermanent(pgErr.Code)
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		return sqlitePermanent(sqErr.Code())
	}
	return false
}

// pgPermanent classifies a SQLSTATE. Data exceptions (22), integrity
// violations (23), syntax / undefined objects (42) and similar classes are
// about the statement or its data; connection (08), resource (53), operator
// (57), system (58) classes and transaction rollbacks (40) are about the
// moment and may pass.
func pgPermanent(code string) bool {
	if len(code) < 2 {
		return false
	}
	switch code[:2] {
	case "22", // data exception: invalid JSON, untranslatable character, value too long
		"23", // integrity constraint violation
		"42", // syntax error or access rule violation (undefined table: not migrated)
		"0A", // feature not supported
		"21", // cardinality violation (ON CONFLICT affecting a row twice)
		"2B": // dependent privilege descriptors still exist
		return true
	case "XX": // data or index corruption is not fixed by a retry
		return code == "XX001" || code == "XX002"
	case "55": // object not in prerequisite state: lock_not_available is transient
		return code != "55P03" && code != "55006"
	default: // 08 connection, 40 rollback/deadlock, 53 resources, 57 shutdown/cancel, 58 I/O, 28 auth
		return false
	}
}

// sqlitePermanent classifies a (possibly extended) SQLite result code.
func sqlitePermanent(code int) bool {
	switch code & 0xff {
	case sqlite3.SQLITE_CONSTRAINT, sqlite3.SQLITE_MISMATCH, sqlite3.SQLITE_TOOBIG,
		sqlite3.SQLITE_RANGE, sqlite3.SQLITE_ERROR, sqlite3.SQLITE_CORRUPT,
		sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_FORMAT, sqlite3.SQLITE_AUTH:
		return true
	default: // BUSY, LOCKED, IOERR, FULL, NOMEM, INTERRUPT, CANTOPEN, READONLY, PROTOCOL...
		return false
	}
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
