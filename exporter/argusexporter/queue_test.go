package argusexporter

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/arguslabs/argus-otel/exporter/argusexporter/internal/metadata"
	"github.com/arguslabs/argus-otel/internal/testutil"
)

type storageHost struct {
	exts map[component.ID]component.Component
}

func (h storageHost) GetExtensions() map[component.ID]component.Component { return h.exts }

// TestPersistentQueueSurvivesRestart: spans accepted while the database is
// locked stay in the persistent sending queue across a shutdown, and a new
// exporter instance on the same queue storage writes them.
func TestPersistentQueueSurvivesRestart(t *testing.T) {
	queueDir := t.TempDir()
	storageID := component.MustNewIDWithName("file_storage", "queue")
	host := storageHost{exts: map[component.ID]component.Component{storageID: &testutil.FileStorage{Dir: queueDir}}}

	cfg := backends[0].config(t)
	cfg.TimeoutConfig.Timeout = 300 * time.Millisecond
	cfg.RetryConfig.Enabled = true
	cfg.RetryConfig.InitialInterval = 20 * time.Millisecond
	cfg.RetryConfig.MaxInterval = 50 * time.Millisecond
	cfg.RetryConfig.MaxElapsedTime = 0 // until shutdown
	q := exporterhelper.NewDefaultQueueConfig()
	q.StorageID = &storageID
	q.NumConsumers = 1
	q.Batch = configoptional.None[exporterhelper.BatchConfig]()
	cfg.QueueConfig = configoptional.Some(q)

	start := func() *started {
		s := startExportersWithHost(t, cfg, host)
		return s
	}

	// Instance 1 starts (creating the schema), then the database is locked.
	s1 := start()
	d := backends[0].open(t, cfg)
	ctx := context.Background()
	lock, err := d.Conn(ctx)
	require.NoError(t, err)
	defer lock.Close()
	_, err = lock.ExecContext(ctx, "BEGIN EXCLUSIVE")
	require.NoError(t, err)

	b := langGraphRun("svc", time.Now().Add(-time.Minute), ragRun(false))
	require.NoError(t, s1.traces.ConsumeTraces(ctx, b.td), "accepted into the persistent queue")
	time.Sleep(400 * time.Millisecond) // at least one failed attempt
	s1.shutdown(t)

	var n int
	require.NoError(t, lock.QueryRowContext(ctx, "SELECT COUNT(*) FROM traces").Scan(&n))
	require.Zero(t, n, "nothing could be written while locked")
	entries, err := os.ReadDir(queueDir)
	require.NoError(t, err)
	require.NotEmpty(t, entries, "the queue persisted the request")
	_, err = lock.ExecContext(ctx, "ROLLBACK")
	require.NoError(t, err)

	// Instance 2 on the same queue storage delivers what instance 1 accepted.
	start()
	require.Eventually(t, func() bool {
		return d.count("SELECT COUNT(*) FROM traces WHERE id = ?", b.traceID) == 1
	}, 15*time.Second, 50*time.Millisecond)
	assert.Equal(t, 5, d.count("SELECT COUNT(*) FROM trace_steps WHERE trace_id = ?", b.traceID))
}

// TestFullQueueBlocks: with the default queue settings a full queue makes
// the caller wait (until its context ends) instead of refusing at once,
// and every request it accepted is written once the store is free again.
func TestFullQueueBlocks(t *testing.T) {
	queueDir := t.TempDir()
	storageID := component.MustNewIDWithName("file_storage", "queue")
	host := storageHost{exts: map[component.ID]component.Component{storageID: &testutil.FileStorage{Dir: queueDir}}}

	cfg := backends[0].config(t)
	cfg.TimeoutConfig.Timeout = 300 * time.Millisecond
	cfg.RetryConfig.Enabled = true
	cfg.RetryConfig.InitialInterval = 20 * time.Millisecond
	cfg.RetryConfig.MaxInterval = 50 * time.Millisecond
	cfg.RetryConfig.MaxElapsedTime = 0 // until shutdown
	q := createDefaultConfig().(*Config).QueueConfig.Get()
	require.True(t, q.BlockOnOverflow)
	q.StorageID = &storageID
	q.NumConsumers = 1
	q.QueueSize = 2
	cfg.QueueConfig = configoptional.Some(*q)
	s := startExportersWithHost(t, cfg, host)

	// Lock the database: the one consumer keeps retrying its request.
	d := backends[0].open(t, cfg)
	ctx := context.Background()
	lock, err := d.Conn(ctx)
	require.NoError(t, err)
	defer lock.Close()
	_, err = lock.ExecContext(ctx, "BEGIN EXCLUSIVE")
	require.NoError(t, err)

	var accepted []string
	var refused error
	for i := 0; i < 10 && refused == nil; i++ {
		b := langGraphRun("svc", time.Now().Add(-time.Minute), ragRun(false))
		cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		refused = s.traces.ConsumeTraces(cctx, b.td)
		cancel()
		if refused == nil {
			accepted = append(accepted, b.traceID)
		}
	}
	require.ErrorIs(t, refused, context.DeadlineExceeded, "waited for room instead of refusing")
	require.Len(t, accepted, 2, "queue_size requests were accepted")

	_, err = lock.ExecContext(ctx, "ROLLBACK")
	require.NoError(t, err)
	for _, id := range accepted {
		require.Eventually(t, func() bool {
			return d.count("SELECT COUNT(*) FROM traces WHERE id = ?", id) == 1
		}, 15*time.Second, 20*time.Millisecond)
	}
}

// instance is one configured exporter (one component id) with the halves
// the collector would create for its pipelines.
type instance struct {
	traces exporter.Traces
	logs   exporter.Logs
}

func startInstance(t *testing.T, id component.ID, cfg *Config, host component.Host, traces, logs bool) *instance {
	t.Helper()
	set := exportertest.NewNopSettings(metadata.Type)
	set.ID = id
	set.Logger = zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	ctx := context.Background()
	in := &instance{}
	var err error
	if traces {
		in.traces, err = NewFactory().CreateTraces(ctx, set, cfg)
		require.NoError(t, err)
		require.NoError(t, in.traces.Start(ctx, host))
	}
	if logs {
		in.logs, err = NewFactory().CreateLogs(ctx, set, cfg)
		require.NoError(t, err)
		require.NoError(t, in.logs.Start(ctx, host))
	}
	t.Cleanup(func() { in.shutdown(t) })
	return in
}

func (in *instance) shutdown(t *testing.T) {
	if in.traces != nil {
		require.NoError(t, in.traces.Shutdown(context.Background()))
		in.traces = nil
	}
	if in.logs != nil {
		require.NoError(t, in.logs.Shutdown(context.Background()))
		in.logs = nil
	}
}

// auditRecord is one valid audit record with the given id.
func auditRecord(id string) plog.Logs {
	ld := plog.NewLogs()
	r := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	r.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	a := r.Attributes()
	a.PutStr("audit.id", id)
	a.PutStr("audit.status", "SUCCESS")
	a.PutStr("audit.actor_type", "USER")
	a.PutStr("audit.actor_id", "u-1")
	a.PutStr("audit.target_type", "INVOICE")
	return ld
}

// waitQueue is the sending queue config.yaml ships for traces: in memory,
// the caller waits until its request is written or failed.
func waitQueue() configoptional.Optional[exporterhelper.QueueBatchConfig] {
	q := *createDefaultConfig().(*Config).QueueConfig.Get()
	q.WaitForResult = true
	q.Batch = configoptional.None[exporterhelper.BatchConfig]()
	return configoptional.Some(q)
}

// TestInstancesOnOneDatabaseShareAStore: config.yaml ships two exporters on
// one database, `argus` (traces, in-memory queue) and `argus/audit` (logs,
// persistent queue). They share one store, so one SQLite writer: both
// write concurrently without SQLITE_BUSY, the database is opened once (the
// second config names the SQLite file by a relative path) and closed when
// the last instance stops.
func TestInstancesOnOneDatabaseShareAStore(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		opens, closes := countOpens(t)

		queueDir := t.TempDir()
		storageID := component.MustNewIDWithName("file_storage", "queue")
		host := storageHost{exts: map[component.ID]component.Component{storageID: &testutil.FileStorage{Dir: queueDir}}}

		tracesCfg := be.config(t)
		tracesCfg.QueueConfig = waitQueue()
		auditCfg := be.config(t) // another fresh database, pointed at the first below
		auditCfg.Path, auditCfg.DSN = tracesCfg.Path, tracesCfg.DSN
		if !strings.EqualFold(be.name, "postgres") {
			wd, err := os.Getwd()
			require.NoError(t, err)
			rel, err := filepath.Rel(wd, tracesCfg.Path)
			require.NoError(t, err)
			auditCfg.Path = rel
		}
		q := *createDefaultConfig().(*Config).QueueConfig.Get()
		q.StorageID = &storageID
		q.Batch = configoptional.None[exporterhelper.BatchConfig]()
		auditCfg.QueueConfig = configoptional.Some(q)
		auditCfg.RetryConfig.Enabled = true

		tr := startInstance(t, component.NewID(metadata.Type), tracesCfg, host, true, false)
		au := startInstance(t, component.MustNewIDWithName(metadata.Type.String(), "audit"), auditCfg, host, false, true)
		require.Equal(t, int32(1), opens.Load(), "one store for the database")

		ctx := context.Background()
		var wg sync.WaitGroup
		runs := make([]built, 8)
		errs := make([]error, 2*len(runs))
		for i := range runs {
			runs[i] = langGraphRun("svc", time.Now().Add(-time.Minute), ragRun(i%2 == 0))
			wg.Go(func() { errs[2*i] = tr.traces.ConsumeTraces(ctx, runs[i].td) })
			wg.Go(func() { errs[2*i+1] = au.logs.ConsumeLogs(ctx, auditRecord(fmt.Sprintf("shared-store-%d", i))) })
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		d := be.open(t, tracesCfg)
		for _, r := range runs {
			// wait_for_result: written when ConsumeTraces returned.
			assert.Equal(t, 1, d.count("SELECT COUNT(*) FROM traces WHERE id = ?", r.traceID))
		}
		// The audit records come through the persistent queue.
		require.Eventually(t, func() bool {
			return d.count("SELECT COUNT(*) FROM audit_logs WHERE id LIKE 'shared-store-%'") == len(runs)
		}, 15*time.Second, 20*time.Millisecond)

		tr.shutdown(t)
		assert.Equal(t, int32(0), closes.Load(), "the audit instance still uses the store")
		au.shutdown(t)
		assert.Equal(t, int32(1), closes.Load())
	})
}

// TestRetentionOfInstancesOnOneDatabase: one database has one purge loop;
// two instances asking for different retentions is a start error, while an
// instance without retention leaves the other's in place.
func TestRetentionOfInstancesOnOneDatabase(t *testing.T) {
	a := backends[0].config(t)
	a.Retention = time.Hour
	b := backends[0].config(t)
	b.Path = a.Path
	startInstance(t, component.NewID(metadata.Type), a, componenttest.NewNopHost(), true, false)

	b.Retention = 2 * time.Hour
	lg, err := NewFactory().CreateLogs(context.Background(), exportertestSettings(), b)
	require.NoError(t, err)
	err = lg.Start(context.Background(), componenttest.NewNopHost())
	require.ErrorContains(t, err, "retention: 2h0m0s differs from the 1h0m0s of another argus exporter on the same database")
	require.NoError(t, lg.Shutdown(context.Background()))

	b.Retention = 0
	startInstance(t, component.MustNewIDWithName(metadata.Type.String(), "audit"), b, componenttest.NewNopHost(), false, true)
	sharedMu.Lock()
	s := sharedStores[storeKey(a)]
	sharedMu.Unlock()
	require.NotNil(t, s)
	assert.Equal(t, 2, s.refs)
	assert.Equal(t, time.Hour, s.retention)
}

// TestWaitForResultReturnsOnceStored is what the detector's write-ahead log
// relies on with the shipped queue (wait_for_result): ConsumeTraces retries
// inside the call while the database is locked and returns nil only once
// the rows are committed, so the processor releases a record only for
// stored spans.
func TestWaitForResultReturnsOnceStored(t *testing.T) {
	cfg := backends[0].config(t)
	cfg.QueueConfig = waitQueue()
	cfg.TimeoutConfig.Timeout = 300 * time.Millisecond
	cfg.RetryConfig.Enabled = true
	cfg.RetryConfig.InitialInterval = 20 * time.Millisecond
	cfg.RetryConfig.MaxInterval = 50 * time.Millisecond
	cfg.RetryConfig.MaxElapsedTime = 0
	in := startInstance(t, component.NewID(metadata.Type), cfg, componenttest.NewNopHost(), true, false)
	unlock := testutil.LockSQLite(t, cfg.Path)

	b := langGraphRun("svc", time.Now().Add(-time.Minute), ragRun(true))
	done := make(chan error, 1)
	go func() { done <- in.traces.ConsumeTraces(context.Background(), b.td) }()
	select {
	case err := <-done:
		t.Fatalf("ConsumeTraces returned %v while the database was locked", err)
	case <-time.After(time.Second): // several attempts failed meanwhile
	}
	unlock()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("ConsumeTraces did not return after the lock was released")
	}
	d := backends[0].open(t, cfg)
	assert.Equal(t, 1, d.count("SELECT COUNT(*) FROM traces WHERE id = ?", b.traceID), "stored before the call returned")
	assert.Equal(t, 5, d.count("SELECT COUNT(*) FROM trace_steps WHERE trace_id = ?", b.traceID))
}

// TestWaitForResultFailuresAreRetryable: when the retries run out or the
// caller's context ends, the call fails with an error that is not
// permanent, so the detector keeps the spans (and their log records) and
// offers them again instead of dropping them.
func TestWaitForResultFailuresAreRetryable(t *testing.T) {
	cfg := backends[0].config(t)
	cfg.QueueConfig = waitQueue()
	cfg.TimeoutConfig.Timeout = 200 * time.Millisecond
	cfg.RetryConfig.Enabled = true
	cfg.RetryConfig.InitialInterval = 20 * time.Millisecond
	cfg.RetryConfig.MaxInterval = 50 * time.Millisecond
	cfg.RetryConfig.MaxElapsedTime = 500 * time.Millisecond
	in := startInstance(t, component.NewID(metadata.Type), cfg, componenttest.NewNopHost(), true, false)
	unlock := testutil.LockSQLite(t, cfg.Path)

	b := langGraphRun("svc", time.Now().Add(-time.Minute), ragRun(false))
	err := in.traces.ConsumeTraces(context.Background(), b.td)
	require.ErrorContains(t, err, "no more retries left")
	assert.False(t, consumererror.IsPermanent(err), "%v", err)

	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	err = in.traces.ConsumeTraces(ctx, b.td)
	require.Error(t, err)
	assert.False(t, consumererror.IsPermanent(err), "%v", err)

	unlock()
	// Offered again until taken, as the detector does: the 200 ms timeout
	// above is for the locked database, and one write on a loaded 2-core
	// machine can outlast it and its retries.
	deadline := time.Now().Add(30 * time.Second)
	for err = in.traces.ConsumeTraces(context.Background(), b.td); err != nil && time.Now().Before(deadline); err = in.traces.ConsumeTraces(context.Background(), b.td) {
		time.Sleep(10 * time.Millisecond)
	}
	require.NoError(t, err, "stored once the lock is gone")
	d := backends[0].open(t, cfg)
	assert.Equal(t, 1, d.count("SELECT COUNT(*) FROM traces WHERE id = ?", b.traceID))
}

// TestHelperLogsAreSampled: exporterhelper logs every failed request; with
// the database locked and many requests failing, each of its lines appears
// at most helperLogFirst times, while the failures still reach the caller.
func TestHelperLogsAreSampled(t *testing.T) {
	cfg := backends[0].config(t)
	cfg.QueueConfig = waitQueue()
	cfg.TimeoutConfig.Timeout = 100 * time.Millisecond
	cfg.RetryConfig.Enabled = false
	core, logs := observer.New(zapcore.InfoLevel)
	set := exportertest.NewNopSettings(metadata.Type)
	set.Logger = zap.New(core)
	ctx := context.Background()
	exp, err := NewFactory().CreateTraces(ctx, set, cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(ctx, componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, exp.Shutdown(context.Background())) })
	testutil.LockSQLite(t, cfg.Path)

	const requests = 12
	for i := range requests {
		b := langGraphRun("svc", time.Now().Add(-time.Duration(i+1)*time.Minute), ragRun(false))
		require.Error(t, exp.ConsumeTraces(ctx, b.td), "request %d while the database is locked", i)
	}
	perMessage := map[string]int{}
	for _, e := range logs.All() {
		perMessage[e.Message]++
	}
	require.NotEmpty(t, perMessage, "the failures are logged")
	for msg, n := range perMessage {
		assert.LessOrEqual(t, n, helperLogFirst, "%q logged %d times for %d failed requests", msg, n, requests)
	}
}
