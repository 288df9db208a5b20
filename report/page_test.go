package report_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/arguslabs/argus-otel/report"
	"github.com/arguslabs/argus-otel/report/reporttest"
	"github.com/arguslabs/argus-otel/store"
)

// TestBuildPageEqualsWhole: the pages of a long run, put together, are the
// whole run's report: the same steps (status, state changes, root cause),
// the same detections, and on every page the whole run's summary. Both
// drivers.
func TestBuildPageEqualsWhole(t *testing.T) {
	for _, s := range []struct {
		name string
		open func(testing.TB) (store.Store, string)
	}{{"sqlite", reporttest.SQLite}, {"postgres", reporttest.Postgres}} {
		t.Run(s.name, func(t *testing.T) {
			ctx := context.Background()
			st, _ := s.open(t)
			const n = 530
			reporttest.Seed(t, st, reporttest.Long(n, 10))
			full, err := st.GetTrace(ctx, reporttest.LongID)
			if err != nil {
				t.Fatal(err)
			}
			whole := report.Build(full, report.Options{})

			var steps []report.Step
			dets := map[string]report.Detection{}
			after, pages := 0, 0
			for {
				r, err := report.BuildPage(ctx, st, reporttest.LongID, store.StepWindow{After: after, Limit: 100}, report.Options{})
				if err != nil {
					t.Fatal(err)
				}
				pages++
				if r.StepsPage == nil || r.StepsPage.TotalSteps != n || r.StepsPage.After != after {
					t.Fatalf("page %d: steps_page %+v", pages, r.StepsPage)
				}
				if !sameSummary(r.Summary, whole.Summary) {
					t.Errorf("page %d summary %+v, want %+v", pages, r.Summary, whole.Summary)
				}
				steps = append(steps, r.Steps...)
				for _, d := range r.Detections {
					dets[d.ID] = d
				}
				if !r.StepsPage.More {
					break
				}
				after = r.StepsPage.LastStep
			}
			if pages != 6 {
				t.Errorf("%d pages, want 6", pages)
			}
			if got, want := mustJSON(t, steps), mustJSON(t, whole.Steps); !bytes.Equal(got, want) {
				t.Errorf("paged steps differ from the whole run's")
			}
			for i := range whole.Steps {
				if i < len(steps) && !sameChanges(steps[i].Changes, whole.Steps[i].Changes) {
					t.Fatalf("step %d changes %+v, want %+v", i+1, steps[i].Changes, whole.Steps[i].Changes)
				}
			}
			if len(dets) != len(whole.Detections) {
				t.Errorf("%d detections over the pages, want %d", len(dets), len(whole.Detections))
			}

			// A page far from the root cause still names it, and the HTML
			// links to the neighbouring pages given.
			r, err := report.BuildPage(ctx, st, reporttest.LongID, store.StepWindow{After: 300, Limit: 100}, report.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if rc := r.Summary.RootCause; rc == nil || rc.StepNumber != 10 || rc.NodeName != "node3" {
				t.Errorf("root cause off the page: %+v", rc)
			}
			var html bytes.Buffer
			if err := r.WritePagedHTML(&html, report.Pager{Prev: "?stepsAfter=200", Next: "?stepsAfter=400"}); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"Steps 301–400 of 530", `href="?stepsAfter=200"`, `href="?stepsAfter=400"`, "<!DOCTYPE html>"} {
				if !strings.Contains(html.String(), want) {
					t.Errorf("paged HTML lacks %q", want)
				}
			}
			var frag bytes.Buffer
			if err := r.WriteHTMLFragment(&frag, report.Pager{}); err != nil {
				t.Fatal(err)
			}
			if f := frag.String(); strings.Contains(f, "<html") || strings.Contains(f, "<style") || !strings.HasPrefix(f, "<header class=\"banner") {
				t.Errorf("fragment is not the body alone: %.200s", f)
			}

			// A run that fits on one page is Build's report exactly.
			reporttest.Seed(t, st)
			one, err := report.BuildPage(ctx, st, reporttest.FailedID, store.StepWindow{}, report.Options{})
			if err != nil {
				t.Fatal(err)
			}
			f, err := st.GetTrace(ctx, reporttest.FailedID)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(mustJSON(t, one), mustJSON(t, report.Build(f, report.Options{}))) {
				t.Error("one-page run: BuildPage differs from Build")
			}
		})
	}
}

// sameSummary compares summaries including the root cause's contents.
func sameSummary(a, b report.Summary) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// sameChanges compares changes with their before/after values (the JSON
// form leaves them out).
func sameChanges(a, b []report.Change) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Field != b[i].Field || a[i].Kind != b[i].Kind || !bytes.Equal(a[i].Before, b[i].Before) || !bytes.Equal(a[i].After, b[i].After) {
			return false
		}
	}
	return true
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
