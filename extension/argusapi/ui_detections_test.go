package argusapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/arguslabs/argus-otel/store"
)

// detRun writes a run started at at, with one step per node and a
// detection of rule on that step for each (rule, node) given.
func (s *server) detRun(id string, at time.Time, status string, dets ...[2]string) {
	s.t.Helper()
	b := store.TraceBatch{Traces: []store.TraceUpdate{{
		Trace: store.Trace{ID: id, CreatedAt: at, PipelineName: "rag-answer", Status: status, Metadata: json.RawMessage(`{}`)},
		End:   at.Add(time.Second), HasRoot: true, BatchKey: id,
	}}}
	for i, d := range dets {
		step := fmt.Sprintf("%s-s%d", id, i)
		b.Steps = append(b.Steps, store.Step{ID: step, TraceID: id, StepNumber: i + 1, NodeName: d[1],
			InputState: json.RawMessage(`{}`), OutputState: json.RawMessage(`{}`), DurationMs: 5,
			Timestamp: at.Add(time.Duration(i) * time.Millisecond), Metadata: json.RawMessage(`{}`), StatesChecked: true})
		b.Detections = append(b.Detections, store.Detection{ID: fmt.Sprintf("%s-d%d", id, i), TraceID: id, StepID: step,
			Layer: "structural", Severity: "warning", Message: "m", CreatedAt: at,
			Details: json.RawMessage(`{"rule":"` + d[0] + `","node":"` + d[1] + `"}`)})
	}
	require.NoError(s.t, s.store.WriteBatch(context.Background(), b))
}

// sparkBar is one bar of a row's chart in the detections table.
type sparkBar struct {
	href, title string
	height      string
}

// sparkRows are the detections table's charts by "rule on node" (as the
// chart's label names them), their bars in order.
func sparkRows(t *testing.T, body string) map[string][]sparkBar {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	require.NoError(t, err)
	out := map[string][]sparkBar{}
	attr := func(n *html.Node, key string) string {
		for _, a := range n.Attr {
			if a.Key == key {
				return a.Val
			}
		}
		return ""
	}
	var walk func(n *html.Node, row, href string)
	walk = func(n *html.Node, row, href string) {
		if n.Type == html.ElementNode {
			switch {
			case n.Data == "td" && attr(n, "class") == "spark":
				row = "?"
			case n.Data == "svg" && row == "?":
				label := attr(n, "aria-label")
				row = strings.TrimPrefix(label[:strings.LastIndex(label, " over time")], "detections of ")
				out[row] = []sparkBar{}
			case n.Data == "a" && row != "":
				href = attr(n, "href")
			case n.Data == "rect" && row != "":
				title := ""
				if c := n.FirstChild; c != nil && c.FirstChild != nil {
					title = c.FirstChild.Data
				}
				out[row] = append(out[row], sparkBar{href: href, title: title, height: attr(n, "height")})
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, row, href)
		}
	}
	walk(doc, "", "")
	return out
}

// TestUIDetectionsOverTime: each row of the detections table charts its
// detections per bar of the page's chart, each bar linking to exactly the
// runs behind it.
func TestUIDetectionsOverTime(t *testing.T) {
	eachBackend(t, func(t *testing.T, cfg *Config) {
		s := start(t, cfg)
		// A fixed 24 h window of hourly bars, up to until (on a 6-hour
		// bar's end, for the 7-day window below).
		until := time.Now().UTC().Truncate(6 * time.Hour).Add(-48 * time.Hour)
		h := func(n int, m time.Duration) time.Time { return until.Add(-time.Duration(n)*time.Hour + m) }
		const empty, refusal = "structural.empty_retrieval", "semantic.refusal"
		s.detRun("a1", h(5, 10*time.Minute), "warning", [2]string{empty, "retrieve"})
		s.detRun("a2", h(5, 40*time.Minute), "warning", [2]string{empty, "retrieve"}, [2]string{empty, "retrieve"})
		s.detRun("a3", h(2, 5*time.Minute), "warning", [2]string{empty, "retrieve"}, [2]string{refusal, "answer"})
		s.detRun("a4", h(2, 50*time.Minute), "warning", [2]string{refusal, "answer"})
		s.detRun("ok1", h(3, 0), "ok")                                     // a healthy run: no bar anywhere
		s.detRun("old", h(30, 0), "warning", [2]string{empty, "retrieve"}) // before the window

		page := "/ui/detections?" + url.Values{"window": {"24h"}, "until": {timeParam(until)}}.Encode()
		body := s.page(page, http.StatusOK)
		rows := sparkRows(t, body)
		require.Len(t, rows, 2, "one chart per row: %v", rows)

		// The bars of the hours it fired in: 3 detections (2 runs) 5 h
		// before until, 1 detection 2 h before; the taller bar is the
		// row's peak (24 units high, 3 of them the smallest bar's).
		er := rows[empty+" on retrieve"]
		require.Len(t, er, 2, "%+v", er)
		assert.Equal(t, "3 detected, "+h(5, 0).Format("Jan 2 15:04")+" – "+h(4, 0).Format("15:04 UTC"), er[0].title)
		assert.Equal(t, "1 detected, "+h(2, 0).Format("Jan 2 15:04")+" – "+h(1, 0).Format("15:04 UTC"), er[1].title)
		assert.Equal(t, []string{"21.0", "7.0"}, []string{er[0].height, er[1].height})
		for i, c := range []struct {
			from, to time.Time
			runs     []string
		}{{h(5, 0), h(4, 0), []string{"a2", "a1"}}, {h(2, 0), h(1, 0), []string{"a3"}}} {
			u, err := url.Parse(er[i].href)
			require.NoError(t, err)
			assert.Equal(t, "/ui/runs", u.Path)
			assert.Equal(t, url.Values{"rule": {empty}, "node": {"retrieve"}, "since": {timeParam(c.from)}, "until": {timeParam(c.to)}},
				u.Query(), "bar %d", i)
			assert.Equal(t, c.runs, listed(s.page(er[i].href, http.StatusOK)), "bar %d", i)
		}

		// A rule that fired in one hour only: one bar, its two runs.
		rr := rows[refusal+" on answer"]
		require.Len(t, rr, 1, "%+v", rr)
		assert.Equal(t, "2 detected, "+h(2, 0).Format("Jan 2 15:04")+" – "+h(1, 0).Format("15:04 UTC"), rr[0].title)
		assert.Equal(t, []string{"a4", "a3"}, listed(s.page(rr[0].href, http.StatusOK)))

		// The 7-day window sums the hours into 6-hour bars: a1-a3's
		// hours fall in one bar of the retrieve row (ending at until),
		// with the run 30 h back in another.
		week := sparkRows(t, s.page("/ui/detections?"+url.Values{"window": {"7d"}, "until": {timeParam(until)}}.Encode(), http.StatusOK))
		var titles []string
		for _, b := range week[empty+" on retrieve"] {
			titles = append(titles, b.title[:strings.Index(b.title, ",")])
		}
		assert.Equal(t, []string{"1 detected", "4 detected"}, titles)
	})
}

// TestUIDetectionsUnlinked: a row no runs filter selects exactly (a
// detection without a rule) still charts its bars, without links.
func TestUIDetectionsUnlinked(t *testing.T) {
	s := start(t, backends[0].config(t))
	s.seedUI(time.Now().UTC())
	s.detRun("norule", time.Now().UTC().Add(-time.Hour), "warning", [2]string{"", "rerank"})
	rows := sparkRows(t, s.page("/ui/detections", http.StatusOK))
	bars := rows["(no rule) on rerank"]
	require.Len(t, bars, 1, "%v", rows)
	assert.Empty(t, bars[0].href)
	assert.NotEmpty(t, rows["structural.dropped_field on rerank"][0].href)
}
