package store

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/arguslabs/argus-otel/internal/vocab"
)

// normBatch is a validated, cleaned copy of a TraceBatch with rows deduplicated
// by primary key (the last occurrence wins).
type normBatch struct {
	traces     []TraceUpdate // one per trace id, in first-seen order
	traceIDs   []string      // sorted
	steps      []Step
	detections []Detection
	forensics  []Forensics
}

func normalizeBatch(b TraceBatch) (*normBatch, error) {
	nb := &normBatch{}
	traceIdx := map[string]int{}
	for i, u := range b.Traces {
		u.Trace.ID = capID(cleanText(u.Trace.ID))
		if u.Trace.ID == "" {
			return nil, invalidf("trace %d: empty id", i)
		}
		if u.Trace.Status == "" {
			u.Trace.Status = vocab.StatusOK
		}
		if _, ok := StatusRank[u.Trace.Status]; !ok {
			return nil, invalidf("trace %q: unknown status %q (want %s)", u.Trace.ID, u.Trace.Status, strings.Join(vocab.Statuses, "|"))
		}
		u.Trace.PipelineName = capName(cleanText(u.Trace.PipelineName))
		u.BatchKey = cleanText(u.BatchKey)
		var err error
		if err := checkSetTime(fmt.Sprintf("trace %q start", u.Trace.ID), u.Trace.CreatedAt); err != nil {
			return nil, err
		}
		if err := checkSetTime(fmt.Sprintf("trace %q end", u.Trace.ID), u.End); err != nil {
			return nil, err
		}
		if u.Trace.Metadata, err = cleanJSON(u.Trace.Metadata, "{}", objectJSON, fmt.Sprintf("trace %q metadata", u.Trace.ID)); err != nil {
			return nil, err
		}
		if j, ok := traceIdx[u.Trace.ID]; ok {
			// Two updates of one trace in one batch: fold them first.
			prev := nb.traces[j]
			merged, err := mergeTrace(&storedTrace{row: prev.Trace, end: updateEnd(prev)}, u, time.Time{})
			if err != nil {
				return nil, err
			}
			prev.Trace, prev.End = merged.row, merged.end
			prev.HasRoot = prev.HasRoot || u.HasRoot
			prev.Replace = prev.Replace || u.Replace
			nb.traces[j] = prev
			continue
		}
		traceIdx[u.Trace.ID] = len(nb.traces)
		nb.traces = append(nb.traces, u)
	}
	// Rows may name a trace the batch has no update for: the trace row is
	// created (or kept) so that its rows are never lost.
	need := func(id string) {
		if _, ok := traceIdx[id]; !ok {
			traceIdx[id] = len(nb.traces)
			nb.traces = append(nb.traces, TraceUpdate{Trace: Trace{ID: id, Status: vocab.StatusOK, Metadata: json.RawMessage("{}")}})
		}
	}

	stepIdx := map[string]int{}
	for _, s := range b.Steps {
		s.ID, s.TraceID, s.NodeName = capID(cleanText(s.ID)), capID(cleanText(s.TraceID)), capName(cleanText(s.NodeName))
		if s.ID == "" || s.TraceID == "" {
			return nil, invalidf("step %q of trace %q: empty id or trace id", s.ID, s.TraceID)
		}
		what := fmt.Sprintf("step %q ", s.ID)
		var err error
		clean := cleanJSON
		if s.StatesChecked {
			clean = cleanCheckedJSON
		}
		if s.InputState, err = clean(s.InputState, "null", anyJSON, what+"input_state"); err != nil {
			return nil, err
		}
		if s.OutputState, err = clean(s.OutputState, "null", anyJSON, what+"output_state"); err != nil {
			return nil, err
		}
		if s.Metadata, err = cleanJSON(s.Metadata, "{}", objectJSON, what+"metadata"); err != nil {
			return nil, err
		}
		s.Timestamp = s.Timestamp.UTC()
		if err := checkSetTime(what+"timestamp", s.Timestamp); err != nil {
			return nil, err
		}
		need(s.TraceID)
		if j, ok := stepIdx[s.ID]; ok {
			nb.steps[j] = s
			continue
		}
		stepIdx[s.ID] = len(nb.steps)
		nb.steps = append(nb.steps, s)
	}

	detIdx := map[string]int{}
	for _, d := range b.Detections {
		d.ID, d.TraceID, d.StepID, d.Message = capID(cleanText(d.ID)), capID(cleanText(d.TraceID)), capID(cleanText(d.StepID)), cleanText(d.Message)
		if d.ID == "" || d.TraceID == "" {
			return nil, invalidf("detection %q of trace %q: empty id or trace id", d.ID, d.TraceID)
		}
		if !slices.Contains(Layers, d.Layer) {
			return nil, invalidf("detection %q: unknown layer %q (want %s)", d.ID, d.Layer, strings.Join(Layers, "|"))
		}
		if _, ok := SeverityRank[d.Severity]; !ok {
			return nil, invalidf("detection %q: unknown severity %q (want %s)", d.ID, d.Severity, strings.Join(vocab.Severities, "|"))
		}
		var err error
		if d.Details, err = cleanJSON(d.Details, "{}", objectJSON, fmt.Sprintf("detection %q details", d.ID)); err != nil {
			return nil, err
		}
		d.CreatedAt = d.CreatedAt.UTC()
		if err := checkSetTime(fmt.Sprintf("detection %q created_at", d.ID), d.CreatedAt); err != nil {
			return nil, err
		}
		need(d.TraceID)
		if j, ok := detIdx[d.ID]; ok {
			nb.detections[j] = d
			continue
		}
		detIdx[d.ID] = len(nb.detections)
		nb.detections = append(nb.detections, d)
	}

	forIdx := map[string]int{}
	for _, f := range b.Forensics {
		f.ID, f.TraceID, f.RootCauseStep, f.Explanation = capID(cleanText(f.ID)), capID(cleanText(f.TraceID)), capID(cleanText(f.RootCauseStep)), cleanText(f.Explanation)
		if f.ID == "" || f.TraceID == "" {
			return nil, invalidf("forensics %q of trace %q: empty id or trace id", f.ID, f.TraceID)
		}
		what := fmt.Sprintf("forensics %q ", f.ID)
		var err error
		if f.DetectionIDs, err = cleanJSON(f.DetectionIDs, "[]", arrayJSON, what+"detection_ids"); err != nil {
			return nil, err
		}
		if f.CausalChain, err = cleanJSON(f.CausalChain, "[]", arrayOrObjectJSON, what+"causal_chain"); err != nil {
			return nil, err
		}
		f.CreatedAt = f.CreatedAt.UTC()
		if err := checkSetTime(what+"created_at", f.CreatedAt); err != nil {
			return nil, err
		}
		need(f.TraceID)
		if j, ok := forIdx[f.ID]; ok {
			nb.forensics[j] = f
			continue
		}
		forIdx[f.ID] = len(nb.forensics)
		nb.forensics = append(nb.forensics, f)
	}

	for id := range traceIdx {
		nb.traceIDs = append(nb.traceIDs, id)
	}
	slices.Sort(nb.traceIDs)
	return nb, nil
}

// firstStepTimes maps each trace of the batch to its earliest step time:
// the start of a trace the batch carries no update for.
func (nb *normBatch) firstStepTimes() map[string]time.Time {
	out := map[string]time.Time{}
	for _, s := range nb.steps {
		if t, ok := out[s.TraceID]; !s.Timestamp.IsZero() && (!ok || s.Timestamp.Before(t)) {
			out[s.TraceID] = s.Timestamp
		}
	}
	return out
}
