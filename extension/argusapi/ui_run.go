package argusapi

import (
	"bytes"
	"html/template"
	"net/http"
	"net/url"

	"github.com/arguslabs/argus-otel/report"
	"github.com/arguslabs/argus-otel/store"
)

// runView is the run page: the report's body, with links around it.
type runView struct {
	ID         string
	Pipeline   string
	InProgress bool
	Report     template.HTML // rendered by the report package's html/template
	PrevURL    string
	NextURL    string
	RunsURL    string
	JSONURL    string
	MDURL      string
	HTMLURL    string
}

// uiRun: GET /ui/runs/{id}, the run's report, a page of steps at a time
// (stepsAfter, stepsLimit), as a heavy read.
func (a *api) uiRun(r *http.Request) (string, pageData, int, error) {
	p, err := checkParams(formValues(r.URL), "stepsAfter", "stepsLimit")
	if err != nil {
		return "", pageData{}, 0, err
	}
	rep, release, err := a.buildPage(r, p)
	if err != nil {
		return "", pageData{}, 0, err
	}
	defer release()
	var frag bytes.Buffer
	if err := rep.WriteHTMLFragment(&frag, stepPager(r.URL, rep.StepsPage)); err != nil {
		return "", pageData{}, 0, &apiError{status: http.StatusInternalServerError, msg: "render report", details: err.Error()}
	}
	id := r.PathValue("id")
	prev, next, err := a.store.Neighbors(r.Context(), id)
	if err != nil {
		return "", pageData{}, 0, err
	}
	api := "/api/traces/" + pathEscape(id)
	v := runView{
		ID: id, Pipeline: rep.Trace.PipelineName, InProgress: runInProgress(rep),
		Report:  template.HTML(frag.String()), //nolint:gosec // html/template output, every value escaped
		RunsURL: runsQuery{Pipeline: rep.Trace.PipelineName}.URL(),
		JSONURL: api, MDURL: api + "/report?format=markdown", HTMLURL: api + "/report?format=html",
	}
	if prev != "" {
		v.PrevURL = uiRoot + "runs/" + pathEscape(prev)
	}
	if next != "" {
		v.NextURL = uiRoot + "runs/" + pathEscape(next)
	}
	title := rep.Trace.Status + " · " + rep.Trace.PipelineName
	return "run", pageData{Title: title, Nav: "runs", ReportCSS: true, Body: v}, http.StatusOK, nil
}

// runInProgress asks store.Trace, the one reader of the analysis key.
func runInProgress(rep *report.Report) bool {
	return store.Trace{Metadata: rep.Trace.Metadata}.InProgress()
}

func pathEscape(s string) string { return url.PathEscape(s) }
