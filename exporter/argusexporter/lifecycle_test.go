package argusexporter

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exportertest"

	"github.com/arguslabs/argus-otel/exporter/argusexporter/internal/metadata"
	"github.com/arguslabs/argus-otel/internal/metadatatest"
)

// TestComponentLifecycle is the lifecycle test mdatagen generates
// (generated_component_test.go; TestMetadata checks the factory type and the
// config struct): shutdown without start, and a whole lifecycle with one
// request per signal, on the default config (its SQLite file in a
// temporary directory).
func TestComponentLifecycle(t *testing.T) {
	f := NewFactory()
	for _, tc := range []struct {
		name    string
		create  func(context.Context, exporter.Settings, component.Config) (component.Component, error)
		consume func(component.Component) error
	}{
		{"traces", func(ctx context.Context, set exporter.Settings, cfg component.Config) (component.Component, error) {
			return f.CreateTraces(ctx, set, cfg)
		}, func(c component.Component) error {
			return c.(exporter.Traces).ConsumeTraces(context.Background(), metadatatest.LifecycleTraces())
		}},
		{"logs", func(ctx context.Context, set exporter.Settings, cfg component.Config) (component.Component, error) {
			return f.CreateLogs(ctx, set, cfg)
		}, func(c component.Component) error {
			return c.(exporter.Logs).ConsumeLogs(context.Background(), metadatatest.LifecycleLogs())
		}},
	} {
		cfg := f.CreateDefaultConfig().(*Config)
		cfg.Path = filepath.Join(t.TempDir(), "traces.db")
		set := exportertest.NewNopSettings(metadata.Type)
		t.Run(tc.name+"-shutdown", func(t *testing.T) {
			c, err := tc.create(context.Background(), set, cfg)
			require.NoError(t, err)
			require.NoError(t, c.Shutdown(context.Background()))
		})
		t.Run(tc.name+"-lifecycle", func(t *testing.T) {
			c, err := tc.create(context.Background(), set, cfg)
			require.NoError(t, err)
			require.NoError(t, c.Start(context.Background(), componenttest.NewNopHost()))
			require.NoError(t, tc.consume(c))
			require.NoError(t, c.Shutdown(context.Background()))
		})
	}
}
