package argusexporter

import (
	"testing"

	"go.opentelemetry.io/collector/component"

	"github.com/arguslabs/argus-otel/exporter/argusexporter/internal/metadata"
	"github.com/arguslabs/argus-otel/internal/metadatatest"
	"github.com/arguslabs/argus-otel/store"
)

// TestMetadata holds metadata.yaml, internal/metadata and README.md in
// agreement (the project's stand-in for mdatagen).
func TestMetadata(t *testing.T) {
	metadatatest.Check(t, metadatatest.Component{
		Dir:       ".",
		Factory:   NewFactory(),
		ScopeName: metadata.ScopeName,
		NewTelemetry: func(set component.TelemetrySettings) (any, error) {
			return metadata.NewTelemetryBuilder(set)
		},
		Enums: map[string][]string{
			"table":  {store.TableTraces, store.TableSteps, store.TableDetections, store.TableForensics, store.TableAuditLogs},
			"reason": {dropPermanent, dropPanic, dropInvalidAudit, dropUnmapped},
		},
	})
}
