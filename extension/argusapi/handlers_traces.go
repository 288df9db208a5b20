package argusapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/arguslabs/argus-otel/internal/vocab"
	"github.com/arguslabs/argus-otel/report"
	"github.com/arguslabs/argus-otel/store"
)

// The values the filters accept: the words of internal/vocab.
var (
	traceStatuses = vocab.Statuses
	severities    = vocab.Severities
)

type tracesPage struct {
	Traces []report.Trace `json:"traces"`
	pageInfo
}

// listTraces: GET /api/traces, newest first (ties by id).
func (a *api) listTraces(w http.ResponseWriter, r *http.Request) error {
	p, err := parseParams(r, "pipeline", "status", "traceId", "since", "until", "severity", "node", "rule", "rootCause", "limit", "offset")
	if err != nil {
		return err
	}
	f := store.TraceFilter{Pipeline: p.str("pipeline"), TraceID: p.str("traceId"),
		Node: p.str("node"), Rule: p.str("rule"), RootCause: p.str("rootCause")}
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

// getTrace: GET /api/traces/{id}, the run as the CLI's JSON report, one
// page of steps at a time (stepsAfter, stepsLimit).
func (a *api) getTrace(w http.ResponseWriter, r *http.Request) error {
	p, err := parseParams(r, "stepsAfter", "stepsLimit")
	if err != nil {
		return err
	}
	return a.render(w, r, p, report.FormatJSON)
}

// traceReport: GET /api/traces/{id}/report?format=html|markdown|json
// (default html). HTML goes out under the report's strict CSP.
func (a *api) traceReport(w http.ResponseWriter, r *http.Request) error {
	p, err := parseParams(r, "format", "stepsAfter", "stepsLimit")
	if err != nil {
		return err
	}
	f := report.FormatHTML
	if v := p.str("format"); v != "" {
		if f, err = report.ParseFormat(v); err != nil || f == report.FormatText {
			return badParam("format", "%q is not one of html, markdown (md), json", v)
		}
	}
	return a.render(w, r, p, f)
}

// buildPage builds the report of one page of a run's steps, holding one of
// the heavy-read slots while it does; release it once the answer is out.
func (a *api) buildPage(r *http.Request, p *params) (rep *report.Report, release func(), err error) {
	win, err := p.stepWindow(a.cfg.Reads.MaxPageBytes)
	if err != nil {
		return nil, nil, err
	}
	// The wait and the read end before the server's write timeout would
	// drop the connection, so a slow read is a 503 to retry, not an EOF.
	ctx, cancel := context.WithCancel(r.Context())
	if wt := a.cfg.WriteTimeout; wt > 0 {
		ctx, cancel = context.WithTimeout(r.Context(), wt*9/10)
	}
	slot, err := a.reads.acquire(ctx)
	if err != nil {
		cancel()
		return nil, nil, readTimeout(ctx, err)
	}
	id := r.PathValue("id")
	rep, err = report.BuildPage(ctx, a.store, id, win, report.Options{GeneratedAt: time.Now()})
	if errors.Is(err, store.ErrNotFound) {
		err = &apiError{status: http.StatusNotFound, msg: "trace not found", details: fmt.Sprintf("no trace with id %q", id)}
	}
	if err != nil {
		slot()
		cancel()
		return nil, nil, readTimeout(ctx, err)
	}
	return rep, func() { slot(); cancel() }, nil
}

// render renders one page of a run to a buffer first, so a failure is a
// clean JSON error rather than half a report. The HTML links the
// neighbouring pages.
func (a *api) render(w http.ResponseWriter, r *http.Request, p *params, f report.Format) error {
	rep, release, err := a.buildPage(r, p)
	if err != nil {
		return err
	}
	defer release()
	var buf bytes.Buffer
	switch f {
	case report.FormatHTML:
		err = rep.WritePagedHTML(&buf, stepPager(r.URL, rep.StepsPage))
	case report.FormatJSON:
		err = rep.WriteJSON(&buf)
	default:
		err = rep.WriteMarkdown(&buf)
	}
	if err != nil {
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

// stepPager links the pages before and after sp: the same URL with
// another stepsAfter (no links for a whole run).
func stepPager(u *url.URL, sp *report.StepsPage) report.Pager {
	var pg report.Pager
	if sp == nil {
		return pg
	}
	at := func(after int) string {
		q := u.Query()
		q.Del("stepsAfter")
		if after > 0 {
			q.Set("stepsAfter", strconv.Itoa(after))
		}
		v := url.URL{Path: u.Path, RawQuery: q.Encode()}
		return v.String()
	}
	if sp.After > 0 {
		limit := store.DefaultStepPage
		if n, err := strconv.Atoi(u.Query().Get("stepsLimit")); err == nil {
			limit = n
		}
		pg.Prev = at(max(sp.After-limit, 0))
	}
	if sp.More {
		pg.Next = at(sp.LastStep)
	}
	return pg
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
