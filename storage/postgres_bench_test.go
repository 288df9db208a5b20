package storage

import (
	"context"
	"fmt"
	"testing"

	"github.com/arguslabs/argus-otel/internal/testutil"
)

// BenchmarkWriteBatchPostgresShape writes the load client's traffic (32 runs
// per op, the rows BenchmarkPostgresFloor stores) through WriteBatch, so the
// two compare on the same data: the gap is what the write path adds to the
// least work the schema needs.
func BenchmarkWriteBatchPostgresShape(b *testing.B) {
	data := newShapeBatch(b, shapeRunsPerOp)
	s := openStore(b, Config{Driver: DriverPostgres, DSN: testutil.PostgresDSN(b)})
	ctx := context.Background()
	var nSteps, nSpans, nBytes int64
	op := 0
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
}
