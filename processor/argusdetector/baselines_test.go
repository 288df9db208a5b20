package argusdetector

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/attribute"

	"github.com/arguslabs/argus-otel/internal/testutil"
	"github.com/arguslabs/argus-otel/processor/argusdetector/internal/metadata"
)

// fileStorage is the file-backed stand-in for the contrib file_storage
// extension, shared with the exporter's tests.
type fileStorage = testutil.FileStorage

type hostWith map[component.ID]component.Component

func (h hostWith) GetExtensions() map[component.ID]component.Component { return h }

var storageID = component.MustNewIDWithName("file_storage", "argus")

func storedBaselines(t *testing.T, fs *fileStorage) map[string]any {
	t.Helper()
	c, err := fs.GetClient(context.Background(), component.KindProcessor, component.NewID(metadata.Type), "")
	require.NoError(t, err)
	data, err := c.Get(context.Background(), baselineKey)
	require.NoError(t, err)
	if data == nil {
		return nil
	}
	var snap map[string]any
	require.NoError(t, json.Unmarshal(data, &snap))
	return snap
}

func TestBaselinesPersistAcrossRestarts(t *testing.T) {
	fs := &fileStorage{Dir: t.TempDir()}
	host := hostWith{storageID: fs}
	cfg := testConfig()
	cfg.RootQuietPeriod = 10 * time.Millisecond
	cfg.Baselines.Storage = &storageID
	cfg.Baselines.SaveInterval = 20 * time.Millisecond

	h := start(t, cfg, host, func(p *argusProcessor) { p.mapRuns = stubMapper })
	for i := 1; i <= 3; i++ {
		h.consume(t, spans(root(i), span{trace: i, n: 1, parent: 0, name: "retrieve"}))
	}
	h.waitSpans(t, 6)
	// The periodic save writes the three observed runs before any shutdown.
	require.Eventually(t, func() bool {
		snap := storedBaselines(t, fs)
		return snap != nil && len(snap["keys"].([]any)) == 1 &&
			len(snap["keys"].([]any)[0].(map[string]any)["duration_ms"].([]any)) == 3
	}, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, h.p.Shutdown(context.Background()))
	saved := storedBaselines(t, fs)

	// A restart restores them: saving again without new runs writes the same.
	h2 := start(t, cfg, host, func(p *argusProcessor) { p.mapRuns = stubMapper })
	require.Equal(t, 1, h2.p.baselines.base.Len())
	h2.consume(t, spans(root(9), span{trace: 9, n: 1, parent: 0, name: "retrieve"}))
	h2.waitSpans(t, 2)
	require.NoError(t, h2.p.Shutdown(context.Background()))
	after := storedBaselines(t, fs)
	key := after["keys"].([]any)[0].(map[string]any)
	assert.Len(t, key["duration_ms"], 4, "3 restored samples + 1 new")
	assert.Equal(t, saved["version"], after["version"])
	assert.EqualValues(t, 0, h2.sum(t, metadata.MetricBaselineErrors))
}

func TestBaselinesCorruptSnapshotStartsEmpty(t *testing.T) {
	fs := &fileStorage{Dir: t.TempDir()}
	c, err := fs.GetClient(context.Background(), component.KindProcessor, component.NewID(metadata.Type), "")
	require.NoError(t, err)
	require.NoError(t, c.Set(context.Background(), baselineKey, []byte(`{"version": 1, "keys": [`)))

	cfg := testConfig()
	cfg.Baselines.Storage = &storageID
	h := start(t, cfg, hostWith{storageID: fs})
	assert.Equal(t, 0, h.p.baselines.base.Len())
	assert.EqualValues(t, 1, h.sum(t, metadata.MetricBaselineErrors, attribute.String("operation", "restore")))
	require.NoError(t, h.p.Shutdown(context.Background()))
	assert.NotNil(t, storedBaselines(t, fs), "a valid snapshot replaces the corrupt one at shutdown")
}

// A snapshot saved by an earlier version (version 1: metric samples only,
// internal/detect/testdata/baselines_v1.json) restores at start and is
// saved back in the current version, with update shapes from then on.
func TestBaselinesRestoreVersion1Snapshot(t *testing.T) {
	old, err := os.ReadFile(filepath.Join(testutil.ModuleRoot(t), "internal", "detect", "testdata", "baselines_v1.json"))
	require.NoError(t, err)
	fs := &fileStorage{Dir: t.TempDir()}
	c, err := fs.GetClient(context.Background(), component.KindProcessor, component.NewID(metadata.Type), "")
	require.NoError(t, err)
	require.NoError(t, c.Set(context.Background(), baselineKey, old))

	cfg := testConfig()
	cfg.Baselines.Storage = &storageID
	h := start(t, cfg, hostWith{storageID: fs})
	assert.Equal(t, 5, h.p.baselines.base.Len())
	require.NoError(t, h.p.Shutdown(context.Background()))
	assert.EqualValues(t, 0, h.sum(t, metadata.MetricBaselineErrors))
	saved := storedBaselines(t, fs)
	assert.EqualValues(t, 2, saved["version"])
	assert.Len(t, saved["keys"], 5)
}

func TestBaselinesStorageMustExist(t *testing.T) {
	cfg := testConfig()
	cfg.Baselines.Storage = &storageID
	p, err := NewFactory().CreateTraces(context.Background(), processortestSettings(), cfg, nil)
	require.NoError(t, err)
	err = p.Start(context.Background(), hostWith{})
	require.ErrorContains(t, err, `baselines.storage: extension "file_storage/argus" not found`)

	notStorage := component.MustNewID("health_check")
	cfg.Baselines.Storage = &notStorage
	err = p.Start(context.Background(), hostWith{notStorage: &fileStorageless{}})
	require.ErrorContains(t, err, "is not a storage extension")
	require.NoError(t, p.Shutdown(context.Background()))
}

type fileStorageless struct {
	component.StartFunc
	component.ShutdownFunc
}
