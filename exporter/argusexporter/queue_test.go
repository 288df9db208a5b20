package argusexporter

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	xstorage "go.opentelemetry.io/collector/extension/xextension/storage"
)

// fileStorage is a small file-backed storage extension (the contrib
// file_storage is not a dependency of this module): each client keeps its
// keys in one JSON file, rewritten atomically on every change, so what the
// persistent queue stored survives a new process-like instance.
type fileStorage struct{ dir string }

func (fileStorage) Start(context.Context, component.Host) error { return nil }
func (fileStorage) Shutdown(context.Context) error              { return nil }

func (f fileStorage) GetClient(_ context.Context, kind component.Kind, id component.ID, name string) (xstorage.Client, error) {
	c := &fileClient{path: filepath.Join(f.dir, kind.String()+"_"+id.Type().String()+"_"+id.Name()+"_"+name+".json"), kv: map[string][]byte{}}
	b, err := os.ReadFile(c.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		if err := json.Unmarshal(b, &c.kv); err != nil {
			return nil, err
		}
	}
	return c, nil
}

type fileClient struct {
	mu   sync.Mutex
	path string
	kv   map[string][]byte
}

func (c *fileClient) Get(ctx context.Context, key string) ([]byte, error) {
	op := xstorage.GetOperation(key)
	err := c.Batch(ctx, op)
	return op.Value, err
}

func (c *fileClient) Set(ctx context.Context, key string, value []byte) error {
	return c.Batch(ctx, xstorage.SetOperation(key, value))
}

func (c *fileClient) Delete(ctx context.Context, key string) error {
	return c.Batch(ctx, xstorage.DeleteOperation(key))
}

func (c *fileClient) Batch(_ context.Context, ops ...*xstorage.Operation) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	changed := false
	for _, op := range ops {
		switch op.Type {
		case xstorage.Get:
			if v, ok := c.kv[op.Key]; ok {
				op.Value = append([]byte(nil), v...)
			} else {
				op.Value = nil
			}
		case xstorage.Set:
			c.kv[op.Key] = append([]byte(nil), op.Value...)
			changed = true
		case xstorage.Delete:
			delete(c.kv, op.Key)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	b, err := json.Marshal(c.kv)
	if err != nil {
		return err
	}
	tmp := c.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, c.path)
}

func (c *fileClient) Close(context.Context) error { return nil }

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
	host := storageHost{exts: map[component.ID]component.Component{storageID: fileStorage{dir: queueDir}}}

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
	host := storageHost{exts: map[component.ID]component.Component{storageID: fileStorage{dir: queueDir}}}

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
