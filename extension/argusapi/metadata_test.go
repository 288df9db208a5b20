package argusapi

import (
	"testing"

	"go.opentelemetry.io/collector/component"

	"github.com/arguslabs/argus-otel/extension/argusapi/internal/metadata"
	"github.com/arguslabs/argus-otel/internal/metadatatest"
)

// TestMetadata holds metadata.yaml, internal/metadata and README.md in
// agreement (the project's stand-in for mdatagen).
func TestMetadata(t *testing.T) {
	metadatatest.Check(t, metadatatest.Component{
		Dir:       ".",
		Type:      metadata.Type,
		ScopeName: metadata.ScopeName,
		Stability: map[string]component.StabilityLevel{"extension": metadata.ExtensionStability},
		Config:    createDefaultConfig(),
	})
}
