package store

import (
	"errors"
	"fmt"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// damagedError is SQLite saying its file is damaged ("database disk image
// is malformed", "file is not a database"), with the file it means and how
// to check it: SQLite's message names neither, and an operator who sees it
// must know which file to look at before trusting or repairing anything.
type damagedError struct {
	file string
	err  error
}

func (e *damagedError) Error() string {
	return fmt.Sprintf("%v (the SQLite file %s is damaged or is not a database: check it with "+
		"`sqlite3 %s 'PRAGMA integrity_check'`, and copy it with its -wal and -shm before any repair)",
		e.err, e.file, shellQuote(e.file))
}

func (e *damagedError) Unwrap() error { return e.err }

// explainDamaged names file in an error that says it is damaged; any other
// error (and every error of a PostgreSQL store, file "") is returned as is.
func explainDamaged(file string, err error) error {
	var sqErr *sqlite.Error
	var done *damagedError
	if file == "" || !errors.As(err, &sqErr) || errors.As(err, &done) {
		return err
	}
	if c := sqErr.Code() & 0xff; c != sqlite3.SQLITE_CORRUPT && c != sqlite3.SQLITE_NOTADB {
		return err
	}
	return &damagedError{file: file, err: err}
}

// shellQuote quotes s for a POSIX shell unless it needs no quoting.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
