package argusapi

import (
	"net/http"
	"slices"
	"time"

	"github.com/arguslabs/argus-otel/internal/vocab"
	"github.com/arguslabs/argus-otel/store"
)

// detectionsView is the detections page: by rule and node over a window.
type detectionsView struct {
	Window   window
	Windows  []string
	Pipeline string
	Chart    barChart
	Rows     []detectionRow
	Capped   bool
	// Sampled: only the newest SampleRuns runs, since Since, are counted.
	Sampled    bool
	Since      time.Time
	SampleRuns int
	movedWindow
}

type detectionRow struct {
	store.DetectionCount
	RunsURL string
	Spark   barChart // its detections over the chart's bars
}

// sparkSeries is the one series of a row's chart: its bars take the row's
// colour (its worst severity), the page's chart shows the severities.
const sparkSeries = "detected"

// severityOrder stacks the detections chart, worst at the bottom: the
// severities of internal/vocab, most severe first.
var severityOrder = worstFirst(vocab.Severities)

// worstFirst is a vocab list (best first) reversed.
func worstFirst(words []string) []string {
	out := slices.Clone(words)
	slices.Reverse(out)
	return out
}

// uiDetections: GET /ui/detections.
func (a *api) uiDetections(r *http.Request) (string, pageData, int, error) {
	w, pipeline, chosen, err := windowParams(r)
	if err != nil {
		return "", pageData{}, 0, err
	}
	ds, err := a.store.DetectionStats(r.Context(), w.stats(pipeline))
	if err != nil {
		return "", pageData{}, 0, err
	}
	var mw movedWindow
	if len(ds.Rows) == 0 && !chosen {
		var moved bool
		if w, moved, err = a.moveToNewest(r.Context(), &mw, w, pipeline, uiRoot+"detections"); err != nil {
			return "", pageData{}, 0, err
		}
		if moved {
			if ds, err = a.store.DetectionStats(r.Context(), w.stats(pipeline)); err != nil {
				return "", pageData{}, 0, err
			}
		}
	}
	// The counts start at ds.Since (the newest runs of a large window):
	// so do the links and the chart.
	q := w.runs()
	q.Pipeline, q.Since = pipeline, timeParam(ds.Since)
	sampled := w
	sampled.Since = ds.Since
	v := detectionsView{Sampled: ds.Since.After(w.Since), Since: ds.Since, SampleRuns: store.DetectionSampleRuns, Window: w, Windows: windowNames(), Pipeline: pipeline, Capped: len(ds.Rows) == store.MaxDetectionRows, movedWindow: mw}
	for _, row := range ds.Rows {
		dr := detectionRow{DetectionCount: row}
		link := func(string, time.Time, time.Time) string { return "" }
		if row.Rule != "" && row.Node != "" { // else no filter selects exactly these runs
			x := q
			x.Rule, x.Node = row.Rule, row.Node
			dr.RunsURL = x.URL()
			link = func(_ string, from, to time.Time) string {
				y := x
				y.Since, y.Until = timeParam(from), timeParam(to)
				return y.URL()
			}
		}
		counts := make(map[time.Time]map[string]int, len(row.Buckets))
		for _, b := range row.Buckets {
			counts[b.Start] = map[string]int{sparkSeries: b.N}
		}
		dr.Spark = newBarChart(sparkChart, sampled, []string{sparkSeries}, counts, link,
			"detections of "+orNone(row.Rule, "(no rule)")+" on "+orNone(row.Node, "(run)")+" over time")
		v.Rows = append(v.Rows, dr)
	}
	v.Chart = newBarChart(pageChart, sampled, severityOrder, seriesCounts(ds.Series), func(sev string, from, to time.Time) string {
		x := q
		x.Severity, x.Since, x.Until = sev, timeParam(from), timeParam(to)
		return x.URL()
	}, "detections per severity over time")
	return "detections", pageData{Title: "Detections", Nav: "detections", Body: v}, http.StatusOK, nil
}

// orNone is s, or what the table shows for an empty one.
func orNone(s, none string) string {
	if s == "" {
		return none
	}
	return s
}
