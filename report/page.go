package report

import (
	"context"

	"github.com/arguslabs/argus-otel/store"
)

// Source is the part of store.Store a paged report reads.
type Source interface {
	GetRunPage(ctx context.Context, id string, w store.StepWindow) (*store.RunPage, error)
	EachStep(ctx context.Context, id string, statesUpTo int, fn func(store.StepSummary) error) error
}

// pageRest is what a page's report needs from the steps off the page.
type pageRest struct {
	before          mergedState // merged state before the page (nil: from the page's first step)
	outside         map[string]*Step
	page            StepsPage
	failed, warning int
	detections      SeverityCounts
	spanMs          int64
}

func (p *pageRest) step(id string) *Step {
	if p == nil || id == "" {
		return nil
	}
	return p.outside[id]
}

// BuildPage builds the report of one page of a run's steps in memory
// bounded by the page, whatever the run's length: the page is read whole,
// the other steps one row at a time for the summary, the merged state
// before the page and the steps the forensics name. A run that fits on the
// page gives exactly Build's report.
func BuildPage(ctx context.Context, src Source, id string, w store.StepWindow, opts Options) (*Report, error) {
	p, err := src.GetRunPage(ctx, id, w)
	if err != nil {
		return nil, err
	}
	if p.Whole() {
		return Build(&p.Full, opts), nil
	}
	rest := &pageRest{
		outside:    map[string]*Step{},
		page:       StepsPage{TotalSteps: p.TotalSteps, After: p.After, More: p.More},
		detections: SeverityCounts{Critical: p.Critical, Warning: p.Warning, Info: p.Info},
	}
	if n := len(p.Steps); n > 0 {
		rest.page.FirstStep, rest.page.LastStep = p.Steps[0].StepNumber, p.Steps[n-1].StepNumber
	}
	onPage := map[string]bool{}
	for _, s := range p.Steps {
		onPage[s.ID] = true
	}
	named := map[string]bool{}
	for _, f := range p.Forensics {
		named[f.RootCauseStep] = true
		for _, l := range decodeLinks(f.CausalChain) {
			named[l.FromStepID], named[l.ToStepID] = true, true
		}
	}
	err = src.EachStep(ctx, id, p.After, func(s store.StepSummary) error {
		if p.After > 0 {
			if rest.before == nil {
				rest.before = startState(s.InputState)
			}
			if s.StepNumber <= p.After {
				rest.before.fold(s.OutputState)
			}
		}
		status := worse(stepBaseStatus(s.Metadata), severityStatus(s.WorstSeverity))
		switch status {
		case StatusFailed:
			rest.failed++
		case StatusWarning:
			rest.warning++
		}
		rest.spanMs = max(rest.spanMs, offsetMs(p.Trace.CreatedAt, s.Timestamp)+s.DurationMs)
		if named[s.ID] && !onPage[s.ID] && s.ID != "" {
			rest.outside[s.ID] = &Step{ID: s.ID, StepNumber: s.StepNumber, NodeName: s.NodeName, Status: status}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return build(&p.Full, opts, rest), nil
}
