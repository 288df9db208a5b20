package argusapi

import (
	"context"
	"net/http"
	"time"

	"github.com/arguslabs/argus-otel/extension/argusapi/internal/metadata"
	"github.com/arguslabs/argus-otel/report"
)

// healthTimeout bounds the database ping of /health.
const healthTimeout = 3 * time.Second

type healthBody struct {
	Status   string `json:"status"`
	Database string `json:"database"`
	Error    string `json:"error,omitempty"`
	Details  string `json:"details,omitempty"`
}

// health: GET /health pings the database: 200 when it answers, else 503.
func (a *api) health(w http.ResponseWriter, r *http.Request) error {
	if _, err := parseParams(r); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	if err := a.store.Ping(ctx); err != nil {
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, healthBody{Status: "unavailable", Database: a.store.Driver(),
			Error: "database unreachable", Details: err.Error()})
		return nil
	}
	writeJSON(w, http.StatusOK, healthBody{Status: "ok", Database: a.store.Driver()})
	return nil
}

type versionBody struct {
	Component           string `json:"component"`
	Version             string `json:"version"`
	Collector           string `json:"collector"`
	ReportSchemaVersion int    `json:"reportSchemaVersion"`
}

// version: GET /version, the collector build and the report schema.
func (a *api) version(w http.ResponseWriter, r *http.Request) error {
	if _, err := parseParams(r); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, versionBody{Component: metadata.Type.String(), Version: a.set.BuildInfo.Version,
		Collector: a.set.BuildInfo.Command, ReportSchemaVersion: report.SchemaVersion})
	return nil
}
