package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/arguslabs/argus-otel/internal/testutil"
)

// TestPoisonTraceDoesNotStallPostgres is the case through the
// built binary on a real PostgreSQL: a root span named with 3,000 random
// characters (once refused by PostgreSQL, 54000 index row too large, and
// retried forever with every trace of its detector shard), then 40 normal
// traces. All 41 are stored within a minute, the long name cut to 512
// bytes.
func TestPoisonTraceDoesNotStallPostgres(t *testing.T) {
	dsn := testutil.PostgresDSN(t)
	c := startCollector(t, setup{dir: t.TempDir(), exporter: postgresExporter(dsn), metrics: true})
	client := dial(t, c.grpcAddr)
	ctx := context.Background()

	name := make([]byte, 3000)
	for i := range name {
		name[i] = byte('a' + rand.N(26))
	}
	poison := "90000000000000000000000000000001"
	td := langgraphTrace(poison, []string{"plan", "answer"}, nil)
	td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).SetName(string(name))
	require.NoError(t, client.send(ctx, td))
	ids := []string{poison}
	for i := 0; i < 40; i++ {
		id := fmt.Sprintf("91%030x", i+1)
		require.NoError(t, client.send(ctx, langgraphTrace(id, []string{"plan", "retrieve", "answer"}, nil)))
		ids = append(ids, id)
	}

	db := openPostgres(t, dsn)
	require.Eventually(t, func() bool {
		var n int
		return db.QueryRow("SELECT COUNT(*) FROM traces WHERE id = ANY($1)", ids).Scan(&n) == nil && n == len(ids)
	}, 60*time.Second, 200*time.Millisecond, "all 41 traces stored within a minute")
	var pipeline string
	require.NoError(t, db.QueryRow("SELECT pipeline_name FROM traces WHERE id = $1", poison).Scan(&pipeline))
	require.LessOrEqual(t, len(pipeline), 512)
	require.Equal(t, string(name[:len(pipeline)-len("…")])+"…", pipeline)
	require.Equal(t, 40*3, count(t, db, "SELECT COUNT(*) FROM trace_steps WHERE trace_id <> $1", poison))
	require.True(t, c.healthy())
}
