package argusapi

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The README's first example: a LangGraph run of 2024-06-20.
var readmeRun = time.Date(2024, 6, 20, 16, 13, 20, 0, time.UTC)

const (
	oldFailedID = "01000000000000000000000000000001"
	oldOKID     = "01000000000000000000000000000002"
)

// failedBar is the href of the failed segment of pipeline's chart on a
// pipelines page ("" when there is none).
func failedBar(page, pipeline string) string {
	for _, h := range hrefs(page) {
		u, err := url.Parse(h)
		if err != nil || u.Path != "/ui/runs" || u.Query().Get("status") != "failed" ||
			u.Query().Get("pipeline") != pipeline || u.Query().Get("since") == "" {
			continue
		}
		if strings.Contains(page, `<a href="`+escapeAttr(h)+`"><rect class="seg s-failed"`) {
			return h
		}
	}
	return ""
}

func escapeAttr(s string) string { return strings.ReplaceAll(s, "&", "&amp;") }

// TestUIPipelinesOutsideTheWindow: no pipeline with runs is missing from
// the pipelines page. A home page whose last 24 h hold no run shows the
// 24 h up to the newest run, and says so; a pipeline with no run in the
// window is listed with its last run, a link to a window that shows it and
// a link to its runs.
func TestUIPipelinesOutsideTheWindow(t *testing.T) {
	eachBackend(t, func(t *testing.T, cfg *Config) {
		s := start(t, cfg)
		home := s.page("/ui/", http.StatusOK)
		assert.Contains(t, home, "No runs yet. Send traces over OTLP")
		assert.NotContains(t, home, `class="notice"`)

		// Old runs only, as after the README's example.
		s.seedRun(oldFailedID, "LangGraph", "failed", readmeRun, 3, "critical")
		s.seedRun(oldOKID, "LangGraph", "ok", readmeRun.Add(-5*time.Hour), 3, "")
		home = s.page("/ui/", http.StatusOK)
		assert.Contains(t, home, `<p class="notice">No runs in the last 24h: this is the 24h up to the newest run, 2024-06-20 16:13:20 UTC.`)
		assert.Contains(t, home, "2024-06-19 17:00:00 UTC – 2024-06-20 17:00:00 UTC")
		assert.Contains(t, home, `<input type="hidden" name="until" value="2024-06-20T17:00:00Z">`, "the window form keeps the moved window")
		bar := failedBar(home, "LangGraph")
		require.NotEmpty(t, bar, "no failed bar in LangGraph's chart:\n%s", home)
		assert.Equal(t, []string{oldFailedID}, listed(s.page(bar, http.StatusOK)))

		// The last 24 h, asked for: empty, and LangGraph is listed.
		now := s.page(linkText(t, home, "Show the last 24h"), http.StatusOK)
		assert.NotContains(t, now, `class="notice"`)
		assert.NotContains(t, now, "<svg")
		assert.Contains(t, now, "No runs in this window. The pipelines below ran before (or after) it.")
		assert.Contains(t, now, `>LangGraph</a></td><td>no runs in this window</td><td class="nowrap">2024-06-20 16:13:20 UTC</td>`)
		assert.Equal(t, []string{oldFailedID, oldOKID}, listed(s.page(linkText(t, now, "its runs"), http.StatusOK)))
		up := linkText(t, now, "the 24h up to its last run")
		assert.Equal(t, "/ui/?pipeline=LangGraph&until=2024-06-20T17%3A00%3A00Z&window=24h", up)
		upPage := s.page(up, http.StatusOK)
		assert.NotContains(t, upPage, `class="notice"`, "a chosen window is never moved")
		assert.Equal(t, []string{oldFailedID}, listed(s.page(failedBar(upPage, "LangGraph"), http.StatusOK)))
		for _, w := range []string{"7d", "30d"} { // each chosen window, empty
			p := s.page("/ui/?window="+w, http.StatusOK)
			assert.Contains(t, p, "no runs in this window", w)
			assert.Contains(t, p, "the "+w+" up to its last run", w)
		}
		// The 1h up to its last run, by minute.
		assert.NotEmpty(t, failedBar(s.page("/ui/?window=1h&until=2024-06-20T16:14:00Z", http.StatusOK), "LangGraph"))
		// The detections page takes the same window.
		det := s.page("/ui/detections?until=2024-06-20T17:00:00Z", http.StatusOK)
		assert.Contains(t, det, "structural.run")
		assert.NotContains(t, det, `class="notice"`, "a chosen window is never moved")
		assert.NotContains(t, s.page("/ui/detections?window=24h", http.StatusOK), "structural.run")
		// Opened without a window, it moves to the newest run as the home
		// page does, and says so.
		moved := s.page("/ui/detections", http.StatusOK)
		assert.Contains(t, moved, "structural.run")
		assert.Contains(t, moved, `class="notice"`)
		assert.Contains(t, moved, `href="/ui/detections?window=24h"`)

		// Runs now too: the home page is the last 24 h; LangGraph stays
		// listed below the pipelines that ran.
		s.seedUI(time.Now().UTC())
		home = s.page("/ui/", http.StatusOK)
		assert.NotContains(t, home, `class="notice"`)
		assert.Contains(t, home, ">rag-answer</a></h2>")
		assert.NotContains(t, home, ">LangGraph</a></h2>")
		assert.Contains(t, home, "<h2>Other pipelines</h2>")
		assert.Contains(t, home, `>LangGraph</a></td><td>no runs in this window</td><td class="nowrap">2024-06-20 16:13:20 UTC</td>`)
		// The filter: LangGraph alone moves to its last run unless a
		// window is chosen; a pipeline without runs says so.
		one := s.page("/ui/?pipeline=LangGraph", http.StatusOK)
		assert.Contains(t, one, "No runs in the last 24h: this is the 24h up to the newest run, 2024-06-20 16:13:20 UTC.")
		assert.NotContains(t, one, "rag-answer")
		assert.NotEmpty(t, failedBar(one, "LangGraph"))
		assert.Contains(t, s.page("/ui/?window=24h&pipeline=LangGraph", http.StatusOK), "no runs in this window")
		assert.Contains(t, s.page("/ui/?pipeline=nope", http.StatusOK), "No runs of nope yet.")

		for _, bad := range []string{q("until", "yesterday"), q("until", "0001-01-01T00:00:00Z")} {
			s.page("/ui/"+bad, http.StatusBadRequest)
			s.page("/ui/detections"+bad, http.StatusBadRequest)
		}
	})
}

// TestUIPipelinesBeyondTheBusiest: with more pipelines in the window than
// get a chart, the others are listed for what they are: in the window but
// not among the busiest, or quiet, or (a run after the window only) not
// known to have runs in it.
func TestUIPipelinesBeyondTheBusiest(t *testing.T) {
	s := start(t, backends[0].config(t))
	now := time.Now().UTC()
	for i := range 10 {
		for j := range 2 {
			s.seedRun(fmt.Sprintf("%030x%02x", i, j), fmt.Sprintf("busy-%02d", i), "ok", now.Add(-time.Duration(i+1)*time.Hour), 1, "")
		}
	}
	s.seedRun("a1000000000000000000000000000001", "small", "failed", now.Add(-30*time.Minute), 1, "critical")
	s.seedRun("a1000000000000000000000000000002", "quiet", "ok", readmeRun, 1, "")
	s.seedRun("a1000000000000000000000000000003", "ahead", "ok", now.Add(3*time.Hour), 1, "") // a client's clock ahead
	home := s.page("/ui/", http.StatusOK)
	assert.Contains(t, home, "The 10 busiest pipelines are shown")
	assert.Equal(t, 10, strings.Count(home, `<section class="card pipeline">`))
	others := home[strings.Index(home, "<h2>Other pipelines</h2>"):]
	assert.Contains(t, others, `>small</a></td><td>not among the 10 busiest in this window</td>`)
	assert.Contains(t, others, `>quiet</a></td><td>no runs in this window</td>`)
	assert.Contains(t, others, `>ahead</a></td><td>–</td>`)
	// Newest last run first.
	assert.Less(t, strings.Index(others, ">ahead<"), strings.Index(others, ">small<"))
	assert.Less(t, strings.Index(others, ">small<"), strings.Index(others, ">quiet<"))
	// Each leads to a window that charts it.
	for _, p := range []string{"small", "quiet", "ahead"} {
		var up string
		for _, h := range hrefs(others) {
			if strings.Contains(h, "pipeline="+p+"&until=") {
				up = h
				break
			}
		}
		require.NotEmpty(t, up, "no window link for %s", p)
		assert.Contains(t, s.page(up, http.StatusOK), ">"+p+"</a></h2>", "%s: %s", p, up)
	}
}
