package faults

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"

	"github.com/arguslabs/argus-otel/internal/testutil"
)

// killSetup holds traces in the detector for 2 s (no early release), so at
// any instant of the load the last ~2 s of acknowledged traces exist only in
// the buffer and its write-ahead log. The shipped shape: the log is the only
// durable copy (the exporter's queue is in memory, wait_for_result). It is
// written as a configuration of an older version on purpose: decision_wait,
// the deprecated alias of max_run_duration, still loads and works.
func killSetup(t *testing.T) setup {
	return setup{
		dir:      t.TempDir(),
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
	c.kill() // mid-load: requests in flight, traces buffered, writes in flight
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

// TestKill9WhileDatabaseLocked: the exporter cannot write (the database is
// locked by another writer) while traces are acknowledged, released by the
// detector and forwarded; SIGKILL then. Nothing is in the database and the
// exporter's queue is memory: the detector's write-ahead log alone holds
// the acknowledged spans, and the restart stores every one of them.
func TestKill9WhileDatabaseLocked(t *testing.T) {
	s := killSetup(t)
	c := startCollector(t, s)
	client := dial(t, c.grpcAddr)
	unlock := testutil.LockSQLite(t, s.dbPath())

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l, wait := load(ctx, t, client, 2, 41)
	time.Sleep(4 * time.Second) // the first ~2 s of traces are released and stuck in forwards
	c.kill()
	cancel()
	wait()
	acked, failing, _ := l.snapshot()
	require.Greater(t, len(acked), 50, "the load acknowledged too little to mean anything")
	t.Logf("acknowledged %d traces (%d failing) before SIGKILL", len(acked), len(failing))
	unlock()
	db := openSQLite(t, s.dbPath())
	require.Zero(t, count(t, db, "SELECT COUNT(*) FROM traces"), "nothing could be written while locked")

	c2 := startCollector(t, s)
	requireAllStored(t, db, acked, 60*time.Second)
	requireDetected(t, db, failing)
	require.True(t, c2.stop(30*time.Second))
}

// auditRequest is one OTLP logs request of n valid audit records with ids
// prefix-0 .. prefix-(n-1).
func auditRequest(prefix string, n int) plog.Logs {
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for i := range n {
		r := lrs.AppendEmpty()
		r.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
		a := r.Attributes()
		a.PutStr("audit.id", fmt.Sprintf("%s-%d", prefix, i))
		a.PutStr("audit.status", "SUCCESS")
		a.PutStr("audit.actor_type", "USER")
		a.PutStr("audit.actor_id", "u-1")
		a.PutStr("audit.target_type", "INVOICE")
	}
	return ld
}

// TestKill9KeepsAcknowledgedAuditRecords: the logs pipeline has no
// write-ahead log, so argus/audit keeps its persistent queue. Audit records
// acknowledged while the database is locked are in that queue only; after
// SIGKILL the restart writes every one.
func TestKill9KeepsAcknowledgedAuditRecords(t *testing.T) {
	s := setup{dir: t.TempDir()}
	c := startCollector(t, s)
	client := plogotlp.NewGRPCClient(dial(t, c.grpcAddr).conn)
	unlock := testutil.LockSQLite(t, s.dbPath())

	const requests, perRequest = 8, 5 // within queue_size (16): each is acknowledged
	for i := range requests {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := client.Export(ctx, plogotlp.NewExportRequestFromLogs(auditRequest(fmt.Sprintf("kill-audit-%d", i), perRequest)))
		cancel()
		require.NoError(t, err, "request %d acknowledged", i)
	}
	time.Sleep(500 * time.Millisecond) // a write attempt is under way
	c.kill()
	unlock()
	db := openSQLite(t, s.dbPath())
	require.Zero(t, count(t, db, "SELECT COUNT(*) FROM audit_logs"), "nothing could be written while locked")

	c2 := startCollector(t, s)
	deadline := time.Now().Add(60 * time.Second)
	for count(t, db, "SELECT COUNT(*) FROM audit_logs WHERE id LIKE 'kill-audit-%'") < requests*perRequest {
		require.True(t, time.Now().Before(deadline), "only %d of %d acknowledged audit records stored",
			count(t, db, "SELECT COUNT(*) FROM audit_logs WHERE id LIKE 'kill-audit-%'"), requests*perRequest)
		time.Sleep(250 * time.Millisecond)
	}
	require.Equal(t, requests*perRequest, count(t, db, "SELECT COUNT(*) FROM audit_logs"), "each once")
	require.True(t, c2.stop(30*time.Second))
}
