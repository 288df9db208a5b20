package store

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/arguslabs/argus-otel/internal/testutil"
)

// BenchmarkWriteBatchPostgresShape writes the load client's traffic (32 runs
// per op, the rows BenchmarkPostgresFloor stores) through WriteBatch, so the
// two compare on the same data: the gap is what the write path adds to the
// least work the schema needs.
func BenchmarkWriteBatchPostgresShape(b *testing.B) {
	data := newShapeBatch(b, shapeRunsPerOp)
	dsn := testutil.PostgresDSN(b)
	s := openStore(b, Config{Driver: DriverPostgres, DSN: dsn})
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	var nSteps, nSpans, nBytes int64
	op := 0
	cost := readServerCost(b, ctx, conn)
	for b.Loop() {
		b.StopTimer()
		batch := data.withIDs(fmt.Sprintf("w%06d-", op))
		op++
		b.StartTimer()
		if err := s.WriteBatch(ctx, batch); err != nil {
			b.Fatal(err)
		}
		nSteps, nSpans, nBytes = nSteps+int64(len(batch.Steps)), nSpans+data.spans, nBytes+data.stateBytes()
	}
	reportShape(b, nSteps, nSpans, nBytes)
	reportServer(b, ctx, conn, cost, nSteps)
}
