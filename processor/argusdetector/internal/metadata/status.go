// Package metadata is the hand-written equivalent of what mdatagen would
// generate from ../../metadata.yaml (TestMetadata holds the two together):
// the component type, its stability and its internal telemetry instruments.
package metadata

import "go.opentelemetry.io/collector/component"

var (
	// Type is the component type used in collector configuration.
	Type = component.MustNewType("argusdetector")
	// ScopeName is the instrumentation scope of the processor's telemetry.
	ScopeName = "github.com/arguslabs/argus-otel/processor/argusdetector"
)

// TracesStability is the stability of the traces pipeline of the processor.
const TracesStability = component.StabilityLevelAlpha
