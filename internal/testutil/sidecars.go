package testutil

import (
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// Sidecars are the -wal and -shm files of a SQLite database as a process
// using it opened them. Only the file's last user may delete them; while
// that process runs, finding others in their place means another user
// deleted them under it (it writes on into a deleted file), which happens
// when the process has lost its locks on the file.
type Sidecars struct {
	path     string
	wal, shm os.FileInfo
}

// SQLiteSidecars stats the -wal and -shm of the database at path.
func SQLiteSidecars(t testing.TB, path string) Sidecars {
	t.Helper()
	wal, err := os.Stat(path + "-wal")
	require.NoError(t, err)
	shm, err := os.Stat(path + "-shm")
	require.NoError(t, err)
	return Sidecars{path: path, wal: wal, shm: shm}
}

// Changed says how the files differ from those SQLiteSidecars found, nil
// when both are still the same files.
func (s Sidecars) Changed() error {
	for _, f := range []struct {
		suffix string
		was    os.FileInfo
	}{{"-wal", s.wal}, {"-shm", s.shm}} {
		now, err := os.Stat(s.path + f.suffix)
		if err != nil {
			return fmt.Errorf("%s is gone: %w", f.suffix, err)
		}
		if !os.SameFile(now, f.was) {
			return fmt.Errorf("%s was deleted and made again by another user", f.suffix)
		}
	}
	return nil
}
