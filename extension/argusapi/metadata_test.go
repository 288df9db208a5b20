package argusapi

import (
	"testing"

	"github.com/arguslabs/argus-otel/extension/argusapi/internal/metadata"
	"github.com/arguslabs/argus-otel/internal/metadatatest"
)

// TestMetadata holds metadata.yaml, internal/metadata and README.md in
// agreement (the project's stand-in for mdatagen).
func TestMetadata(t *testing.T) {
	metadatatest.Check(t, metadatatest.Component{
		Dir:       ".",
		Factory:   NewFactory(),
		ScopeName: metadata.ScopeName,
	})
}
