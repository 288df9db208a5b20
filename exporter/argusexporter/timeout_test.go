package argusexporter

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumererror"
)

func TestWriteTimeoutScalesWithTheRequest(t *testing.T) {
	e := &argusExporter{cfg: createDefaultConfig().(*Config)}
	base := e.cfg.TimeoutConfig.Timeout
	require.Positive(t, base)
	for spans, want := range map[int]time.Duration{
		0: base, 1: base, timeoutSpans: base,
		timeoutSpans + 1: 2 * base,
		100_001:          13 * base, // the 100k-span trace of test/faults
	} {
		assert.Equal(t, want, e.writeTimeout(spans), "%d spans", spans)
	}
	e.cfg.TimeoutConfig.Timeout = 0
	assert.Zero(t, e.writeTimeout(100_001), "timeout 0 sets no deadline")
}

// The traces exporter applies the configured timeout itself (exporterhelper's
// is off for traces): a write out of time is a transient error, nothing
// dropped.
func TestWriteTimeoutApplies(t *testing.T) {
	cfg := backends[0].config(t)
	cfg.TimeoutConfig.Timeout = time.Nanosecond
	s := startExporters(t, cfg)
	b := langGraphRun("svc", time.Now(), ragRun(false))
	err := s.traces.ConsumeTraces(context.Background(), b.td)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.False(t, consumererror.IsPermanent(err))
	assert.Zero(t, s.counter(t, "otelcol_argusexporter_items_dropped", "", ""))
}
