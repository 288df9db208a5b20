package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/arguslabs/argus-otel/internal/vocab"
	"github.com/google/uuid"
)

const (
	traceCols     = `t.id, t.created_at, t.pipeline_name, t.status, t.duration_ms, t.node_count, t.detection_count, t.metadata`
	stepCols      = `s.id, s.trace_id, s.step_number, s.node_name, s.input_state, s.output_state, s.duration_ms, s.timestamp, s.metadata`
	detectionCols = `d.id, d.trace_id, d.step_id, d.layer, d.severity, d.message, d.details, d.created_at`
	forensicsCols = `f.id, f.trace_id, f.root_cause_step, f.detection_ids, f.explanation, f.causal_chain, f.created_at`
	auditCols     = `id, timestamp, trace_id, status, event_type, action, actor_type, actor_id, target_type, target_id, metadata, created_at`
)

type scanner interface{ Scan(dest ...any) error }

func scanTrace(r scanner) (Trace, error) {
	var t Trace
	err := r.Scan(&t.ID, tsCol{&t.CreatedAt}, &t.PipelineName, &t.Status, &t.DurationMs,
		&t.NodeCount, &t.DetectionCount, jsonCol{&t.Metadata})
	return t, err
}

func scanStep(r scanner) (Step, error) {
	var s Step
	err := r.Scan(&s.ID, &s.TraceID, &s.StepNumber, &s.NodeName, jsonCol{&s.InputState},
		jsonCol{&s.OutputState}, &s.DurationMs, tsCol{&s.Timestamp}, jsonCol{&s.Metadata})
	return s, err
}

func scanDetection(r scanner) (Detection, error) {
	var d Detection
	err := r.Scan(&d.ID, &d.TraceID, strCol{&d.StepID}, &d.Layer, &d.Severity, &d.Message,
		jsonCol{&d.Details}, tsCol{&d.CreatedAt})
	return d, err
}

func scanForensics(r scanner) (Forensics, error) {
	var f Forensics
	err := r.Scan(&f.ID, &f.TraceID, strCol{&f.RootCauseStep}, jsonCol{&f.DetectionIDs},
		&f.Explanation, jsonCol{&f.CausalChain}, tsCol{&f.CreatedAt})
	return f, err
}

func scanAudit(r scanner) (AuditLog, error) {
	var a AuditLog
	err := r.Scan(&a.ID, tsCol{&a.Timestamp}, strCol{&a.TraceID}, &a.Status, strCol{&a.EventType},
		strCol{&a.Action}, &a.ActorType, &a.ActorID, &a.TargetType, strCol{&a.TargetID},
		jsonCol{&a.Metadata}, tsCol{&a.CreatedAt})
	return a, err
}

// queryAll runs q and scans every row with scan.
func queryAll[T any](ctx context.Context, tx *sql.Tx, scan func(scanner) (T, error), q string, args ...any) ([]T, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// page checks limit and offset; limit 0 means 100.
func page(limit, offset int) (int, error) {
	switch {
	case limit < 0:
		return 0, invalidf("limit must not be negative, got %d", limit)
	case limit > MaxLimit:
		return 0, invalidf("limit %d exceeds the maximum %d", limit, MaxLimit)
	case offset < 0:
		return 0, invalidf("offset must not be negative, got %d", offset)
	case limit == 0:
		return 100, nil
	}
	return limit, nil
}

// severitiesAtLeast lists the severities ranked at or above min.
func severitiesAtLeast(min string) ([]string, error) {
	r, ok := SeverityRank[min]
	if !ok {
		return nil, invalidf("unknown severity %q (want %s)", min, strings.Join(vocab.Severities, "|"))
	}
	var out []string
	for s, sr := range SeverityRank {
		if sr >= r {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (b *base) traceWhere(f TraceFilter) (*sqlBuilder, error) {
	q := &sqlBuilder{d: b.d}
	if err := b.rangeWhere(q, f); err != nil {
		return nil, err
	}
	if err := b.probeWhere(q, f); err != nil {
		return nil, err
	}
	return q, nil
}

// rangeWhere adds the filters an index range answers: pipeline, status,
// trace id, since, until.
func (b *base) rangeWhere(q *sqlBuilder, f TraceFilter) error {
	if f.Pipeline != "" {
		q.cond("t.pipeline_name = %s", f.Pipeline)
	}
	if f.Status != "" {
		if _, ok := StatusRank[f.Status]; !ok {
			return invalidf("unknown status %q (want %s)", f.Status, strings.Join(vocab.Statuses, "|"))
		}
		q.cond("t.status = %s", f.Status)
	}
	if f.TraceID != "" {
		q.cond("t.id = %s", f.TraceID)
	}
	if !f.Since.IsZero() {
		q.cond("t.created_at >= %s", b.d.ts(f.Since))
	}
	if !f.Until.IsZero() {
		q.cond("t.created_at < %s", b.d.ts(f.Until))
	}
	return nil
}

// probed reports whether f has filters checked run by run (probeWhere).
func (f TraceFilter) probed() bool {
	return f.MinSeverity != "" || f.Node != "" || f.Rule != "" || f.RootCause != ""
}

// probeWhere adds the filters checked run by run, each an index probe
// (migration 3): minimum severity, node, rule, root cause.
func (b *base) probeWhere(q *sqlBuilder, f TraceFilter) error {
	if f.MinSeverity != "" {
		rank, ok := SeverityRank[f.MinSeverity]
		if !ok {
			return invalidf("unknown severity %q (want %s)", f.MinSeverity, strings.Join(vocab.Severities, "|"))
		}
		// The run's worst detection, read through detections_trace_idx:
		// a condition on d.severity itself let SQLite probe by severity
		// and scan every detection of it for each run.
		q.cond("(SELECT max("+severityRankSQL("d.severity")+") FROM detections d WHERE d.trace_id = t.id) >= %s", rank)
	}
	rule := b.d.jsonText("d.details", "rule")
	switch {
	case f.Rule != "" && f.Node != "":
		// Together they mean "the rule fired on that node" (a run-level
		// detection names its node in details), as the detections page
		// counts them.
		q.cond("EXISTS (SELECT 1 FROM detections d LEFT JOIN trace_steps s ON s.id = d.step_id WHERE "+rule+
			" = %s AND d.trace_id = t.id AND COALESCE(s.node_name, "+b.d.jsonText("d.details", "node")+") = %s)", f.Rule, f.Node)
	case f.Node != "":
		q.cond("EXISTS (SELECT 1 FROM trace_steps s WHERE s.node_name = %s AND s.trace_id = t.id)", f.Node)
	case f.Rule != "":
		q.cond("EXISTS (SELECT 1 FROM detections d WHERE "+rule+" = %s AND d.trace_id = t.id)", f.Rule)
	}
	if f.RootCause != "" {
		q.cond("EXISTS (SELECT 1 FROM forensics f JOIN trace_steps s ON s.id = f.root_cause_step"+
			" WHERE f.trace_id = t.id AND s.node_name = %s)", f.RootCause)
	}
	return nil
}

// ListTraces returns a page of traces, newest first (ties by id, descending),
// and how many match in all.
func (b *base) ListTraces(ctx context.Context, f TraceFilter) ([]Trace, int, error) {
	limit, err := page(f.Limit, f.Offset)
	if err != nil {
		return nil, 0, err
	}
	q, err := b.traceWhere(f)
	if err != nil {
		return nil, 0, err
	}
	var out []Trace
	var total int
	err = b.withReadTx(ctx, func(tx *sql.Tx) error {
		where := q.whereSQL()
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM traces t"+where, q.args...).Scan(&total); err != nil {
			return err
		}
		args := slices.Clone(q.args)
		pq := &sqlBuilder{d: b.d, args: args}
		lim, off := pq.arg(limit), pq.arg(f.Offset)
		out, err = queryAll(ctx, tx, scanTrace, "SELECT "+traceCols+" FROM traces t"+where+
			" ORDER BY t.created_at DESC, t.id DESC LIMIT "+lim+" OFFSET "+off, pq.args...)
		return err
	})
	if err != nil {
		return nil, 0, wrapRead("list traces", err)
	}
	return out, total, nil
}

// GetTrace returns one trace with its steps, detections and forensics.
func (b *base) GetTrace(ctx context.Context, id string) (*Full, error) {
	var full *Full
	err := b.withReadTx(ctx, func(tx *sql.Tx) (err error) {
		full, err = b.full(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, wrapRead(fmt.Sprintf("get trace %q", id), err)
	}
	return full, nil
}

// Last returns the most recent trace matching f, in full.
func (b *base) Last(ctx context.Context, f TraceFilter) (*Full, error) {
	if _, err := page(0, f.Offset); err != nil {
		return nil, err
	}
	q, err := b.traceWhere(f)
	if err != nil {
		return nil, err
	}
	var full *Full
	err = b.withReadTx(ctx, func(tx *sql.Tx) error {
		off := q.arg(f.Offset)
		var id string
		err := tx.QueryRowContext(ctx, "SELECT t.id FROM traces t"+q.whereSQL()+
			" ORDER BY t.created_at DESC, t.id DESC LIMIT 1 OFFSET "+off, q.args...).Scan(&id)
		if err != nil {
			return err
		}
		full, err = b.full(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, wrapRead("last trace", err)
	}
	return full, nil
}

func (b *base) full(ctx context.Context, tx *sql.Tx, id string) (*Full, error) {
	p := b.d.ph(1)
	tr, err := scanTrace(tx.QueryRowContext(ctx, "SELECT "+traceCols+" FROM traces t WHERE t.id = "+p, id))
	if err != nil {
		return nil, err
	}
	full := &Full{Trace: tr}
	if full.Steps, err = queryAll(ctx, tx, scanStep, "SELECT "+stepCols+" FROM trace_steps s WHERE s.trace_id = "+p+
		" ORDER BY s.step_number, s.timestamp, s.id", id); err != nil {
		return nil, err
	}
	if full.Detections, err = queryAll(ctx, tx, scanDetection, "SELECT "+detectionCols+
		" FROM detections d LEFT JOIN trace_steps s ON s.id = d.step_id WHERE d.trace_id = "+p+
		" ORDER BY s.step_number NULLS LAST, d.created_at, d.id", id); err != nil {
		return nil, err
	}
	if full.Forensics, err = queryAll(ctx, tx, scanForensics, "SELECT "+forensicsCols+
		" FROM forensics f WHERE f.trace_id = "+p+" ORDER BY f.created_at, f.id", id); err != nil {
		return nil, err
	}
	return full, nil
}

// ListDetections returns a page of detections, newest first (ties by id,
// descending), and how many match in all.
func (b *base) ListDetections(ctx context.Context, f DetectionFilter) ([]Detection, int, error) {
	limit, err := page(f.Limit, f.Offset)
	if err != nil {
		return nil, 0, err
	}
	q := &sqlBuilder{d: b.d}
	if f.TraceID != "" {
		q.cond("d.trace_id = %s", f.TraceID)
	}
	if f.Layer != "" {
		if !slices.Contains(Layers, f.Layer) {
			return nil, 0, invalidf("unknown layer %q (want %s)", f.Layer, strings.Join(Layers, "|"))
		}
		q.cond("d.layer = %s", f.Layer)
	}
	if f.Severity != "" {
		if _, ok := SeverityRank[f.Severity]; !ok {
			return nil, 0, invalidf("unknown severity %q (want %s)", f.Severity, strings.Join(vocab.Severities, "|"))
		}
		q.cond("d.severity = %s", f.Severity)
	}
	if f.MinSeverity != "" {
		sev, err := severitiesAtLeast(f.MinSeverity)
		if err != nil {
			return nil, 0, err
		}
		q.in("d.severity", sev)
	}
	if f.Node != "" {
		// A run-level detection (or one whose step never arrived) names its
		// node in details.
		q.cond("COALESCE(s.node_name, "+b.d.jsonText("d.details", "node")+") = %s", f.Node)
	}
	if !f.Since.IsZero() {
		q.cond("d.created_at >= %s", b.d.ts(f.Since))
	}
	from := " FROM detections d LEFT JOIN trace_steps s ON s.id = d.step_id" + q.whereSQL()
	var out []Detection
	var total int
	err = b.withReadTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, "SELECT count(*)"+from, q.args...).Scan(&total); err != nil {
			return err
		}
		pq := &sqlBuilder{d: b.d, args: slices.Clone(q.args)}
		lim, off := pq.arg(limit), pq.arg(f.Offset)
		out, err = queryAll(ctx, tx, scanDetection, "SELECT "+detectionCols+from+
			" ORDER BY d.created_at DESC, d.id DESC LIMIT "+lim+" OFFSET "+off, pq.args...)
		return err
	})
	if err != nil {
		return nil, 0, wrapRead("list detections", err)
	}
	return out, total, nil
}

// InsertAuditLogs stores logs in one transaction. A log without ID or
// CreatedAt gets one, written back into the slice so the caller can answer
// with the stored record. A duplicate ID fails the call (permanently).
func (b *base) InsertAuditLogs(ctx context.Context, logs []AuditLog) error {
	return b.insertAuditLogs(ctx, logs, true)
}

// insertAuditLogs inserts logs in one transaction, committed, or rolled
// back for a probe (ProbeWrite).
func (b *base) insertAuditLogs(ctx context.Context, logs []AuditLog, commit bool) error {
	if len(logs) == 0 {
		return nil
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	metas := make([]any, len(logs))
	for i := range logs {
		a := &logs[i]
		if a.ID == "" {
			a.ID = uuid.NewString()
		}
		a.ID, a.TraceID, a.Status, a.EventType = capID(cleanText(a.ID)), capID(cleanText(a.TraceID)), capName(cleanText(a.Status)), capName(cleanText(a.EventType))
		a.Action, a.ActorType, a.ActorID = capName(cleanText(a.Action)), capName(cleanText(a.ActorType)), capID(cleanText(a.ActorID))
		a.TargetType, a.TargetID = capName(cleanText(a.TargetType)), capID(cleanText(a.TargetID))
		if a.Timestamp.IsZero() {
			return invalidf("audit log %d: timestamp is required", i)
		}
		if err := checkTime(fmt.Sprintf("audit log %d: timestamp", i), a.Timestamp); err != nil {
			return err
		}
		if a.CreatedAt.IsZero() {
			a.CreatedAt = now
		}
		if err := checkTime(fmt.Sprintf("audit log %d: createdAt", i), a.CreatedAt); err != nil {
			return err
		}
		a.Timestamp = a.Timestamp.UTC().Truncate(time.Millisecond)
		a.CreatedAt = a.CreatedAt.UTC().Truncate(time.Millisecond)
		if len(a.Metadata) > 0 {
			m, err := cleanJSON(a.Metadata, "", objectJSON, fmt.Sprintf("audit log %d metadata", i))
			if err != nil {
				return err
			}
			a.Metadata = m
			metas[i] = string(m)
			if b.d.postgres {
				metas[i] = []byte(m)
			}
		}
	}
	cols := strings.Split(auditCols, ", ")
	phs := make([]string, len(cols))
	for i := range phs {
		phs[i] = b.d.ph(i + 1)
	}
	ins := "INSERT INTO audit_logs (" + auditCols + ") VALUES (" + strings.Join(phs, ", ") + ")"
	err := b.withWriteTx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, ins)
		if err != nil {
			return err
		}
		defer st.Close()
		for i, a := range logs {
			if _, err := st.ExecContext(ctx, a.ID, b.d.ts(a.Timestamp), nullable(a.TraceID), a.Status,
				nullable(a.EventType), nullable(a.Action), a.ActorType, a.ActorID, a.TargetType,
				nullable(a.TargetID), metas[i], b.d.ts(a.CreatedAt)); err != nil {
				return fmt.Errorf("audit log %q: %w", a.ID, err)
			}
		}
		if !commit {
			return errRolledBack
		}
		return nil
	})
	if errors.Is(err, errRolledBack) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("storage: insert audit logs: %w", err)
	}
	return nil
}

// ListAuditLogs returns a page of audit logs, newest first by timestamp
// (ties by id, descending), and how many match in all.
func (b *base) ListAuditLogs(ctx context.Context, f AuditFilter) ([]AuditLog, int, error) {
	limit, err := page(f.Limit, f.Offset)
	if err != nil {
		return nil, 0, err
	}
	q := &sqlBuilder{d: b.d}
	for _, c := range []struct{ col, v string }{
		{"trace_id", f.TraceID}, {"event_type", f.EventType}, {"status", f.Status},
		{"action", f.Action}, {"actor_id", f.ActorID},
	} {
		if c.v != "" {
			q.cond(c.col+" = %s", c.v)
		}
	}
	if !f.Since.IsZero() {
		q.cond("timestamp >= %s", b.d.ts(f.Since))
	}
	if !f.Until.IsZero() {
		q.cond("timestamp < %s", b.d.ts(f.Until))
	}
	where := q.whereSQL()
	var out []AuditLog
	var total int
	err = b.withReadTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM audit_logs"+where, q.args...).Scan(&total); err != nil {
			return err
		}
		pq := &sqlBuilder{d: b.d, args: slices.Clone(q.args)}
		lim, off := pq.arg(limit), pq.arg(f.Offset)
		out, err = queryAll(ctx, tx, scanAudit, "SELECT "+auditCols+" FROM audit_logs"+where+
			" ORDER BY timestamp DESC, id DESC LIMIT "+lim+" OFFSET "+off, pq.args...)
		return err
	})
	if err != nil {
		return nil, 0, wrapRead("list audit logs", err)
	}
	return out, total, nil
}

// wrapRead maps "no row" to ErrNotFound and names the operation.
func wrapRead(op string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("storage: %s: %w", op, ErrNotFound)
	}
	return fmt.Errorf("storage: %s: %w", op, err)
}
