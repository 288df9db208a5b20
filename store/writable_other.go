//go:build !unix

package store

import "os"

// writable says whether this process may open path for writing. Windows
// locks belong to a handle, so opening and closing one to look is harmless
// there (see writable_unix.go for why it is not on Unix).
func writable(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	return f.Close()
}
