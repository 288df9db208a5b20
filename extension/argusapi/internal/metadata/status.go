// Package metadata is the hand-written equivalent of what mdatagen would
// generate from ../../metadata.yaml (TestMetadata holds the two together):
// the component type and its stability.
package metadata

import "go.opentelemetry.io/collector/component"

var (
	// Type is what users write under `extensions:`.
	Type = component.MustNewType("argusapi")
	// ScopeName names the component's own telemetry.
	ScopeName = "github.com/arguslabs/argus-otel/extension/argusapi"
)

// ExtensionStability is the stability of the extension.
const ExtensionStability = component.StabilityLevelAlpha
