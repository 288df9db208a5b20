package argusapi

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/arguslabs/argus-otel/report"
	"github.com/arguslabs/argus-otel/store"
)

var (
	traceStatuses = []string{"ok", "warning", "failed"}
	severities    = []string{"info", "warning", "critical"}
)

type tracesPage struct {
	Traces []report.Trace `json:"traces"`
	pageInfo
}

// listTraces: GET /api/traces, newest first (ties by id).
func (a *api) listTraces(w http.ResponseWriter, r *http.Request) error {
	p, err := parseParams(r, "pipeline", "status", "traceId", "since", "until", "severity", "limit", "offset")
	if err != nil {
		return err
	}
	f := store.TraceFilter{Pipeline: p.str("pipeline"), TraceID: p.str("traceId")}
	if f.Status, err = p.oneOf("status", traceStatuses...); err != nil {
		return err
	}
	if f.MinSeverity, err = p.oneOf("severity", severities...); err != nil {
		return err
	}
	if f.Since, f.Until, err = p.timeRange(); err != nil {
		return err
	}
	if f.Limit, f.Offset, err = p.page(); err != nil {
		return err
	}
	rows, total, err := a.store.ListTraces(r.Context(), f)
	if err != nil {
		return err
	}
	out := tracesPage{Traces: make([]report.Trace, len(rows)), pageInfo: pageInfo{total, f.Limit, f.Offset}}
	for i, t := range rows {
		out.Traces[i] = report.TraceOf(t)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// getTrace: GET /api/traces/{id}, the run as the CLI's JSON report.
func (a *api) getTrace(w http.ResponseWriter, r *http.Request) error {
	if _, err := parseParams(r); err != nil {
		return err
	}
	return a.render(w, r, report.FormatJSON)
}

// traceReport: GET /api/traces/{id}/report?format=html|markdown|json
// (default html). HTML goes out under the report's strict CSP.
func (a *api) traceReport(w http.ResponseWriter, r *http.Request) error {
	p, err := parseParams(r, "format")
	if err != nil {
		return err
	}
	f := report.FormatHTML
	if v := p.str("format"); v != "" {
		if f, err = report.ParseFormat(v); err != nil || f == report.FormatText {
			return badParam("format", "%q is not one of html, markdown (md), json", v)
		}
	}
	return a.render(w, r, f)
}

// render loads the run and renders it to a buffer first, so a failure is
// a clean JSON error rather than half a report.
func (a *api) render(w http.ResponseWriter, r *http.Request, f report.Format) error {
	id := r.PathValue("id")
	full, err := a.store.GetTrace(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return &apiError{status: http.StatusNotFound, msg: "trace not found", details: fmt.Sprintf("no trace with id %q", id)}
	}
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := report.Render(&buf, full, f, report.Options{GeneratedAt: time.Now()}); err != nil {
		return &apiError{status: http.StatusInternalServerError, msg: "render report", details: err.Error()}
	}
	w.Header().Set("Content-Type", f.ContentType())
	if f == report.FormatHTML {
		w.Header().Set("Content-Security-Policy", report.ContentSecurityPolicy)
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
	return nil
}

type detectionsPage struct {
	Detections []store.Detection `json:"detections"`
	pageInfo
}

// listDetections: GET /api/detections, newest first (ties by id).
// severity matches exactly; minSeverity matches that severity or worse.
func (a *api) listDetections(w http.ResponseWriter, r *http.Request) error {
	p, err := parseParams(r, "layer", "severity", "minSeverity", "node", "traceId", "since", "limit", "offset")
	if err != nil {
		return err
	}
	f := store.DetectionFilter{Node: p.str("node"), TraceID: p.str("traceId")}
	if f.Layer, err = p.oneOf("layer", store.Layers...); err != nil {
		return err
	}
	if f.Severity, err = p.oneOf("severity", severities...); err != nil {
		return err
	}
	if f.MinSeverity, err = p.oneOf("minSeverity", severities...); err != nil {
		return err
	}
	if f.Since, err = p.time("since"); err != nil {
		return err
	}
	if f.Limit, f.Offset, err = p.page(); err != nil {
		return err
	}
	rows, total, err := a.store.ListDetections(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, detectionsPage{Detections: rows, pageInfo: pageInfo{total, f.Limit, f.Offset}})
	return nil
}
