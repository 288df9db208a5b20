package testutil

import (
	"context"
	"database/sql"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// LockSQLite holds an exclusive transaction on the SQLite database at path
// (another writer, as a backup tool or a second process would) until the
// returned unlock is called, or the test ends.
func LockSQLite(t testing.TB, path string) (unlock func()) {
	t.Helper()
	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	require.NoError(t, err)
	ctx := context.Background()
	conn, err := other.Conn(ctx)
	require.NoError(t, err)
	_, err = conn.ExecContext(ctx, "BEGIN EXCLUSIVE")
	require.NoError(t, err)
	var once sync.Once
	unlock = func() {
		once.Do(func() {
			_, err := conn.ExecContext(ctx, "ROLLBACK")
			require.NoError(t, err)
			require.NoError(t, conn.Close())
			require.NoError(t, other.Close())
		})
	}
	t.Cleanup(unlock)
	return unlock
}

// LockPostgresTable holds an ACCESS EXCLUSIVE lock on table of the
// PostgreSQL database at dsn (another session, as a migration or a
// maintenance job would) until the returned unlock is called, or the test
// ends.
func LockPostgresTable(t testing.TB, dsn, table string) (unlock func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "LOCK TABLE "+pgx.Identifier{table}.Sanitize()+" IN ACCESS EXCLUSIVE MODE")
	require.NoError(t, err)
	var once sync.Once
	unlock = func() {
		once.Do(func() {
			require.NoError(t, tx.Rollback(ctx))
			require.NoError(t, conn.Close(ctx))
		})
	}
	t.Cleanup(unlock)
	return unlock
}
