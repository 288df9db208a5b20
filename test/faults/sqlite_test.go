package faults

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSQLiteLockedByAnotherWriter: another process holds an exclusive
// transaction on the database for longer than the writer's busy timeout
// (5 s) while traces arrive. The exporter waits, gets SQLITE_BUSY and
// retries while the detector's forward waits for the result (the spans
// stay in its write-ahead log); after the lock is released everything is
// there.
func TestSQLiteLockedByAnotherWriter(t *testing.T) {
	s := setup{dir: t.TempDir()}
	s.exporter = sqliteExporter(s.dbPath()) + `
    retry_on_failure:
      initial_interval: 200ms
      max_interval: 1s
      max_elapsed_time: 0s`
	c := startCollector(t, s)
	client := dial(t, c.grpcAddr)

	other, err := sql.Open("sqlite", "file:"+s.dbPath()+"?_pragma=busy_timeout(10000)")
	require.NoError(t, err)
	defer other.Close()
	ctx := context.Background()
	conn, err := other.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(ctx, "BEGIN EXCLUSIVE")
	require.NoError(t, err)
	locked := true
	defer func() {
		if locked {
			_, _ = conn.ExecContext(ctx, "ROLLBACK")
		}
	}()

	lctx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	l, wait := load(lctx, t, client, 2, 33)
	time.Sleep(7 * time.Second)
	// Nothing could be written meanwhile: the lock is ours.
	var n int
	require.NoError(t, conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM traces").Scan(&n))
	require.Zero(t, n)
	_, err = conn.ExecContext(ctx, "ROLLBACK")
	require.NoError(t, err)
	locked = false
	time.Sleep(time.Second)
	stopLoad()
	wait()
	acked, failing, _ := l.snapshot()
	require.Greater(t, len(acked), 50)

	require.True(t, c.running())
	require.Contains(t, c.logs.String(), "Exporting failed. Will retry", "the lock outlived the busy timeout")
	db := openSQLite(t, s.dbPath())
	requireAllStored(t, db, acked, 60*time.Second)
	requireDetected(t, db, failing)
	require.True(t, c.stop(30*time.Second))
}
