package store

import (
	"context"
	"database/sql"
	"fmt"
)

// Step pages: what one read of a run holds at most, so a run of any size is
// read in bounded memory (issue #16: a 100,000-step run read whole was
// 81 MB of JSON).
const (
	DefaultStepPage      = 200
	MaxStepPage          = 1000
	DefaultStepPageBytes = 4 << 20
	// MaxRunLevelDetections bounds the run-level detections one page holds.
	MaxRunLevelDetections = 1000
)

// StepWindow selects consecutive steps of one run in step order.
type StepWindow struct {
	After int // steps with step_number > After
	Limit int // at most this many (0 = DefaultStepPage, at most MaxStepPage)
	// MaxBytes ends the window early once the states and metadata read
	// reach it (0 = DefaultStepPageBytes). The first step is always
	// included, so a window always moves on.
	MaxBytes int
}

// RunPage is one run with a window of its steps.
type RunPage struct {
	// Full holds the trace, the window's steps, their detections and the
	// run-level ones, and every forensics row.
	Full
	After      int  // the window's After
	TotalSteps int  // steps of the whole run
	More       bool // steps after the window
	// Detections of the whole run, by severity.
	Critical, Warning, Info int
}

// Whole reports whether the page holds every step of the run.
func (p *RunPage) Whole() bool { return p.After == 0 && !p.More }

// StepSummary is a step without its states, with the worst severity of the
// detections linked to it: what a report needs of the steps outside a page.
type StepSummary struct {
	Step
	WorstSeverity string // "" when no detection is linked
}

func (w StepWindow) check() (StepWindow, error) {
	switch {
	case w.After < 0:
		return w, invalidf("steps after must not be negative, got %d", w.After)
	case w.Limit < 0 || w.Limit > MaxStepPage:
		return w, invalidf("step limit %d is not from 1 to %d", w.Limit, MaxStepPage)
	case w.MaxBytes < 0:
		return w, invalidf("step page bytes must not be negative, got %d", w.MaxBytes)
	}
	if w.Limit == 0 {
		w.Limit = DefaultStepPage
	}
	if w.MaxBytes == 0 {
		w.MaxBytes = DefaultStepPageBytes
	}
	return w, nil
}

// GetRunPage reads a run with one window of its steps, in one snapshot.
func (b *base) GetRunPage(ctx context.Context, id string, w StepWindow) (*RunPage, error) {
	w, err := w.check()
	if err != nil {
		return nil, err
	}
	p := &RunPage{After: w.After}
	err = b.withReadTx(ctx, func(tx *sql.Tx) error {
		ph := b.d.ph
		tr, err := scanTrace(tx.QueryRowContext(ctx, "SELECT "+traceCols+" FROM traces t WHERE t.id = "+ph(1), id))
		if err != nil {
			return err
		}
		p.Trace = tr
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM trace_steps s WHERE s.trace_id = "+ph(1), id).Scan(&p.TotalSteps); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, "SELECT "+
			"COALESCE(sum(CASE WHEN d.severity = 'critical' THEN 1 ELSE 0 END), 0), "+
			"COALESCE(sum(CASE WHEN d.severity = 'warning' THEN 1 ELSE 0 END), 0), "+
			"COALESCE(sum(CASE WHEN d.severity NOT IN ('critical', 'warning') THEN 1 ELSE 0 END), 0) "+
			"FROM detections d WHERE d.trace_id = "+ph(1), id).Scan(&p.Critical, &p.Warning, &p.Info); err != nil {
			return err
		}
		// The window: one row more than the limit says whether more
		// follow; the byte budget may end it sooner.
		rows, err := tx.QueryContext(ctx, "SELECT "+stepCols+" FROM trace_steps s WHERE s.trace_id = "+ph(1)+
			" AND s.step_number > "+ph(2)+" ORDER BY s.step_number, s.id LIMIT "+ph(3), id, w.After, w.Limit+1)
		if err != nil {
			return err
		}
		defer rows.Close()
		bytes := 0
		p.Steps = []Step{}
		for rows.Next() {
			if len(p.Steps) == w.Limit || (len(p.Steps) > 0 && bytes >= w.MaxBytes) {
				p.More = true
				break
			}
			s, err := scanStep(rows)
			if err != nil {
				return err
			}
			bytes += len(s.InputState) + len(s.OutputState) + len(s.Metadata)
			p.Steps = append(p.Steps, s)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		// Step numbers are unique within a run once stored (late spans
		// are renumbered), so the window is a step-number range.
		p.Detections = []Detection{}
		if len(p.Steps) > 0 {
			first, last := p.Steps[0].StepNumber, p.Steps[len(p.Steps)-1].StepNumber
			q := &sqlBuilder{d: b.d}
			q.cond("d.trace_id = %s", id)
			q.cond("s.trace_id = %s", id)
			q.cond("s.step_number BETWEEN %s AND %s", first, last)
			if p.Detections, err = queryAll(ctx, tx, scanDetection, "SELECT "+detectionCols+
				" FROM detections d JOIN trace_steps s ON s.id = d.step_id"+q.whereSQL()+
				" ORDER BY s.step_number, d.created_at, d.id", q.args...); err != nil {
				return err
			}
		}
		runLevel, err := queryAll(ctx, tx, scanDetection, "SELECT "+detectionCols+
			" FROM detections d WHERE d.trace_id = "+ph(1)+" AND (d.step_id IS NULL OR NOT EXISTS"+
			" (SELECT 1 FROM trace_steps s WHERE s.id = d.step_id)) ORDER BY d.created_at, d.id LIMIT "+ph(2), id, MaxRunLevelDetections)
		if err != nil {
			return err
		}
		p.Detections = append(runLevel, p.Detections...)
		p.Forensics, err = queryAll(ctx, tx, scanForensics, "SELECT "+forensicsCols+
			" FROM forensics f WHERE f.trace_id = "+ph(1)+" ORDER BY f.created_at, f.id", id)
		return err
	})
	if err != nil {
		return nil, wrapRead(fmt.Sprintf("get run %q", id), err)
	}
	return p, nil
}

// EachStep calls fn with every step of a run in step order, one row at a
// time, so a run of any length is read in constant memory. The outputs are
// read only for steps numbered at most statesUpTo, and the input of the
// first step only when statesUpTo > 0 (the rest come nil): a report needs
// the merged state before its page, and only the metadata after it.
func (b *base) EachStep(ctx context.Context, id string, statesUpTo int, fn func(StepSummary) error) error {
	q := &sqlBuilder{d: b.d}
	// The merged state starts from the first step's input; no other input
	// is read. (Arguments are bound in the order they appear: SQLite's are
	// "?".)
	input := "CASE WHEN " + q.arg(statesUpTo) + " > 0 AND s.step_number = (SELECT min(f.step_number) FROM trace_steps f" +
		" WHERE f.trace_id = " + q.arg(id) + ") THEN s.input_state END"
	output := "CASE WHEN s.step_number <= " + q.arg(statesUpTo) + " THEN s.output_state END"
	// The worst severity per step: on PostgreSQL aggregated once for the
	// run and hash-joined (a probe per step was half the time on 100,000
	// steps); SQLite probes detections_step_idx per step, 5x faster there
	// than its join with the aggregate.
	worst, rank := "", "(SELECT max("+severityRankSQL("d.severity")+") FROM detections d WHERE d.step_id = s.id)"
	if b.d.postgres {
		worst = " LEFT JOIN (SELECT d.step_id, max(" + severityRankSQL("d.severity") + ") AS r FROM detections d" +
			" WHERE d.trace_id = " + q.arg(id) + " AND d.step_id IS NOT NULL GROUP BY d.step_id) w ON w.step_id = s.id"
		rank = "w.r"
	}
	q.cond("s.trace_id = %s", id)
	err := b.withReadTx(ctx, func(tx *sql.Tx) error {
		// Step numbers are unique in a stored run, so the index order is
		// the order.
		rows, err := tx.QueryContext(ctx, "SELECT s.id, s.trace_id, s.step_number, s.node_name, "+input+", "+output+
			", s.duration_ms, s.timestamp, s.metadata, COALESCE("+rank+", 0) FROM trace_steps s"+worst+q.whereSQL()+
			" ORDER BY s.step_number, s.id", q.args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var s StepSummary
			var rank int
			if err := rows.Scan(&s.ID, &s.TraceID, &s.StepNumber, &s.NodeName, jsonCol{&s.InputState},
				jsonCol{&s.OutputState}, &s.DurationMs, tsCol{&s.Timestamp}, jsonCol{&s.Metadata}, &rank); err != nil {
				return err
			}
			s.WorstSeverity = severityOfRank(rank)
			if err := fn(s); err != nil {
				return err
			}
		}
		return rows.Err()
	})
	if err != nil {
		return wrapRead(fmt.Sprintf("steps of %q", id), err)
	}
	return nil
}

// severityRankSQL is SeverityRank as a SQL expression over col.
func severityRankSQL(col string) string {
	return "CASE " + col + " WHEN 'critical' THEN 3 WHEN 'warning' THEN 2 WHEN 'info' THEN 1 ELSE 0 END"
}

// severityOfRank inverts SeverityRank ("" for 0 or out of range).
func severityOfRank(rank int) string {
	for s, r := range SeverityRank {
		if r == rank {
			return s
		}
	}
	return ""
}
