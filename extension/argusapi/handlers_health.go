package argusapi

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/arguslabs/argus-otel/extension/argusapi/internal/metadata"
	"github.com/arguslabs/argus-otel/internal/writehealth"
	"github.com/arguslabs/argus-otel/report"
)

// healthTimeout bounds the database ping of /health.
const healthTimeout = 3 * time.Second

// refusalWindow: rows quarantined this recently make the
// answer "degraded" (still 200: the rest of the data is stored). A
// variable so tests can shorten it.
var refusalWindow = time.Minute

type healthBody struct {
	Status   string `json:"status"` // ok | degraded | unavailable
	Database string `json:"database"`
	Error    string `json:"error,omitempty"`
	Details  string `json:"details,omitempty"`
	// Writes: how writes to this database went, by every component of the
	// process (exporters, this API); absent before the first.
	Writes *writehealth.State `json:"writes,omitempty"`
	// Backlog: each write-ahead log (argusdetector): spans acknowledged and
	// not stored yet, and those of runs in progress kept until the run
	// completes (which may take up to max_run_duration), so its age is
	// shown, not judged.
	Backlog map[string]backlogBody `json:"backlog,omitempty"`
	// Components in an error status (the collector's component status).
	Components map[string]string `json:"components,omitempty"`
}

type backlogBody struct {
	writehealth.Backlog
	OldestAgeSeconds float64 `json:"oldestAgeSeconds"`
}

// health: GET /health. 503 when the database does not answer, writes are
// failing, or a pipeline component reports an error; 200 "degraded" when
// rows were quarantined lately; else 200 "ok".
func (a *api) health(w http.ResponseWriter, r *http.Request) error {
	if _, err := parseParams(r); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	body := healthBody{Status: "ok", Database: a.store.Driver(), Components: a.statuses.errors()}
	if st := a.writes.State(); st != (writehealth.State{}) {
		body.Writes = &st
	}
	now := time.Now()
	for name, b := range writehealth.Backlogs() {
		if body.Backlog == nil {
			body.Backlog = map[string]backlogBody{}
		}
		bb := backlogBody{Backlog: b}
		if !b.Oldest.IsZero() {
			bb.OldestAgeSeconds = now.Sub(b.Oldest).Seconds()
		}
		body.Backlog[name] = bb
	}
	status := http.StatusOK
	unhealthy := func(state, msg, details string) {
		if status == http.StatusOK {
			status, body.Status, body.Error, body.Details = http.StatusServiceUnavailable, state, msg, details
		}
	}
	if err := a.store.Ping(ctx); err != nil {
		unhealthy("unavailable", "database unreachable", err.Error())
	}
	if body.Writes != nil && body.Writes.Failing {
		unhealthy("degraded", "writes are failing", body.Writes.LastError)
	}
	if len(body.Components) > 0 {
		unhealthy("degraded", "components report errors", joinSorted(body.Components))
	}
	if status == http.StatusOK && body.Writes != nil && now.Sub(body.Writes.LastRefusal) < refusalWindow {
		body.Status, body.Error = "degraded", "rows quarantined: the database refused them while it stored others (see the quarantine table)"
		body.Details = fmt.Sprintf("the database refused %d rows since start, the last %s ago (%s); the rest was stored, the refused rows are in the quarantine table",
			body.Writes.Refused, now.Sub(body.Writes.LastRefusal).Round(time.Second), body.Writes.LastError)
	}
	if status != http.StatusOK {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, body)
	return nil
}

func joinSorted(m map[string]string) string {
	parts := make([]string, 0, len(m))
	for k, v := range m {
		parts = append(parts, k+": "+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
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
