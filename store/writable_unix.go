//go:build unix

package store

import (
	"io/fs"

	"golang.org/x/sys/unix"
)

// writable says whether this process may open path for writing, without
// opening it. SQLite's locks are POSIX advisory locks, which belong to the
// process: closing any descriptor of the database or its -shm, even one
// opened just to look, drops every lock the process's connections hold
// (another store of this process, say argusapi's beside the exporter's).
// Another process then believes itself the file's only user, and its
// close deletes the -wal and -shm still in use here.
func writable(path string) error {
	if err := unix.Access(path, unix.W_OK); err != nil {
		return &fs.PathError{Op: "access", Path: path, Err: err}
	}
	return nil
}
