package argusapi

import (
	"net/http"
	"time"

	"github.com/arguslabs/argus-otel/store"
)

// runsView is the runs list.
type runsView struct {
	Query      runsQuery
	Runs       []runRow
	OlderURL   string
	NewerURL   string
	Statuses   []string
	Severities []string
	Limit      int
	// SearchedTo: the filter's search stopped at this run's start (see
	// store.RunsPage.Searched); OlderURL searches on.
	SearchedTo *time.Time
	Searched   int
}

type runRow struct {
	store.Run
	URL        string
	InProgress bool
}

// uiRuns: GET /ui/runs, newest first, a keyset page at a time.
func (a *api) uiRuns(r *http.Request) (string, pageData, int, error) {
	f, q, err := parseRunsQuery(r.URL)
	if err != nil {
		return "", pageData{}, 0, err
	}
	page, err := a.store.ListRuns(r.Context(), f)
	if err != nil {
		return "", pageData{}, 0, err
	}
	v := runsView{Query: q, Statuses: traceStatuses, Severities: severities, Limit: f.Limit}
	for _, run := range page.Runs {
		v.Runs = append(v.Runs, runRow{Run: run, URL: uiRoot + "runs/" + pathEscape(run.ID), InProgress: run.InProgress()})
	}
	if page.Searched != nil {
		v.SearchedTo, v.Searched = &page.Searched.CreatedAt, store.MaxRunsSearched
	}
	nav := q
	nav.Before, nav.After = "", ""
	if page.Older != nil {
		o := nav
		o.Before = page.Older.String()
		v.OlderURL = o.URL()
	}
	if page.Newer != nil {
		n := nav
		n.After = page.Newer.String()
		v.NewerURL = n.URL()
	}
	return "runs", pageData{Title: "Runs", Nav: "runs", Body: v}, http.StatusOK, nil
}
