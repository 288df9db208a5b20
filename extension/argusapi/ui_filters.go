package argusapi

import (
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

// window is a time range of the pipelines and detections pages, ending now.
type window struct {
	Name         string // as in the URL: 1h, 24h, 7d, 30d
	Since, Until time.Time
	Bucket       string
	Step         time.Duration // one bucket
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

// parseWindow reads "window" (default 24h), ending at now.
func parseWindow(p *params, now time.Time) (window, error) {
	name := p.str("window")
	if name == "" {
		name = defaultWindow
	}
	for _, w := range windows {
		if w.name == name {
			// Since on a whole bucket (hour for the day buckets: the
			// store counts them from hourly rows), so every bar is whole.
			until := now.UTC().Truncate(time.Second).Add(time.Second)
			since := until.Add(-w.d).Truncate(min(w.step, time.Hour))
			return window{Name: name, Since: since, Until: until, Bucket: w.bucket, Step: w.step}, nil
		}
	}
	return window{}, badParam("window", "%q is not one of 1h, 24h, 7d, 30d", name)
}

// windowParams reads the pipelines and detections pages' parameters:
// window and pipeline.
func windowParams(r *http.Request) (window, string, error) {
	p, err := checkParams(formValues(r.URL), "window", "pipeline")
	if err != nil {
		return window{}, "", err
	}
	w, err := parseWindow(p, time.Now())
	return w, p.str("pipeline"), err
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
