// Package metadata is the hand-written equivalent of what mdatagen would
// generate from ../../metadata.yaml (TestMetadata holds the two together):
// the component type, its stability and its internal telemetry instruments.
package metadata

import "go.opentelemetry.io/collector/component"

var (
	// Type is what users write under `exporters:`.
	Type = component.MustNewType("argus")
	// ScopeName is the instrumentation scope of the exporter's telemetry.
	ScopeName = "github.com/arguslabs/argus-otel/exporter/argusexporter"
)

// Stability of the exporter's pipelines.
const (
	TracesStability = component.StabilityLevelAlpha
	LogsStability   = component.StabilityLevelAlpha
)
