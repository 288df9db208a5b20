package argusapi

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/arguslabs/argus-otel/internal/testutil"
	"github.com/arguslabs/argus-otel/report/reporttest"
	"github.com/arguslabs/argus-otel/store"
)

// seedUI stores the report fixtures (failed, warning, ok, hostile) inside
// the pages' default window (the last 24 h), plus a run in progress.
func (s *server) seedUI(now time.Time) {
	s.t.Helper()
	reporttest.Seed(s.t, s.store,
		reporttest.At(reporttest.Failed(), now.Add(-1*time.Hour)),
		reporttest.At(reporttest.Warning(), now.Add(-30*time.Minute)),
		reporttest.At(reporttest.OK(), now.Add(-2*time.Hour)),
		reporttest.At(reporttest.Hostile(), now.Add(-3*time.Hour)))
	require.NoError(s.t, s.store.WriteBatch(context.Background(), store.TraceBatch{Traces: []store.TraceUpdate{{
		Trace: store.Trace{ID: progressID, CreatedAt: now.Add(-10 * time.Minute), PipelineName: "rag-answer", Status: "ok",
			Metadata: json.RawMessage(`{"analysis":"in_progress"}`)},
		End: now.Add(-9 * time.Minute), HasRoot: true, BatchKey: "progress",
	}}}))
}

const progressID = "ee000000000000000000000000000001"

// page GETs a UI page and checks what every page must have.
func (s *server) page(path string, status int) string {
	s.t.Helper()
	r := s.get(path)
	require.Equal(s.t, status, r.status, "GET %s: %s", path, r.body)
	require.Equal(s.t, "text/html; charset=utf-8", r.header.Get("Content-Type"), path)
	require.Equal(s.t, uiCSP, r.header.Get("Content-Security-Policy"), path)
	require.Contains(s.t, r.header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
	require.Equal(s.t, "nosniff", r.header.Get("X-Content-Type-Options"))
	checkMarkup(s.t, path, r.body)
	return string(r.body)
}

// checkMarkup: no markup from the data (testutil.CheckMarkup).
func checkMarkup(t testing.TB, path string, body []byte) {
	t.Helper()
	testutil.CheckMarkup(t, path, body, testutil.UIElements)
}

var runLink = regexp.MustCompile(`href="/ui/runs/([^"?]+)"`)

// listed is the run ids a runs page lists, in order.
func listed(body string) []string {
	out := []string{}
	for _, m := range runLink.FindAllStringSubmatch(body, -1) {
		id, _ := url.PathUnescape(m[1])
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// hrefs are the page's links, unescaped.
func hrefs(body string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`href="([^"]*)"`).FindAllStringSubmatch(body, -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

func TestUIPages(t *testing.T) {
	eachBackend(t, func(t *testing.T, cfg *Config) {
		s := start(t, cfg)
		now := time.Now().UTC()
		s.seedUI(now)

		noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		res, err := noFollow.Get(s.base + "/")
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusSeeOther, res.StatusCode)
		require.Equal(t, "/ui/", res.Header.Get("Location"))

		// Pipelines: each pipeline with its counts, chart and tables.
		home := s.page("/ui/", http.StatusOK)
		for _, want := range []string{"rag-answer", "triage", "failure rate", "Rules that fire most", "Latency per node", "<svg"} {
			assert.Contains(t, home, want)
		}
		// Every link on the page works; the chart's failed bar of
		// rag-answer lists exactly its failed run.
		var failedBar string
		for _, h := range hrefs(home) {
			if !strings.HasPrefix(h, "/ui/") || strings.HasPrefix(h, "/ui/static/") {
				continue
			}
			s.page(h, http.StatusOK)
			u, _ := url.Parse(h)
			if u.Query().Get("status") == "failed" && u.Query().Get("pipeline") == "rag-answer" && u.Query().Get("since") != "" &&
				strings.Contains(home, `<a href="`+html.EscapeString(h)+`"><rect class="seg s-failed"`) {
				failedBar = h
			}
		}
		require.NotEmpty(t, failedBar, "no failed segment in rag-answer's chart")
		assert.Equal(t, []string{reporttest.FailedID}, listed(s.page(failedBar, http.StatusOK)))

		// Runs: every filter, newest first.
		for _, c := range []struct {
			query string
			want  []string
		}{
			{"", []string{progressID, reporttest.WarningID, reporttest.FailedID, reporttest.OKID, reporttest.HostileID}},
			{q("pipeline", "rag-answer"), []string{progressID, reporttest.FailedID, reporttest.OKID}},
			{q("status", "failed"), []string{reporttest.FailedID, reporttest.HostileID}},
			{q("status", "warning"), []string{reporttest.WarningID}},
			{q("since", "90m"), []string{progressID, reporttest.WarningID, reporttest.FailedID}},
			{q("until", rfc(now.Add(-90*time.Minute))), []string{reporttest.OKID, reporttest.HostileID}},
			{q("severity", "critical"), []string{reporttest.FailedID, reporttest.HostileID}},
			{q("node", "retrieve"), []string{reporttest.FailedID, reporttest.OKID}},
			{q("node", "rerank"), []string{reporttest.FailedID}},
			{q("rule", "structural.dropped_field"), []string{reporttest.FailedID, reporttest.HostileID}},
			{q("rule", "structural.dropped_field", "node", "rerank"), []string{reporttest.FailedID}},
			{q("rootCause", "rerank"), []string{reporttest.FailedID}},
			{q("pipeline", "rag-answer", "status", "ok"), []string{progressID, reporttest.OKID}},
			// A blank form field is "any", as a GET form sends it.
			{"?pipeline=&status=failed&node=", []string{reporttest.FailedID, reporttest.HostileID}},
			{q("pipeline", "nope"), []string{}},
		} {
			body := s.page("/ui/runs"+c.query, http.StatusOK)
			assert.Equal(t, c.want, listed(body), "runs%s", c.query)
		}
		list := s.page("/ui/runs", http.StatusOK)
		assert.Contains(t, list, "in progress", "the run in progress has its badge")

		// Keyset pages of 2: older, then newer again.
		p1 := s.page("/ui/runs?limit=2", http.StatusOK)
		require.Equal(t, []string{progressID, reporttest.WarningID}, listed(p1))
		older := linkText(t, p1, "older →")
		p2 := s.page(older, http.StatusOK)
		require.Equal(t, []string{reporttest.FailedID, reporttest.OKID}, listed(p2))
		assert.Contains(t, older, "before=")
		assert.Equal(t, listed(p1), listed(s.page(linkText(t, p2, "← newer"), http.StatusOK)))

		// A filter checked run by run stops after store.MaxRunsSearched
		// runs, says so, and searches on from there.
		func() {
			defer func(n int) { store.MaxRunsSearched = n }(store.MaxRunsSearched)
			store.MaxRunsSearched = 2
			first := s.page("/ui/runs?rootCause=rerank", http.StatusOK)
			assert.Empty(t, listed(first), "the two newest runs have no root cause rerank")
			assert.Contains(t, first, "this page searched 2 runs")
			assert.Equal(t, []string{reporttest.FailedID}, listed(s.page(linkText(t, first, "search older runs →"), http.StatusOK)))
		}()

		// Bad filters are a 400 page naming the parameter.
		for _, bad := range []string{q("status", "broken"), q("since", "yesterday"), q("limit", "0"), q("before", "x"), q("colour", "red")} {
			body := s.page("/ui/runs"+bad, http.StatusBadRequest)
			assert.Contains(t, body, "400")
		}

		// Run: the report, neighbours of the same pipeline, downloads.
		run := s.page("/ui/runs/"+reporttest.FailedID, http.StatusOK)
		for _, want := range []string{"Root cause", "Causal chain", "Timeline", "retrieve", "Download",
			"/api/traces/" + reporttest.FailedID + "/report?format=markdown", "/ui/runs/" + reporttest.OKID, "/ui/runs/" + progressID} {
			assert.Contains(t, run, want)
		}
		assert.Contains(t, s.page("/ui/runs/"+progressID, http.StatusOK), "In progress.")
		assert.NotContains(t, run, "In progress.")
		s.page("/ui/runs/nope", http.StatusNotFound)
		s.page("/ui/runs/"+reporttest.FailedID+"?stepsAfter=-1", http.StatusBadRequest)

		// A long run is paged.
		s.seedLong(450, 10)
		long := s.page("/ui/runs/"+reporttest.LongID, http.StatusOK)
		assert.Contains(t, long, "Steps 1–200 of 450")
		later := s.page(linkText(t, long, "later steps"), http.StatusOK)
		assert.Contains(t, later, "Steps 201–400 of 450")

		// Detections: by rule and node, each row linking to its runs.
		det := s.page("/ui/detections", http.StatusOK)
		assert.Contains(t, det, "structural.dropped_field")
		found := false
		for _, h := range hrefs(det) {
			if strings.Contains(h, "rule=structural.dropped_field") && strings.Contains(h, "node=rerank") {
				found = true
				assert.Equal(t, []string{reporttest.FailedID}, listed(s.page(h, http.StatusOK)))
			}
		}
		assert.True(t, found, "no link from structural.dropped_field to its runs")
		s.page("/ui/detections?window=7d&pipeline=triage", http.StatusOK)
		s.page("/ui/?window=1h", http.StatusOK)
		s.page("/ui/?window=30d&pipeline=rag-answer", http.StatusOK)
		s.page("/ui/?window=2w", http.StatusBadRequest)

		// Assets are served; nothing else is needed.
		css := s.get("/ui/static/ui.css")
		require.Equal(t, http.StatusOK, css.status)
		assert.Equal(t, "text/css; charset=utf-8", css.header.Get("Content-Type"))
		assert.Contains(t, string(css.body), "prefers-color-scheme:dark")
	})
}

// linkText is the href of the link whose text is text.
func linkText(t *testing.T, body, text string) string {
	t.Helper()
	m := regexp.MustCompile(`<a href="([^"]*)">` + regexp.QuoteMeta(text) + `</a>`).FindStringSubmatch(body)
	require.NotNil(t, m, "no link %q", text)
	return html.UnescapeString(m[1])
}

// TestUIHostile: the hostile fixture (an injection attempt in every field)
// through every page; checkMarkup fails on any markup from the data, and
// each payload must be shown as text.
func TestUIHostile(t *testing.T) {
	eachBackend(t, func(t *testing.T, cfg *Config) {
		s := start(t, cfg)
		s.seedUI(time.Now().UTC())
		pages := []string{"/ui/", "/ui/?window=1h", "/ui/runs", "/ui/runs/" + reporttest.HostileID, "/ui/detections",
			"/ui/runs?node=" + url.QueryEscape(`<img src=x onerror=alert("node")>`),
			"/ui/runs?pipeline=" + url.QueryEscape(reporttest.ScriptPayload)}
		shown := ""
		for _, p := range pages {
			body := s.page(p, http.StatusOK)
			doc, err := html.Parse(strings.NewReader(body))
			require.NoError(t, err)
			shown += textOf(doc)
		}
		for _, p := range []string{reporttest.ScriptPayload, reporttest.AttrPayload, reporttest.SVGPayload,
			reporttest.StylePayload, `<img src=x onerror=alert("node")>`} {
			assert.Contains(t, shown, p, "payload %q is not shown as text", p)
		}
		// The detections table's per-row charts name the hostile rule and
		// nodes in their labels as text, and link to their runs.
		rows := sparkRows(t, s.page("/ui/detections", http.StatusOK))
		for _, row := range []string{"rule" + reporttest.AttrPayload + ` on <img src=x onerror=alert("node")>`,
			"structural.dropped_field on sink" + reporttest.StylePayload} {
			require.Len(t, rows[row], 1, "no chart for %q in %v", row, rows)
			assert.Equal(t, []string{reporttest.HostileID}, listed(s.page(rows[row][0].href, http.StatusOK)), row)
		}
	})
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data + "\n")
		}
		if n.Type == html.ElementNode {
			for _, a := range n.Attr {
				if a.Key == "value" {
					b.WriteString(a.Val + "\n")
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

func TestUIURL(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:8889": "http://127.0.0.1:8889/ui/",
		"0.0.0.0:8889":   "http://localhost:8889/ui/",
		"[::]:9000":      "http://localhost:9000/ui/",
		"[::1]:9000":     "http://[::1]:9000/ui/",
	} {
		a, err := netAddr(addr)
		require.NoError(t, err)
		assert.Equal(t, want, uiURL(a, false), addr)
	}
	a, _ := netAddr("127.0.0.1:443")
	assert.Equal(t, "https://127.0.0.1:443/ui/", uiURL(a, true))
}

func netAddr(s string) (*net.TCPAddr, error) { return net.ResolveTCPAddr("tcp", s) }
