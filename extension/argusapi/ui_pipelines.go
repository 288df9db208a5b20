package argusapi

import (
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/arguslabs/argus-otel/internal/vocab"
	"github.com/arguslabs/argus-otel/store"
)

// pipelinesView is the pipelines page: each pipeline's health over a window.
type pipelinesView struct {
	Window    window
	Windows   []string
	Pipeline  string // the filter, "" for all
	Pipelines []pipelineView
	Capped    bool // more pipelines than store.MaxPipelines had runs
	Sample    int  // store.LatencySampleRuns
	TopSample int  // store.TopSampleRuns
	// Others: the pipelines with runs that are not shown above, newest
	// last run first, so a pipeline that went quiet does not vanish
	// (OthersCapped: the first store.MaxLastRuns by name were looked at).
	Others       []otherPipeline
	OthersCapped bool
	MaxOthers    int
	movedWindow
}

// otherPipeline is a pipeline with runs that has no chart on the page.
type otherPipeline struct {
	store.LastRun
	Note      string // what is known of its runs in the window
	WindowURL string // this window's name, up to its last run
	RunsURL   string // all its runs
}

type pipelineView struct {
	store.PipelineStats
	Chart        barChart
	AllURL       string
	StatusURL    map[string]string
	RuleURL      map[string]string
	RootCauseURL map[string]string
	NodeURL      map[string]string
	FailureRate  string
}

// statusOrder stacks the chart's bars: failures at the bottom, where the
// eye starts (the run statuses of internal/vocab, worst first).
var statusOrder = worstFirst(vocab.Statuses)

// uiPipelines: GET /ui/, the home page.
func (a *api) uiPipelines(r *http.Request) (string, pageData, int, error) {
	w, pipeline, chosen, err := windowParams(r)
	if err != nil {
		return "", pageData{}, 0, err
	}
	ctx := r.Context()
	stats, err := a.store.PipelineStats(ctx, w.stats(pipeline))
	if err != nil {
		return "", pageData{}, 0, err
	}
	v := pipelinesView{Windows: windowNames(), Pipeline: pipeline, Sample: store.LatencySampleRuns,
		TopSample: store.TopSampleRuns, MaxOthers: store.MaxLastRuns}
	if len(stats) == 0 && !chosen {
		var moved bool
		if w, moved, err = a.moveToNewest(ctx, &v.movedWindow, w, pipeline, uiRoot); err != nil {
			return "", pageData{}, 0, err
		}
		if moved {
			if stats, err = a.store.PipelineStats(ctx, w.stats(pipeline)); err != nil {
				return "", pageData{}, 0, err
			}
		}
	}
	v.Window, v.Capped = w, len(stats) == store.MaxPipelines
	last, err := a.store.LastRuns(ctx, pipeline)
	if err != nil {
		return "", pageData{}, 0, err
	}
	v.Others, v.OthersCapped = otherPipelines(w, stats, last), len(last) == store.MaxLastRuns
	for _, s := range stats {
		q := w.runs()
		q.Pipeline = s.Pipeline
		pv := pipelineView{PipelineStats: s, AllURL: q.URL(), StatusURL: map[string]string{},
			RuleURL: map[string]string{}, RootCauseURL: map[string]string{}, NodeURL: map[string]string{}}
		for _, st := range traceStatuses {
			x := q
			x.Status = st
			pv.StatusURL[st] = x.URL()
		}
		// The top lists count the newest runs since TopSince: so do
		// their links.
		top := q
		top.Since = timeParam(s.TopSince)
		for _, c := range s.TopRules {
			x := top
			x.Rule = c.Key
			pv.RuleURL[c.Key] = x.URL()
		}
		for _, c := range s.TopRootCauses {
			x := top
			x.RootCause = c.Key
			pv.RootCauseURL[c.Key] = x.URL()
		}
		for _, n := range s.NodeLatency {
			x := q
			x.Node = n.Node
			pv.NodeURL[n.Node] = x.URL()
		}
		pv.Chart = newBarChart(pageChart, w, statusOrder, seriesCounts(s.Series), func(status string, from, to time.Time) string {
			x := q
			x.Status, x.Since, x.Until = status, timeParam(from), timeParam(to)
			return x.URL()
		}, "runs of "+s.Pipeline+" per status over time")
		v.Pipelines = append(v.Pipelines, pv)
	}
	return "pipelines", pageData{Title: "Pipelines", Nav: "pipelines", Body: v}, http.StatusOK, nil
}

// otherPipelines are the pipelines of last that stats has no chart for,
// newest last run first, each with what is known of its runs in w and
// links to the window up to its last run and to all its runs.
func otherPipelines(w window, stats []store.PipelineStats, last []store.LastRun) []otherPipeline {
	shown := map[string]bool{}
	for _, s := range stats {
		shown[s.Pipeline] = true
	}
	var out []otherPipeline
	for _, l := range last {
		if shown[l.Pipeline] {
			continue
		}
		o := otherPipeline{LastRun: l, RunsURL: runsQuery{Pipeline: l.Pipeline}.URL()}
		switch {
		case !l.At.Before(w.Since) && l.At.Before(w.Until):
			o.Note = fmt.Sprintf("not among the %d busiest in this window", store.MaxPipelines)
		case l.At.Before(w.Since) || len(stats) < store.MaxPipelines:
			// Every pipeline with runs in w has a chart unless capped.
			o.Note = "no runs in this window"
		}
		if up, err := windowUpTo(w.Name, l.At); err == nil {
			o.WindowURL = up.URL(uiRoot, l.Pipeline)
		}
		out = append(out, o)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.After(out[j].At) })
	return out
}
