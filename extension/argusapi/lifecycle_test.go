package argusapi

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/arguslabs/argus-otel/extension/argusapi/internal/metadata"
	"github.com/arguslabs/argus-otel/internal/testutil"
)

// TestComponentLifecycle is the lifecycle test mdatagen generates
// (generated_component_test.go; TestMetadata checks the factory type and the
// config struct): shutdown without start, and start then shutdown, on the
// default config (a free port, the SQLite file in a temporary directory).
func TestComponentLifecycle(t *testing.T) {
	f := NewFactory()
	cfg := f.CreateDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	cfg.Path = filepath.Join(t.TempDir(), "traces.db")
	set := extensiontest.NewNopSettings(metadata.Type)
	t.Run("shutdown", func(t *testing.T) {
		c, err := f.Create(context.Background(), set, cfg)
		require.NoError(t, err)
		require.NoError(t, c.Shutdown(context.Background()))
	})
	t.Run("lifecycle", func(t *testing.T) {
		c, err := f.Create(context.Background(), set, cfg)
		require.NoError(t, err)
		require.NoError(t, c.Start(context.Background(), componenttest.NewNopHost()))
		require.NoError(t, c.Shutdown(context.Background()))
	})
}
