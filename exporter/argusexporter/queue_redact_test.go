package argusexporter

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/arguslabs/argus-otel/internal/testutil"
)

// TestPersistentQueueHoldsNoSecret: with a persistent sending queue, the
// requests are redacted before the queue writes them. The database is
// locked so both requests (traces and logs) stay in the queue; every
// value the queue's storage holds is then read: "[REDACTED]" is there,
// the secrets are not.
func TestPersistentQueueHoldsNoSecret(t *testing.T) {
	queueDir := t.TempDir()
	storageID := component.MustNewIDWithName("file_storage", "queue")
	host := storageHost{exts: map[component.ID]component.Component{storageID: &testutil.FileStorage{Dir: queueDir}}}
	cfg := backends[0].config(t)
	cfg.TimeoutConfig.Timeout = 200 * time.Millisecond
	q := exporterhelper.NewDefaultQueueConfig()
	q.StorageID = &storageID
	q.Batch = configoptional.None[exporterhelper.BatchConfig]()
	cfg.QueueConfig = configoptional.Some(q)
	s := startExportersWithHost(t, cfg, host)
	unlock := testutil.LockSQLite(t, cfg.Path)
	defer unlock()

	ctx := context.Background()
	b := langGraphRun("svc", time.Now().Add(-time.Minute), ragRun(false))
	b.nodes[0].Attributes().PutStr("input.value", `{"question":"q","password":"S3CRET-state"}`)
	b.nodes[1].Attributes().PutStr("http.request.header.authorization", "Bearer S3CRET-attr")
	require.NoError(t, s.traces.ConsumeTraces(ctx, b.td))
	ld := plog.NewLogs()
	rec := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	rec.Attributes().PutStr("audit.metadata", `{"api_key":"S3CRET-audit"}`)
	rec.Attributes().PutStr("audit.actor_id", "a")
	require.NoError(t, s.logs.ConsumeLogs(ctx, ld))

	files, err := filepath.Glob(filepath.Join(queueDir, "*.json"))
	require.NoError(t, err)
	require.Len(t, files, 2, "a queue file for traces and one for logs")
	redacted := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		var values map[string][]byte // the stand-in keeps values base64 in JSON
		require.NoError(t, json.Unmarshal(raw, &values))
		for k, v := range values {
			for _, secret := range []string{"S3CRET-state", "S3CRET-attr", "S3CRET-audit"} {
				require.False(t, bytes.Contains(v, []byte(secret)), "%s key %s holds %s", filepath.Base(f), k, secret)
			}
			redacted += bytes.Count(v, []byte("[REDACTED]"))
		}
	}
	require.GreaterOrEqual(t, redacted, 3, "the requests are in the queue, redacted")
}
