// Package metadata holds the component identity declared in metadata.yaml
// (hand-written; the project does not run mdatagen).
package metadata

import (
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
)

var (
	// Type is what users write under `exporters:`.
	Type = component.MustNewType("argus")
	// ScopeName names the meter of the exporter's own telemetry.
	ScopeName = "github.com/arguslabs/argus-otel/exporter/argusexporter"
)

const (
	TracesStability = component.StabilityLevelAlpha
	LogsStability   = component.StabilityLevelAlpha
)

// NewDefaultSendingQueueConfig returns the sending queue default declared in metadata.yaml.
func NewDefaultSendingQueueConfig() configoptional.Optional[exporterhelper.QueueBatchConfig] {
	return configoptional.Some(exporterhelper.NewDefaultQueueConfig())
}
