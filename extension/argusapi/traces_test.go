package argusapi

import (
	"bytes"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/arguslabs/argus-otel/report"
	"github.com/arguslabs/argus-otel/store"
)

// seedRuns stores five runs; t3 and t4 start at the same instant, so the
// id breaks the tie.
func (s *server) seedRuns() {
	s.seedRun("t1", "rag", "ok", t0, 2, "")
	s.seedRun("t2", "rag", "failed", t0.Add(time.Minute), 3, "critical")
	s.seedRun("t3", "chat", "warning", t0.Add(2*time.Minute), 1, "info")
	s.seedRun("t4", "chat", "ok", t0.Add(2*time.Minute), 0, "")
	s.seedRun("t5", "rag", "ok", t0.Add(3*time.Minute), 0, "info")
}

func rfc(t time.Time) string { return t.Format(time.RFC3339Nano) }

func TestListTraces(t *testing.T) {
	eachBackend(t, func(t *testing.T, cfg *Config) {
		s := start(t, cfg)
		s.seedRuns()
		cases := []struct {
			name  string
			query string
			want  []string
			total int
			limit int
		}{
			{"all, newest first, ties by id", "", []string{"t5", "t4", "t3", "t2", "t1"}, 5, 100},
			{"pipeline", q("pipeline", "rag"), []string{"t5", "t2", "t1"}, 3, 100},
			{"status", q("status", "ok"), []string{"t5", "t4", "t1"}, 3, 100},
			{"traceId", q("traceId", "t2"), []string{"t2"}, 1, 100},
			{"since (inclusive)", q("since", rfc(t0.Add(time.Minute))), []string{"t5", "t4", "t3", "t2"}, 4, 100},
			{"until (exclusive)", q("until", rfc(t0.Add(2*time.Minute))), []string{"t2", "t1"}, 2, 100},
			{"since and until", q("since", rfc(t0.Add(time.Minute)), "until", rfc(t0.Add(3*time.Minute))), []string{"t4", "t3", "t2"}, 3, 100},
			{"since as a date", q("since", "2026-03-14"), []string{"t5", "t4", "t3", "t2", "t1"}, 5, 100},
			{"severity warning or worse", q("severity", "warning"), []string{"t3", "t2", "t1"}, 3, 100},
			{"severity critical", q("severity", "critical"), []string{"t2"}, 1, 100},
			{"severity info (any detection)", q("severity", "info"), []string{"t5", "t3", "t2", "t1"}, 4, 100},
			{"filters combine", q("pipeline", "rag", "status", "ok", "severity", "info"), []string{"t5", "t1"}, 2, 100},
			{"filters combine (2)", q("pipeline", "rag", "status", "ok", "severity", "warning"), []string{"t1"}, 1, 100},
			{"first page", q("limit", "2"), []string{"t5", "t4"}, 5, 2},
			{"second page", q("limit", "2", "offset", "2"), []string{"t3", "t2"}, 5, 2},
			{"last page", q("limit", "2", "offset", "4"), []string{"t1"}, 5, 2},
			{"past the end", q("offset", "10"), []string{}, 5, 100},
			{"max limit", q("limit", "1000"), []string{"t5", "t4", "t3", "t2", "t1"}, 5, 1000},
			{"no match", q("pipeline", "nope"), []string{}, 0, 100},
			{"node (a step of it ran)", q("node", "node1"), []string{"t2", "t1"}, 2, 100},
			{"rule", q("rule", "semantic.placeholder"), []string{"t3", "t2", "t1"}, 3, 100},
			{"rule on a node", q("rule", "structural.run", "node", "run"), []string{"t5", "t3", "t2"}, 3, 100},
			{"root cause (none named)", q("rootCause", "node0"), []string{}, 0, 100},
		}
		for _, c := range cases {
			var page struct {
				Traces []report.Trace `json:"traces"`
				Total  int            `json:"total"`
				Limit  int            `json:"limit"`
				Offset int            `json:"offset"`
			}
			s.getJSON("/api/traces"+c.query, &page)
			got := []string{}
			for _, tr := range page.Traces {
				got = append(got, tr.ID)
			}
			assert.Equal(t, c.want, got, c.name)
			assert.Equal(t, c.total, page.Total, c.name)
			assert.Equal(t, c.limit, page.Limit, c.name)
		}
		// A listed trace is the report's trace object.
		var page struct {
			Traces []report.Trace `json:"traces"`
		}
		s.getJSON("/api/traces"+q("traceId", "t2"), &page)
		require.Len(t, page.Traces, 1)
		tr := page.Traces[0]
		assert.Equal(t, "rag", tr.PipelineName)
		assert.Equal(t, "failed", tr.Status)
		assert.True(t, tr.CreatedAt.Equal(t0.Add(time.Minute)))
		assert.Equal(t, 3, tr.NodeCount)
		assert.Equal(t, 2, tr.DetectionCount)
		assert.NotContains(t, string(tr.Metadata), "_argus", "bookkeeping keys are left out")
		// The envelope answers an empty list as [], never null.
		r := s.get("/api/traces" + q("pipeline", "nope"))
		assert.Contains(t, string(r.body), `"traces":[]`)
	})
}

func TestGetTraceAndReports(t *testing.T) {
	eachBackend(t, func(t *testing.T, cfg *Config) {
		s := start(t, cfg)
		s.seedRuns()

		var rep report.Report
		r := s.get("/api/traces/t2")
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		r.json(t, &rep)
		assert.Equal(t, report.SchemaVersion, rep.SchemaVersion)
		assert.Equal(t, "t2", rep.Trace.ID)
		assert.Equal(t, "failed", rep.Summary.Status)
		assert.Len(t, rep.Steps, 3)
		assert.Len(t, rep.Detections, 2)
		assert.Equal(t, 1, rep.Summary.Detections.Critical)
		require.NotNil(t, rep.GeneratedAt, "the API report says when it was rendered, like the CLI's")
		assert.WithinDuration(t, time.Now(), *rep.GeneratedAt, time.Minute)
		assert.Equal(t, "nosniff", r.header.Get("X-Content-Type-Options"))

		// The JSON report is the document report.Render writes, field for field.
		full, err := s.store.GetTrace(t.Context(), "t2")
		require.NoError(t, err)
		var want bytes.Buffer
		require.NoError(t, report.Render(&want, full, report.FormatJSON, report.Options{GeneratedAt: *rep.GeneratedAt}))
		assert.Equal(t, want.String(), string(r.body))

		// HTML by default, with the report's CSP and nosniff.
		r = s.get("/api/traces/t2/report")
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, report.FormatHTML.ContentType(), r.header.Get("Content-Type"))
		assert.Equal(t, report.ContentSecurityPolicy, r.header.Get("Content-Security-Policy"))
		assert.Equal(t, "nosniff", r.header.Get("X-Content-Type-Options"))
		assert.True(t, strings.HasPrefix(strings.ToLower(string(r.body)), "<!doctype html"), "%.80s", r.body)
		assert.Contains(t, string(r.body), "t2")

		for _, f := range []struct{ param, ctype, contains string }{
			{"html", report.FormatHTML.ContentType(), "<html"},
			{"markdown", report.FormatMarkdown.ContentType(), "rag"},
			{"md", report.FormatMarkdown.ContentType(), "rag"},
			{"json", "application/json", `"schema_version": 1`},
		} {
			r := s.get("/api/traces/t2/report" + q("format", f.param))
			require.Equal(t, http.StatusOK, r.status, "format %s: %s", f.param, r.body)
			assert.Equal(t, f.ctype, r.header.Get("Content-Type"), f.param)
			assert.Contains(t, string(r.body), f.contains, f.param)
			if f.ctype != report.FormatHTML.ContentType() {
				assert.Empty(t, r.header.Get("Content-Security-Policy"), f.param)
			}
		}
		for _, bad := range []string{"text", "pdf", "HTML5"} {
			s.get("/api/traces/t2/report"+q("format", bad)).errBody(t, http.StatusBadRequest, `"format"`, bad, "html, markdown")
		}
		s.get("/api/traces/nope").errBody(t, http.StatusNotFound, "trace not found", `"nope"`)
		s.get("/api/traces/nope/report").errBody(t, http.StatusNotFound, "trace not found")
		s.get("/api/traces/t2"+q("format", "html")).errBody(t, http.StatusBadRequest, `unknown parameter "format"`)
	})
}

func TestListDetections(t *testing.T) {
	eachBackend(t, func(t *testing.T, cfg *Config) {
		s := start(t, cfg)
		s.seedRuns()
		all := []string{"t5-d2", "t3-d2", "t3-d1", "t2-d2", "t2-d1", "t1-d1"}
		cases := []struct {
			name  string
			query string
			want  []string
			total int
		}{
			{"all, newest first", "", all, 6},
			{"layer", q("layer", "structural"), []string{"t5-d2", "t3-d2", "t2-d2"}, 3},
			{"severity (exact)", q("severity", "warning"), []string{"t3-d1", "t2-d1", "t1-d1"}, 3},
			{"minSeverity", q("minSeverity", "warning"), []string{"t3-d1", "t2-d2", "t2-d1", "t1-d1"}, 4},
			{"node of the step", q("node", "node0"), []string{"t3-d1", "t2-d1", "t1-d1"}, 3},
			{"node from details (run-level)", q("node", "run"), []string{"t5-d2", "t3-d2", "t2-d2"}, 3},
			{"traceId", q("traceId", "t2"), []string{"t2-d2", "t2-d1"}, 2},
			{"since", q("since", rfc(t0.Add(2*time.Minute))), []string{"t5-d2", "t3-d2", "t3-d1"}, 3},
			{"combined", q("layer", "semantic", "traceId", "t3"), []string{"t3-d1"}, 1},
			{"page", q("limit", "2", "offset", "1"), []string{"t3-d2", "t3-d1"}, 6},
			{"none", q("layer", "behavioral"), []string{}, 0},
		}
		for _, c := range cases {
			var page struct {
				Detections []store.Detection `json:"detections"`
				Total      int               `json:"total"`
				Limit      int               `json:"limit"`
				Offset     int               `json:"offset"`
			}
			s.getJSON("/api/detections"+c.query, &page)
			got := []string{}
			for _, d := range page.Detections {
				got = append(got, d.ID)
			}
			assert.Equal(t, c.want, got, c.name)
			assert.Equal(t, c.total, page.Total, c.name)
		}
		var page struct {
			Detections []store.Detection `json:"detections"`
		}
		s.getJSON("/api/detections"+q("traceId", "t1"), &page)
		require.Len(t, page.Detections, 1)
		d := page.Detections[0]
		assert.Equal(t, "t1-s0", d.StepID)
		assert.Equal(t, "semantic", d.Layer)
		assert.JSONEq(t, `{"rule":"semantic.placeholder","node":"node0"}`, string(d.Details))
	})
}

// TestInvalidParams: every bad parameter is a 400 naming it; nothing is
// silently replaced by a default.
func TestInvalidParams(t *testing.T) {
	eachBackend(t, func(t *testing.T, cfg *Config) {
		s := start(t, cfg)
		cases := []struct {
			path string
			want []string
		}{
			{"/api/traces?limit=-1", []string{`"limit"`, `"-1"`}},
			{"/api/traces?limit=abc", []string{`"limit"`, `"abc"`}},
			{"/api/traces?limit=0", []string{`"limit"`, "1 to 1000"}},
			{"/api/traces?limit=1001", []string{`"limit"`, "1 to 1000"}},
			{"/api/traces?limit=1.5", []string{`"limit"`}},
			{"/api/traces?limit=99999999999999999999999", []string{`"limit"`}},
			{"/api/traces?offset=-3", []string{`"offset"`}},
			{"/api/traces?offset=x", []string{`"offset"`}},
			{"/api/traces?since=yesterday", []string{`"since"`, "RFC 3339"}},
			{"/api/traces?until=2026-13-01", []string{`"until"`}},
			{"/api/traces?since=-5h", []string{`"since"`}},
			{"/api/traces?since=0d", []string{`"since"`}},
			{"/api/traces?since=2026-03-02&until=2026-03-01", []string{`"until"`, "not after since"}},
			{"/api/traces?status=broken", []string{`"status"`, "ok, warning, failed"}},
			{"/api/traces?status=OK", []string{`"status"`}},
			{"/api/traces?severity=high", []string{`"severity"`, "info, warning, critical"}},
			{"/api/traces?pipelin=rag", []string{`unknown parameter "pipelin"`, "pipeline"}},
			{"/api/traces?pipeline=a&pipeline=b", []string{`"pipeline"`, "2 times"}},
			{"/api/traces?pipeline=", []string{`"pipeline"`, "empty"}},
			{"/api/traces?a=%zz", []string{"query"}},
			{"/api/detections?layer=magic", []string{`"layer"`, "statistical"}},
			{"/api/detections?severity=fatal", []string{`"severity"`}},
			{"/api/detections?minSeverity=fatal", []string{`"minSeverity"`}},
			{"/api/detections?since=soon", []string{`"since"`}},
			{"/api/detections?until=2026-01-01", []string{`unknown parameter "until"`}},
			{"/api/detections?limit=-1", []string{`"limit"`}},
			{"/api/audit-logs?status=success", []string{`"status"`, "SUCCESS, FAILURE"}},
			{"/api/audit-logs?limit=abc", []string{`"limit"`}},
			{"/api/audit-logs?offset=-1", []string{`"offset"`}},
			{"/api/audit-logs?since=nope", []string{`"since"`}},
			{"/api/audit-logs?until=nope", []string{`"until"`}},
			{"/api/audit-logs?actorType=USER", []string{`unknown parameter "actorType"`}},
			{"/health?verbose=1", []string{`unknown parameter "verbose"`}},
			{"/version?x=1", []string{`unknown parameter "x"`}},
		}
		for _, c := range cases {
			s.get(c.path).errBody(t, http.StatusBadRequest, c.want...)
		}
		// A relative since is accepted.
		for _, ok := range []string{"90m", "24h", "7d", "2026-03-14T09:26:53Z", "2026-03-14T09:26:53.5+02:00"} {
			r := s.get("/api/traces" + q("since", ok))
			assert.Equal(t, http.StatusOK, r.status, "since=%s: %s", ok, r.body)
		}
	})
}

func TestRouting(t *testing.T) {
	s := start(t, backends[0].config(t))
	s.get("/nope").errBody(t, http.StatusNotFound, "not found", "/nope")
	s.get("/api").errBody(t, http.StatusNotFound)
	s.get("/api/traces/a/b/c").errBody(t, http.StatusNotFound)
	s.get("/api/audit-logs/bulk").errBody(t, http.StatusMethodNotAllowed, "GET", "POST")

	for _, c := range []struct {
		method, path string
		allow        string
	}{
		{http.MethodDelete, "/api/traces", "GET, HEAD"},
		{http.MethodPost, "/api/traces/x", "GET, HEAD"},
		{http.MethodPut, "/api/audit-logs", "GET, HEAD, POST"},
		{http.MethodPatch, "/api/detections", "GET, HEAD"},
		{http.MethodPost, "/health", "GET, HEAD"},
		{http.MethodOptions, "/version", "GET, HEAD"},
	} {
		r := s.do(c.method, c.path, nil)
		r.errBody(t, http.StatusMethodNotAllowed, "method not allowed", c.method)
		assert.Equal(t, c.allow, r.header.Get("Allow"), "%s %s", c.method, c.path)
	}
	r := s.do(http.MethodHead, "/api/traces", nil)
	assert.Equal(t, http.StatusOK, r.status)
	assert.Empty(t, r.body)
	assert.True(t, slices.Contains([]string{"no-store"}, r.header.Get("Cache-Control")))
}
