package argusdetector

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/arguslabs/argus-otel/internal/metadatatest"
	"github.com/arguslabs/argus-otel/processor/argusdetector/internal/metadata"
)

// TestComponentLifecycle is the lifecycle test mdatagen generates
// (generated_component_test.go; TestMetadata checks the factory type and the
// config struct): shutdown without start, and a whole lifecycle with one
// request, on the default config.
func TestComponentLifecycle(t *testing.T) {
	f := NewFactory()
	set := processortest.NewNopSettings(metadata.Type)
	t.Run("traces-shutdown", func(t *testing.T) {
		c, err := f.CreateTraces(context.Background(), set, f.CreateDefaultConfig(), consumertest.NewNop())
		require.NoError(t, err)
		require.NoError(t, c.Shutdown(context.Background()))
	})
	t.Run("traces-lifecycle", func(t *testing.T) {
		sink := new(consumertest.TracesSink)
		c, err := f.CreateTraces(context.Background(), set, f.CreateDefaultConfig(), sink)
		require.NoError(t, err)
		require.NoError(t, c.Start(context.Background(), componenttest.NewNopHost()))
		require.NoError(t, c.ConsumeTraces(context.Background(), metadatatest.LifecycleTraces()))
		require.NoError(t, c.Shutdown(context.Background()))
		require.Equal(t, 1, sink.SpanCount(), "shutdown releases the buffered span")
	})
}
