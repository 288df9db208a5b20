package argusdetector

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/internal/annotation"
	"github.com/arguslabs/argus-otel/internal/detect"
)

type analyzedRun struct {
	run *agentrun.Run
	res detect.Result
}

// analyze maps one released trace to runs, detects, and writes the findings
// onto its spans. partial marks a trace released before it was complete.
// A panic in mapping or detection leaves the spans exactly as they came.
// It returns false for a trace that is no run (runs.keep): that one is
// only marked skipped.
func (p *argusProcessor) analyze(td ptrace.Traces, partial bool) bool {
	start := time.Now()
	runs, kept, ok := p.detectSafely(td)
	if !kept {
		p.skip(td)
		return false
	}
	annotation.ClearSkipped(td)
	if !ok || len(runs) == 0 {
		return true
	}
	spans := indexSpans(td)
	ctx := context.Background()
	for _, ar := range runs {
		annotateRun(spans, ar.run, ar.res, partial)
		p.tel.Runs.Add(ctx, 1, metric.WithAttributes(attribute.String("status", ar.res.Status)))
		for _, f := range ar.res.Findings {
			p.tel.Detections.Add(ctx, 1, metric.WithAttributes(
				attribute.String("layer", f.Layer), attribute.String("severity", f.Severity)))
		}
	}
	for _, s := range spans.all {
		s.Attributes().PutBool(annotation.AttrAnalyzed, true)
	}
	p.tel.DetectionDuration.Record(ctx, time.Since(start).Seconds())
	return true
}

// detectSafely runs mapping and detection; nothing is written onto the
// spans until both finished, so a panic leaves the trace untouched (and
// kept, as before there was a choice). kept is false for a trace that is
// no run: it is not analysed.
func (p *argusProcessor) detectSafely(td ptrace.Traces) (out []analyzedRun, kept, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			p.tel.DetectionPanics.Add(context.Background(), 1)
			p.logRarely("detection panicked; trace forwarded unannotated",
				zap.String("panic", fmt.Sprint(r)), zap.Stack("stack"))
			out, kept, ok = nil, true, false
		}
	}()
	runs := p.mapRuns(td, agentrun.Options{})
	if !p.runs.keep(td, runs) {
		return nil, false, true
	}
	for _, run := range runs {
		if run == nil {
			continue
		}
		out = append(out, analyzedRun{run: run, res: p.baselines.analyze(run, &p.detectCfg)})
	}
	return out, true, true
}

type spanIndex struct {
	byID map[string]ptrace.Span // hex span id -> span
	all  []ptrace.Span
}

func indexSpans(td ptrace.Traces) spanIndex {
	idx := spanIndex{byID: make(map[string]ptrace.Span, td.SpanCount())}
	for s := range agentrun.Spans(td) {
		idx.all = append(idx.all, s)
		id := s.SpanID().String()
		// With duplicate span ids the first one wins, as in the mapping.
		if _, dup := idx.byID[id]; !dup {
			idx.byID[id] = s
		}
	}
	return idx
}

// runSpan is the span that carries run-level annotations: the root, or
// without one, the earliest span (ties broken by span id, so the choice is
// the same on every replay).
func (idx spanIndex) runSpan(run *agentrun.Run) (ptrace.Span, bool) {
	if s, ok := idx.byID[run.RootSpanID]; ok && run.RootSpanID != "" {
		return s, true
	}
	var best ptrace.Span
	found := false
	for _, s := range idx.all {
		if !found || s.StartTimestamp() < best.StartTimestamp() ||
			(s.StartTimestamp() == best.StartTimestamp() && s.SpanID().String() < best.SpanID().String()) {
			best, found = s, true
		}
	}
	return best, found
}

func annotateRun(idx spanIndex, run *agentrun.Run, res detect.Result, partial bool) {
	root, ok := idx.runSpan(run)
	if !ok {
		return
	}
	stepSpan := func(step int) (ptrace.Span, string) {
		if step >= 0 && step < len(run.Steps) {
			if s, ok := idx.byID[run.Steps[step].SpanID]; ok {
				return s, run.Steps[step].SpanID
			}
			return root, run.Steps[step].SpanID
		}
		return root, ""
	}
	for _, f := range res.Findings {
		target, _ := stepSpan(f.Step)
		details := f.Details
		if details == nil {
			details = map[string]any{}
		}
		annotation.AddDetection(target, annotation.Detection{
			ID:       f.ID,
			Layer:    f.Layer,
			Severity: f.Severity,
			Rule:     f.Rule,
			Message:  f.Message,
			Node:     f.Node,
			Details:  agentrun.JSON(details),
		})
	}
	annotation.SetRunStatus(root, res.Status, len(res.Findings))
	if partial {
		root.Attributes().PutBool(annotation.AttrPartial, true)
	}
	if fz := res.Forensics; fz != nil {
		var rcSpan, rcNode string
		if fz.RootCauseStep >= 0 && fz.RootCauseStep < len(run.Steps) {
			_, rcSpan = stepSpan(fz.RootCauseStep)
			rcNode = run.Steps[fz.RootCauseStep].Node
		}
		chain := fz.Chain
		if chain == nil {
			chain = []detect.Link{}
		}
		annotation.AddForensics(root, annotation.Forensics{
			ID:            fz.ID,
			RootCauseSpan: rcSpan,
			RootCauseNode: rcNode,
			CausalChain:   agentrun.JSON(chain),
			DetectionIDs:  fz.DetectionIDs,
			Confidence:    fz.Confidence,
			Explanation:   fz.Explanation,
		})
	}
}
