package argusapi

import (
	"net/http"
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
	w, pipeline, err := windowParams(r)
	if err != nil {
		return "", pageData{}, 0, err
	}
	stats, err := a.store.PipelineStats(r.Context(), w.stats(pipeline))
	if err != nil {
		return "", pageData{}, 0, err
	}
	v := pipelinesView{Window: w, Windows: windowNames(), Pipeline: pipeline,
		Capped: len(stats) == store.MaxPipelines, Sample: store.LatencySampleRuns,
		TopSample: store.TopSampleRuns}
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
		counts := map[time.Time]map[string]int{}
		for _, b := range s.Series {
			counts[b.Start] = b.Counts
		}
		pv.Chart = newBarChart(w, statusOrder, counts, func(status string, from, to time.Time) string {
			x := q
			x.Status, x.Since, x.Until = status, timeParam(from), timeParam(to)
			return x.URL()
		}, "runs of "+s.Pipeline+" per status over time")
		v.Pipelines = append(v.Pipelines, pv)
	}
	return "pipelines", pageData{Title: "Pipelines", Nav: "pipelines", Body: v}, http.StatusOK, nil
}
