// Package metadata holds the component identity declared in metadata.yaml
// (hand-written; the project does not run mdatagen).
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
