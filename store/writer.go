package store

import (
	"context"
	"slices"
	"time"
)

// batchTx is what WriteBatch needs from a driver inside one transaction.
// The merge rules live in writeBatch, once for both drivers.
type batchTx interface {
	// lockTraces serializes writers of the same traces (PostgreSQL advisory
	// locks; SQLite already holds its single write lock).
	lockTraces(ctx context.Context, ids []string) error
	loadTraces(ctx context.Context, ids []string) (map[string]*storedTrace, error)
	upsertTraces(ctx context.Context, rows []Trace) error
	// tracesWithSteps returns which of ids already have stored steps.
	tracesWithSteps(ctx context.Context, ids []string) (map[string]bool, error)
	// existingSteps returns which of the step ids are stored.
	existingSteps(ctx context.Context, ids []string) (map[string]bool, error)
	upsertSteps(ctx context.Context, steps []Step) error
	upsertDetections(ctx context.Context, ds []Detection) error
	upsertForensics(ctx context.Context, fs []Forensics) error
	stepOrder(ctx context.Context, traceIDs []string) ([]stepOrder, error)
	setStepNumbers(ctx context.Context, changes []numberChange) error
	// reattachDetections links run-level detections whose details.step_ref
	// names a step of these traces that is now stored.
	reattachDetections(ctx context.Context, traceIDs []string) error
	// unrootedForensics returns the forensics rows of these traces without
	// a root cause step.
	unrootedForensics(ctx context.Context, traceIDs []string) ([]Forensics, error)
	// recount sets node_count and detection_count from the stored rows.
	recount(ctx context.Context, ids []string) error
	// addRunCounts applies changes to run_counts (runcounts.go).
	addRunCounts(ctx context.Context, counts []runCount) error
	// deleteOthers deletes the steps, detections and forensics of the
	// traces ids whose ids are not in keep (TraceUpdate.Replace).
	deleteOthers(ctx context.Context, ids []string, keep replaceKeep) error
}

// replaceKeep is the rows a replacing batch holds, by table.
type replaceKeep struct {
	steps, detections, forensics []string
}

// writeBatch applies a normalized batch inside tx.
func writeBatch(ctx context.Context, tx batchTx, nb *normBatch) error {
	if err := tx.lockTraces(ctx, nb.traceIDs); err != nil {
		return err
	}
	stored, err := tx.loadTraces(ctx, nb.traceIDs)
	if err != nil {
		return err
	}
	rows := make([]Trace, 0, len(nb.traces))
	first := nb.firstStepTimes()
	replaced := map[string]bool{}
	for _, u := range nb.traces {
		start := first[u.Trace.ID]
		if start.IsZero() {
			start = time.Now().UTC()
		}
		prev := stored[u.Trace.ID]
		if prev != nil && !prev.row.InProgress() && u.Trace.InProgress() {
			// A run already analysed stays so: spans that arrive after it
			// completed are merged and do not make it in progress again.
			u.Trace.Metadata = withoutAnalysis(u.Trace.Metadata)
		}
		if u.Replace && (prev == nil || prev.row.InProgress()) {
			prev = nil // written as if new: the whole run is in the batch
			replaced[u.Trace.ID] = true
		}
		m, err := mergeTrace(prev, u, start)
		if err != nil {
			return err
		}
		rows = append(rows, m.row)
	}
	if err := tx.upsertTraces(ctx, rows); err != nil {
		return err
	}
	if err := tx.addRunCounts(ctx, runCountDeltas(stored, rows)); err != nil {
		return err
	}
	if len(replaced) > 0 {
		// Before the step references are resolved below, so nothing
		// links to a step that is about to go.
		if err := deleteReplaced(ctx, tx, nb, replaced); err != nil {
			return err
		}
	}

	// Late spans: traces that already had steps get renumbered after the
	// new steps are in. A replaced trace is numbered by its batch.
	var late []string
	if len(nb.steps) > 0 {
		had, err := tx.tracesWithSteps(ctx, nb.traceIDs)
		if err != nil {
			return err
		}
		for _, id := range nb.traceIDs {
			if had[id] && !replaced[id] {
				late = append(late, id)
			}
		}
	}

	// A reference to a step neither in the batch nor stored is kept as
	// data (details.step_ref / the causal chain), never as a failing FK.
	inBatch := make(map[string]bool, len(nb.steps))
	for _, s := range nb.steps {
		inBatch[s.ID] = true
	}
	var probe []string
	for _, d := range nb.detections {
		if d.StepID != "" && !inBatch[d.StepID] {
			probe = append(probe, d.StepID)
		}
	}
	for _, f := range nb.forensics {
		if f.RootCauseStep != "" && !inBatch[f.RootCauseStep] {
			probe = append(probe, f.RootCauseStep)
		}
	}
	exists := map[string]bool{}
	if len(probe) > 0 {
		if exists, err = tx.existingSteps(ctx, probe); err != nil {
			return err
		}
	}
	// Copies: a retried transaction must start again from the batch as given.
	dets := slices.Clone(nb.detections)
	fors := slices.Clone(nb.forensics)
	for i := range dets {
		d := &dets[i]
		if d.StepID != "" && !inBatch[d.StepID] && !exists[d.StepID] {
			d.Details = withStepRef(d.Details, d.StepID)
			d.StepID = ""
		}
	}
	for i := range fors {
		f := &fors[i]
		if f.RootCauseStep != "" && !inBatch[f.RootCauseStep] && !exists[f.RootCauseStep] {
			f.CausalChain = withRootRef(f.CausalChain, f.RootCauseStep)
			f.RootCauseStep = ""
		}
	}

	if len(nb.steps) > 0 {
		if err := tx.upsertSteps(ctx, nb.steps); err != nil {
			return err
		}
	}
	if len(dets) > 0 {
		if err := tx.upsertDetections(ctx, dets); err != nil {
			return err
		}
	}
	if len(fors) > 0 {
		if err := tx.upsertForensics(ctx, fors); err != nil {
			return err
		}
	}
	if len(nb.steps) > 0 {
		if err := reattach(ctx, tx, nb); err != nil {
			return err
		}
	}
	if len(late) > 0 {
		order, err := tx.stepOrder(ctx, late)
		if err != nil {
			return err
		}
		if ch := renumber(order); len(ch) > 0 {
			if err := tx.setStepNumbers(ctx, ch); err != nil {
				return err
			}
		}
	}
	return tx.recount(ctx, nb.traceIDs)
}

// deleteReplaced deletes the stored rows of the replaced traces that the
// batch does not hold: steps a mapping of part of the run made that the
// whole run's mapping does not have, and the detections and forensics of
// an earlier analysis.
func deleteReplaced(ctx context.Context, tx batchTx, nb *normBatch, replaced map[string]bool) error {
	ids := make([]string, 0, len(replaced))
	for _, id := range nb.traceIDs {
		if replaced[id] {
			ids = append(ids, id)
		}
	}
	var keep replaceKeep
	for _, s := range nb.steps {
		if replaced[s.TraceID] {
			keep.steps = append(keep.steps, s.ID)
		}
	}
	for _, d := range nb.detections {
		if replaced[d.TraceID] {
			keep.detections = append(keep.detections, d.ID)
		}
	}
	for _, f := range nb.forensics {
		if replaced[f.TraceID] {
			keep.forensics = append(keep.forensics, f.ID)
		}
	}
	return tx.deleteOthers(ctx, ids, keep)
}

// reattach links rows that named a step before it arrived (spans of one
// trace split over several batches): detections get their step_id back and
// forensics their root_cause_step, with the placeholder removed.
func reattach(ctx context.Context, tx batchTx, nb *normBatch) error {
	seen := map[string]bool{}
	var traces []string
	for _, s := range nb.steps {
		if !seen[s.TraceID] {
			seen[s.TraceID] = true
			traces = append(traces, s.TraceID)
		}
	}
	if err := tx.reattachDetections(ctx, traces); err != nil {
		return err
	}
	fs, err := tx.unrootedForensics(ctx, traces)
	if err != nil || len(fs) == 0 {
		return err
	}
	var refs []string
	for _, f := range fs {
		if ref := rootRef(f.CausalChain); ref != "" {
			refs = append(refs, ref)
		}
	}
	if len(refs) == 0 {
		return nil
	}
	exists, err := tx.existingSteps(ctx, refs)
	if err != nil {
		return err
	}
	var fixed []Forensics
	for _, f := range fs {
		if ref := rootRef(f.CausalChain); ref != "" && exists[ref] {
			f.RootCauseStep = ref
			f.CausalChain = withoutRootRef(f.CausalChain)
			fixed = append(fixed, f)
		}
	}
	if len(fixed) == 0 {
		return nil
	}
	return tx.upsertForensics(ctx, fixed)
}
