package faults

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// killSetup holds traces in the detector for 2 s (no early release), so at
// any instant of the load the last ~2 s of acknowledged traces exist only in
// the buffer and its write-ahead log.
func killSetup(t *testing.T) setup {
	return setup{
		dir:      t.TempDir(),
		wal:      true,
		detector: "decision_wait: 2s\n    root_quiet_period: 0s\n    tick: 100ms",
	}
}

// TestKill9LosesNothingAcknowledged: SIGKILL mid-load, restart on the same
// directories: every trace the collector acknowledged is stored with all its
// steps, none twice.
func TestKill9LosesNothingAcknowledged(t *testing.T) {
	s := killSetup(t)
	c := startCollector(t, s)
	client := dial(t, c.grpcAddr)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l, wait := load(ctx, t, client, 4, 9)
	time.Sleep(3 * time.Second)
	c.kill() // mid-load: requests in flight, traces buffered, queue non-empty
	cancel()
	wait()
	acked, failing, _ := l.snapshot()
	require.Greater(t, len(acked), 50, "the load acknowledged too little to mean anything")
	t.Logf("acknowledged %d traces (%d failing) before SIGKILL", len(acked), len(failing))

	c2 := startCollector(t, s)
	db := openSQLite(t, s.dbPath())
	requireAllStored(t, db, acked, 60*time.Second)
	requireDetected(t, db, failing)
	require.True(t, c2.stop(30*time.Second))
}
