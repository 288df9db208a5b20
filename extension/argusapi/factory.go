// Package argusapi is a collector extension serving the Argus HTTP API: the
// runs, detections and reports the argus exporter stored, and the audit-log
// service's REST API (create and query audit logs), over the same SQLite or
// PostgreSQL database. The server is a confighttp server, so TLS, CORS,
// authenticator extensions and request size limits are configured as for
// any collector HTTP endpoint.
package argusapi

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"

	"github.com/arguslabs/argus-otel/extension/argusapi/internal/metadata"
)

// NewFactory creates the factory of the `argusapi` extension.
func NewFactory() extension.Factory {
	return extension.NewFactory(metadata.Type, createDefaultConfig, create, metadata.ExtensionStability)
}

func create(_ context.Context, set extension.Settings, cfg component.Config) (extension.Extension, error) {
	return newAPI(cfg.(*Config), set), nil
}
