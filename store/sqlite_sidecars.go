package store

import (
	"fmt"
	"os"
)

// SQLite keeps two files beside a WAL database, path-wal (committed
// pages not yet copied back) and path-shm (an index of it), and creates
// them with the database file's mode. A start on a read-only file (mode
// 0444) thus leaves a read-only -shm (and -wal) behind, and once the file
// is made writable again SQLite still opens them read-only: every write
// failed with "attempt to write a readonly database", which named
// neither. repairSidecars gives them the database file's mode back before
// the store opens it, or says exactly what to do when it may not.
func repairSidecars(path string) error {
	fi, err := os.Stat(path)
	if err != nil || writable(path) != nil {
		return nil // new, or itself read-only: the open reports that
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		side := path + suffix
		sfi, err := os.Stat(side)
		if err != nil || writable(side) == nil {
			continue
		}
		if err := os.Chmod(side, sfi.Mode().Perm()|fi.Mode().Perm()); err != nil {
			return fmt.Errorf("storage: sqlite database %q is writable but %q is not (left by a start on the read-only file?) and cannot be made so: %w; "+
				"run `chmod u+w %s` as its owner (never delete the -wal file: it may hold committed rows)", path, side, err, side)
		}
	}
	return nil
}
