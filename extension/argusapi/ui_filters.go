package argusapi

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/arguslabs/argus-otel/store"
)

// runsQuery is the runs list's filters as they appear in its URL, so any
// view can be shared and every number on the other pages links to the runs
// behind it.
type runsQuery struct {
	Pipeline, Status, Since, Until, Severity, Node, Rule, RootCause string
	Before, After                                                   string // keyset cursors
	Limit                                                           string
}

// runsParams are the runs page's parameters, in URL order.
var runsParams = []string{"pipeline", "status", "since", "until", "severity", "node", "rule", "rootCause", "before", "after", "limit"}

func (q runsQuery) values() url.Values {
	v := url.Values{}
	for _, kv := range [][2]string{
		{"pipeline", q.Pipeline}, {"status", q.Status}, {"since", q.Since}, {"until", q.Until},
		{"severity", q.Severity}, {"node", q.Node}, {"rule", q.Rule}, {"rootCause", q.RootCause},
		{"before", q.Before}, {"after", q.After}, {"limit", q.Limit},
	} {
		if kv[1] != "" {
			v.Set(kv[0], kv[1])
		}
	}
	return v
}

// URL is the runs page showing these runs.
func (q runsQuery) URL() string {
	u := url.URL{Path: uiRoot + "runs", RawQuery: q.values().Encode()}
	return u.String()
}

// Filtered reports whether any filter is set (cursors and limit aside).
func (q runsQuery) Filtered() bool {
	q.Before, q.After, q.Limit = "", "", ""
	return len(q.values()) > 0
}

// timeParam is a time as the runs page takes it.
func timeParam(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// formValues drops the empty values a GET form sends for its blank fields,
// which the API's strict parameters would refuse.
func formValues(u *url.URL) url.Values {
	v := url.Values{}
	for k, vals := range u.Query() {
		for _, x := range vals {
			if x != "" {
				v.Add(k, x)
			}
		}
	}
	return v
}

// parseRunsQuery checks the runs page's parameters as the API checks its
// own, and returns the store filter with the query to echo.
func parseRunsQuery(u *url.URL) (store.RunFilter, runsQuery, error) {
	var f store.RunFilter
	p, err := checkParams(formValues(u), runsParams...)
	if err != nil {
		return f, runsQuery{}, err
	}
	q := runsQuery{Pipeline: p.str("pipeline"), Status: p.str("status"), Since: p.str("since"), Until: p.str("until"),
		Severity: p.str("severity"), Node: p.str("node"), Rule: p.str("rule"), RootCause: p.str("rootCause"),
		Before: p.str("before"), After: p.str("after"), Limit: p.str("limit")}
	f.Pipeline, f.Node, f.Rule, f.RootCause = q.Pipeline, q.Node, q.Rule, q.RootCause
	if f.Status, err = p.oneOf("status", traceStatuses...); err != nil {
		return f, q, err
	}
	if f.MinSeverity, err = p.oneOf("severity", severities...); err != nil {
		return f, q, err
	}
	if f.Since, f.Until, err = p.timeRange(); err != nil {
		return f, q, err
	}
	if f.Limit, _, err = p.page(); err != nil {
		return f, q, err
	}
	if v := p.str("limit"); v == "" {
		f.Limit = uiRunsPerPage
	}
	for name, dst := range map[string]**store.Cursor{"before": &f.Before, "after": &f.After} {
		if v := p.str(name); v != "" {
			c, err := store.ParseCursor(v)
			if err != nil {
				return f, q, badParam(name, "%v", err)
			}
			*dst = &c
		}
	}
	if f.Before != nil && f.After != nil {
		return f, q, badParam("after", "give before or after, not both")
	}
	return f, q, nil
}

// uiRunsPerPage is the runs page's default page size.
const uiRunsPerPage = 50

// window is a time range of the pipelines and detections pages: the last
// 1h, 24h, 7d or 30d up to now, or up to an earlier time ("until").
type window struct {
	Name         string // as in the URL: 1h, 24h, 7d, 30d
	Since, Until time.Time
	Bucket       string
	Step         time.Duration // one bucket
	UntilParam   string        // the URL's until, "" for now: the window form keeps it
}

// windows are the ranges offered, each with a bucket size that gives a
// readable number of bars.
var windows = []struct {
	name   string
	d      time.Duration
	bucket string
	step   time.Duration
}{
	{"1h", time.Hour, store.BucketMinute, time.Minute},
	{"24h", 24 * time.Hour, store.BucketHour, time.Hour},
	{"7d", 7 * 24 * time.Hour, store.BucketHour, 6 * time.Hour}, // hours summed by the chart
	{"30d", 30 * 24 * time.Hour, store.BucketDay, 24 * time.Hour},
}

const defaultWindow = "24h"

// windowEnding is the window called name that ends at until (exclusive).
func windowEnding(name string, until time.Time) (window, error) {
	for _, w := range windows {
		if w.name == name {
			// Since on a whole bucket (hour for the day buckets: the
			// store counts them from hourly rows), so every bar is whole.
			since := until.Add(-w.d).Truncate(min(w.step, time.Hour))
			return window{Name: name, Since: since, Until: until, Bucket: w.bucket, Step: w.step}, nil
		}
	}
	return window{}, badParam("window", "%q is not one of 1h, 24h, 7d, 30d", name)
}

// windowUpTo is the window called name whose last whole hour holds t:
// the window a link to a run at t shows (the store's times end at
// store.MaxTime).
func windowUpTo(name string, t time.Time) (window, error) {
	until := t.UTC().Truncate(time.Hour).Add(time.Hour)
	if until.After(store.MaxTime) {
		until = store.MaxTime
	}
	w, err := windowEnding(name, until)
	w.UntilParam = timeParam(until)
	return w, err
}

// parseWindow reads "window" (default 24h) and "until" (default now).
func parseWindow(p *params, now time.Time) (window, error) {
	name := p.str("window")
	if name == "" {
		name = defaultWindow
	}
	until, err := p.time("until")
	if err != nil {
		return window{}, err
	}
	if p.str("until") == "" {
		return windowEnding(name, now.UTC().Truncate(time.Second).Add(time.Second))
	}
	if err := store.CheckTime("until", until); err != nil {
		return window{}, badParam("until", "%v", err)
	}
	w, err := windowEnding(name, until)
	w.UntilParam = p.str("until")
	return w, err
}

// windowParams reads the pipelines and detections pages' parameters:
// window, until and pipeline. chosen is false when neither window nor
// until was given: the pipelines page may then move its window.
func windowParams(r *http.Request) (w window, pipeline string, chosen bool, err error) {
	p, err := checkParams(formValues(r.URL), "window", "until", "pipeline")
	if err != nil {
		return window{}, "", false, err
	}
	w, err = parseWindow(p, time.Now())
	return w, p.str("pipeline"), p.str("window") != "" || p.str("until") != "", err
}

// URL is page (the pipelines or detections page) over this window.
func (w window) URL(page, pipeline string) string {
	v := url.Values{}
	v.Set("window", w.Name)
	if w.UntilParam != "" {
		v.Set("until", w.UntilParam)
	}
	if pipeline != "" {
		v.Set("pipeline", pipeline)
	}
	return (&url.URL{Path: page, RawQuery: v.Encode()}).String()
}

// WindowNames lists the windows for the pages' selectors.
func windowNames() []string {
	out := make([]string, len(windows))
	for i, w := range windows {
		out[i] = w.name
	}
	return out
}

func (w window) stats(pipeline string) store.StatsWindow {
	return store.StatsWindow{Since: w.Since, Until: w.Until, Bucket: w.Bucket, Pipeline: pipeline}
}

// runs is the runs query of this window.
func (w window) runs() runsQuery {
	return runsQuery{Since: timeParam(w.Since), Until: timeParam(w.Until)}
}

// movedWindow says that a page opened without a window found nothing in
// the last 24 h and shows the 24 h up to the newest run (at Newest)
// instead; NowURL is the window up to now. Old or replayed data, a quiet
// system and the README's example would otherwise open on an empty page.
type movedWindow struct {
	Moved  bool
	Newest time.Time
	NowURL string
}

// moveToNewest returns the window of w's length up to the newest run of
// pipeline (all pipelines: ""), filling m, or w unchanged when there is
// no run; page is the page's path, for NowURL.
func (a *api) moveToNewest(ctx context.Context, m *movedWindow, w window, pipeline, page string) (window, bool, error) {
	newest, err := a.store.ListRuns(ctx, store.RunFilter{TraceFilter: store.TraceFilter{Pipeline: pipeline, Limit: 1}})
	if err != nil || len(newest.Runs) == 0 {
		return w, false, err
	}
	moved, err := windowUpTo(w.Name, newest.Runs[0].CreatedAt)
	if err != nil {
		return w, false, err
	}
	*m = movedWindow{Moved: true, Newest: newest.Runs[0].CreatedAt, NowURL: w.URL(page, pipeline)}
	return moved, true, nil
}
