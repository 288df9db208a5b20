package argusdetector

import (
	"testing"

	"go.opentelemetry.io/collector/component"

	"github.com/arguslabs/argus-otel/internal/annotation"
	"github.com/arguslabs/argus-otel/internal/metadatatest"
	"github.com/arguslabs/argus-otel/internal/vocab"
	"github.com/arguslabs/argus-otel/processor/argusdetector/internal/metadata"
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
			"reason":      {reasonRootQuiet, reasonMaxDuration, reasonEvicted, reasonShutdown},
			"skip_reason": {annotation.SkipNotAgentRun},
			"layer":       vocab.Layers,
			"severity":    vocab.Severities,
			"status":      vocab.Statuses,
			"operation":   {opRestore, opSave, opAppend, opDelete},
		},
	})
}
