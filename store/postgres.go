package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// pgStore writes batches with pgx directly (COPY into staging tables, then
// one INSERT ... ON CONFLICT per table) and shares the rest of its code with
// SQLite through database/sql over the same pool.
type pgStore struct {
	base
	pool *pgxpool.Pool
	// lz4 is whether the server can compress TOASTed values with lz4
	// (PostgreSQL 14+ built with lz4).
	lz4 bool
}

func openPostgres(ctx context.Context, cfg Config) (Store, error) {
	pc, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		// pgx redacts the password in its parse errors.
		return nil, fmt.Errorf("storage: invalid postgres dsn: %w", err)
	}
	where := fmt.Sprintf("%s:%d (database %q, user %q)", pc.ConnConfig.Host, pc.ConnConfig.Port,
		pc.ConnConfig.Database, pc.ConnConfig.User)
	if cfg.MaxConns > 0 {
		pc.MaxConns = int32(cfg.MaxConns)
	} else {
		pc.MaxConns = defaultPGConns
	}
	if pc.ConnConfig.ConnectTimeout == 0 {
		pc.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("storage: postgres at %s: %w", where, err)
	}
	var readOnly string
	var lz4 bool
	if err := pool.QueryRow(ctx, `SELECT current_setting('transaction_read_only'), EXISTS (
		SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals))`).
		Scan(&readOnly, &lz4); err != nil {
		pool.Close()
		return nil, fmt.Errorf("storage: cannot connect to postgres at %s: %w", where, err)
	}
	if readOnly == "on" {
		pool.Close()
		return nil, fmt.Errorf("storage: postgres at %s is read-only (a standby?)", where)
	}
	db := stdlib.OpenDBFromPool(pool)
	return &pgStore{base: base{d: dialect{postgres: true}, read: db, write: db}, pool: pool, lz4: lz4}, nil
}

func (s *pgStore) Driver() string { return DriverPostgres }

func (s *pgStore) Close() error {
	err := s.read.Close()
	s.pool.Close()
	return err
}

func (s *pgStore) WriteBatch(ctx context.Context, b TraceBatch) error {
	return s.writeBatch(ctx, b, true)
}

// writeBatch writes b in one transaction, committed, or rolled back for a
// probe (ProbeWrite).
func (s *pgStore) writeBatch(ctx context.Context, b TraceBatch, commit bool) error {
	nb, err := normalizeBatch(b)
	if err != nil {
		return err
	}
	if len(nb.traceIDs) == 0 {
		return nil
	}
	write := func(upsertAll bool) error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if err := writeBatch(ctx, &pgTx{tx: tx, lz4: s.lz4, upsertAll: upsertAll}, nb); err != nil || commit {
				return err
			}
			return errRolledBack
		})
	}
	err = write(false)
	if IsDuplicate(err) {
		// Only the direct COPY of new ids can raise it: a concurrent batch
		// of another trace stored one of them first (ids shared between
		// traces). The upsert path merges such rows as it always has.
		err = write(true)
	}
	if errors.Is(err, errRolledBack) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("storage: write batch: %w", err)
	}
	return nil
}

func (s *pgStore) ProbeWrite(ctx context.Context, table string) error {
	return probeWrite(ctx, s, table)
}

// Staging tables live per session and empty themselves at commit; creating
// them inside the batch's transaction (IF NOT EXISTS) keeps the writer
// working behind a transaction-pooling proxy too. Only batches that upsert
// stored rows touch them: a transaction that uses a temp table pays for
// truncating every ON COMMIT DELETE ROWS table at commit (~1.3 ms).
const (
	stageSteps = `CREATE TEMP TABLE IF NOT EXISTS argus_stage_steps (
		id text, trace_id text, step_number int, node_name text, input_state jsonb,
		output_state jsonb, duration_ms bigint, "timestamp" timestamptz, metadata jsonb
	) ON COMMIT DELETE ROWS`
	stageDetections = `CREATE TEMP TABLE IF NOT EXISTS argus_stage_detections (
		id text, trace_id text, step_id text, layer text, severity text, message text,
		details jsonb, created_at timestamptz
	) ON COMMIT DELETE ROWS`
)

type pgTx struct {
	tx  pgx.Tx
	lz4 bool
	// upsertAll sends every row through the upsert, new ids included.
	upsertAll bool
}

// Trace locks: a trace id hashes to one of lockSlots advisory locks (two-key
// form, first key lockClass). Bounding the slots bounds the locks one batch
// takes, as advisory locks share PostgreSQL's fixed-size lock table
// (max_locks_per_transaction); two traces sharing a slot only wait.
const (
	lockClass = 1095911235
	lockSlots = 256
)

func lockSlotsFor(ids []string) []int32 {
	var used [lockSlots]bool
	for _, id := range ids {
		h := fnv.New32a()
		_, _ = h.Write([]byte(id))
		used[h.Sum32()%lockSlots] = true
	}
	var out []int32
	for i, u := range used {
		if u {
			out = append(out, int32(i))
		}
	}
	return out
}

// lockTraces takes the slots of the batch's traces in ascending order (so
// batches never deadlock on them), making two batches of one trace merge
// one after the other.
func (t *pgTx) lockTraces(ctx context.Context, ids []string) error {
	var b pgx.Batch
	if t.lz4 {
		// States of 1-20 KiB are TOASTed and compressed. With pglz (the
		// default) that was ~2/3 of the server's time of a write; lz4 costs
		// about as little as no compression, for ~40% more disk than pglz
		// and half of none (BenchmarkPostgresFloor). Only values this
		// transaction compresses are affected; reads decode both.
		b.Queue(`SET LOCAL default_toast_compression = lz4`)
	}
	b.Queue(`SELECT count(pg_advisory_xact_lock($1, s)) FROM unnest($2::int[]) AS s`, int32(lockClass), lockSlotsFor(ids))
	return t.tx.SendBatch(ctx, &b).Close()
}

func (t *pgTx) loadTraces(ctx context.Context, ids []string) (map[string]*storedTrace, error) {
	rows, err := t.tx.Query(ctx, `SELECT `+traceCols+` FROM traces t WHERE t.id = ANY($1)`, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]*storedTrace{}
	for rows.Next() {
		var tr Trace
		var meta []byte
		if err := rows.Scan(&tr.ID, &tr.CreatedAt, &tr.PipelineName, &tr.Status, &tr.DurationMs,
			&tr.NodeCount, &tr.DetectionCount, &meta); err != nil {
			return nil, err
		}
		tr.Metadata = meta
		out[tr.ID] = decodeStored(tr)
	}
	return out, rows.Err()
}

func (t *pgTx) upsertTraces(ctx context.Context, rows []Trace) error {
	n := len(rows)
	ids, pipes, stats, metas := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	created, durs := make([]time.Time, n), make([]int64, n)
	d := dialect{postgres: true}
	for i, r := range rows {
		ids[i], pipes[i], stats[i], metas[i] = r.ID, r.PipelineName, r.Status, string(r.Metadata)
		created[i], durs[i] = d.ts(r.CreatedAt).(time.Time), r.DurationMs
	}
	_, err := t.tx.Exec(ctx, `INSERT INTO traces
		(id, created_at, pipeline_name, status, duration_ms, node_count, detection_count, metadata)
		SELECT u.id, u.created_at, u.pipeline_name, u.status, u.duration_ms, 0, 0, u.metadata::jsonb
		FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::bigint[], $6::text[])
			AS u(id, created_at, pipeline_name, status, duration_ms, metadata)
		ON CONFLICT (id) DO UPDATE SET created_at = EXCLUDED.created_at,
			pipeline_name = EXCLUDED.pipeline_name, status = EXCLUDED.status,
			duration_ms = EXCLUDED.duration_ms, metadata = EXCLUDED.metadata`,
		ids, created, pipes, stats, durs, metas)
	return err
}

func (t *pgTx) stringSet(ctx context.Context, q string, ids []string) (map[string]bool, error) {
	rows, err := t.tx.Query(ctx, q, ids)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	var id string
	_, err = pgx.ForEachRow(rows, []any{&id}, func() error {
		out[id] = true
		return nil
	})
	return out, err
}

func (t *pgTx) tracesWithSteps(ctx context.Context, ids []string) (map[string]bool, error) {
	return t.stringSet(ctx, `SELECT DISTINCT trace_id FROM trace_steps WHERE trace_id = ANY($1)`, ids)
}

func (t *pgTx) existingSteps(ctx context.Context, ids []string) (map[string]bool, error) {
	return t.stringSet(ctx, `SELECT id FROM trace_steps WHERE id = ANY($1)`, ids)
}

// Most rows a batch brings are new (a run's spans usually arrive in one
// request), so new ids are COPYed straight into their table and only rows
// already stored (late spans, a batch written again) go through a staging
// table and the upsert that replaces them. The trace locks keep other
// batches of these traces out until commit, and ids name their trace, so the
// split holds; should a concurrent batch of another trace store one of the
// ids first, WriteBatch runs again upserting every row.

var (
	stepCopyCols = []string{"id", "trace_id", "step_number", "node_name", "input_state", "output_state",
		"duration_ms", "timestamp", "metadata"}
	detectionCopyCols = []string{"id", "trace_id", "step_id", "layer", "severity", "message", "details", "created_at"}
)

func (t *pgTx) upsertSteps(ctx context.Context, steps []Step) error {
	ids := make([]string, len(steps))
	for i := range steps {
		ids[i] = steps[i].ID
	}
	stored, err := t.existingSteps(ctx, ids)
	if err != nil {
		return err
	}
	fresh, again := splitStored(steps, stored, t.upsertAll, func(s *Step) string { return s.ID })
	d := dialect{postgres: true}
	row := func(s *Step) []any {
		return []any{s.ID, s.TraceID, int32(s.StepNumber), s.NodeName, []byte(s.InputState),
			[]byte(s.OutputState), s.DurationMs, d.ts(s.Timestamp), []byte(s.Metadata)}
	}
	if err := copyRows(ctx, t.tx, "trace_steps", stepCopyCols, fresh, row); err != nil {
		return fmt.Errorf("copy steps: %w", err)
	}
	if len(again) == 0 {
		return nil
	}
	if _, err := t.tx.Exec(ctx, stageSteps); err != nil {
		return err
	}
	if err := copyRows(ctx, t.tx, "argus_stage_steps", stepCopyCols, again, row); err != nil {
		return fmt.Errorf("copy steps: %w", err)
	}
	_, err = t.tx.Exec(ctx, `INSERT INTO trace_steps
		(id, trace_id, step_number, node_name, input_state, output_state, duration_ms, timestamp, metadata)
		SELECT id, trace_id, step_number, node_name, input_state, output_state, duration_ms, timestamp, metadata
		FROM argus_stage_steps
		ON CONFLICT (id) DO UPDATE SET trace_id = EXCLUDED.trace_id,
			step_number = EXCLUDED.step_number, node_name = EXCLUDED.node_name,
			input_state = EXCLUDED.input_state, output_state = EXCLUDED.output_state,
			duration_ms = EXCLUDED.duration_ms, timestamp = EXCLUDED.timestamp,
			metadata = EXCLUDED.metadata`)
	return err
}

func (t *pgTx) upsertDetections(ctx context.Context, ds []Detection) error {
	ids := make([]string, len(ds))
	for i := range ds {
		ids[i] = ds[i].ID
	}
	stored, err := t.stringSet(ctx, `SELECT id FROM detections WHERE id = ANY($1)`, ids)
	if err != nil {
		return err
	}
	fresh, again := splitStored(ds, stored, t.upsertAll, func(x *Detection) string { return x.ID })
	d := dialect{postgres: true}
	row := func(x *Detection) []any {
		return []any{x.ID, x.TraceID, nullable(x.StepID), x.Layer, x.Severity, x.Message,
			[]byte(x.Details), d.ts(x.CreatedAt)}
	}
	if err := copyRows(ctx, t.tx, "detections", detectionCopyCols, fresh, row); err != nil {
		return fmt.Errorf("copy detections: %w", err)
	}
	if len(again) == 0 {
		return nil
	}
	if _, err := t.tx.Exec(ctx, stageDetections); err != nil {
		return err
	}
	if err := copyRows(ctx, t.tx, "argus_stage_detections", detectionCopyCols, again, row); err != nil {
		return fmt.Errorf("copy detections: %w", err)
	}
	_, err = t.tx.Exec(ctx, `INSERT INTO detections
		(id, trace_id, step_id, layer, severity, message, details, created_at)
		SELECT id, trace_id, step_id, layer, severity, message, details, created_at
		FROM argus_stage_detections
		ON CONFLICT (id) DO UPDATE SET trace_id = EXCLUDED.trace_id, step_id = EXCLUDED.step_id,
			layer = EXCLUDED.layer, severity = EXCLUDED.severity, message = EXCLUDED.message,
			details = EXCLUDED.details, created_at = EXCLUDED.created_at`)
	return err
}

// splitStored splits rows into those whose id is not stored and the others
// (all of them with all set), keeping their order.
func splitStored[T any](rows []T, stored map[string]bool, all bool, id func(*T) string) (fresh, again []T) {
	if all {
		return nil, rows
	}
	if len(stored) == 0 {
		return rows, nil
	}
	for i := range rows {
		if stored[id(&rows[i])] {
			again = append(again, rows[i])
		} else {
			fresh = append(fresh, rows[i])
		}
	}
	return fresh, again
}

// copyRows COPYs rows into table (nothing when rows is empty).
func copyRows[T any](ctx context.Context, tx pgx.Tx, table string, cols []string, rows []T, row func(*T) []any) error {
	if len(rows) == 0 {
		return nil
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
		return row(&rows[i]), nil
	}))
	return err
}

func (t *pgTx) upsertForensics(ctx context.Context, fs []Forensics) error {
	n := len(fs)
	ids, traces, roots, dets, expl, chains := make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n)
	created := make([]time.Time, n)
	d := dialect{postgres: true}
	for i, f := range fs {
		ids[i], traces[i], roots[i], dets[i] = f.ID, f.TraceID, f.RootCauseStep, string(f.DetectionIDs)
		expl[i], chains[i], created[i] = f.Explanation, string(f.CausalChain), d.ts(f.CreatedAt).(time.Time)
	}
	_, err := t.tx.Exec(ctx, `INSERT INTO forensics
		(id, trace_id, root_cause_step, detection_ids, explanation, causal_chain, created_at)
		SELECT u.id, u.trace_id, NULLIF(u.root, ''), u.dets::jsonb, u.expl, u.chain::jsonb, u.created_at
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
			AS u(id, trace_id, root, dets, expl, chain, created_at)
		ON CONFLICT (id) DO UPDATE SET trace_id = EXCLUDED.trace_id,
			root_cause_step = EXCLUDED.root_cause_step, detection_ids = EXCLUDED.detection_ids,
			explanation = EXCLUDED.explanation, causal_chain = EXCLUDED.causal_chain,
			created_at = EXCLUDED.created_at`,
		ids, traces, roots, dets, expl, chains, created)
	return err
}

func (t *pgTx) stepOrder(ctx context.Context, traceIDs []string) ([]stepOrder, error) {
	rows, err := t.tx.Query(ctx, `SELECT id, trace_id, step_number, (metadata -> 'langgraph_step')::text, timestamp
		FROM trace_steps WHERE trace_id = ANY($1)`, traceIDs)
	if err != nil {
		return nil, err
	}
	var out []stepOrder
	var o stepOrder
	var lg *string
	_, err = pgx.ForEachRow(rows, []any{&o.id, &o.traceID, &o.number, &lg, &o.ts}, func() error {
		r := o
		r.ts = r.ts.UTC()
		if lg != nil {
			r.lgStep = json.RawMessage(*lg)
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

func (t *pgTx) setStepNumbers(ctx context.Context, changes []numberChange) error {
	ids, nums := make([]string, len(changes)), make([]int32, len(changes))
	for i, c := range changes {
		ids[i], nums[i] = c.id, int32(c.number)
	}
	_, err := t.tx.Exec(ctx, `UPDATE trace_steps s SET step_number = v.n
		FROM unnest($1::text[], $2::int[]) AS v(id, n) WHERE s.id = v.id`, ids, nums)
	return err
}

func (t *pgTx) reattachDetections(ctx context.Context, traceIDs []string) error {
	_, err := t.tx.Exec(ctx, `UPDATE detections d
		SET step_id = d.details ->> 'step_ref', details = d.details - 'step_ref'
		WHERE d.step_id IS NULL AND d.trace_id = ANY($1)
			AND EXISTS (SELECT 1 FROM trace_steps s WHERE s.id = d.details ->> 'step_ref' AND s.trace_id = d.trace_id)`,
		traceIDs)
	return err
}

func (t *pgTx) unrootedForensics(ctx context.Context, traceIDs []string) ([]Forensics, error) {
	rows, err := t.tx.Query(ctx, `SELECT `+forensicsCols+` FROM forensics f
		WHERE f.root_cause_step IS NULL AND f.trace_id = ANY($1)`, traceIDs)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Forensics
	for rows.Next() {
		f, err := scanForensics(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

func (t *pgTx) recount(ctx context.Context, ids []string) error {
	_, err := t.tx.Exec(ctx, `UPDATE traces SET
		node_count = (SELECT count(*) FROM trace_steps s WHERE s.trace_id = traces.id),
		detection_count = (SELECT count(*) FROM detections d WHERE d.trace_id = traces.id)
		WHERE id = ANY($1)`, ids)
	return err
}

func (t *pgTx) deleteOthers(ctx context.Context, ids []string, keep replaceKeep) error {
	var b pgx.Batch
	b.Queue(`DELETE FROM detections WHERE trace_id = ANY($1) AND NOT (id = ANY($2))`, ids, nonNil(keep.detections))
	b.Queue(`DELETE FROM forensics WHERE trace_id = ANY($1) AND NOT (id = ANY($2))`, ids, nonNil(keep.forensics))
	b.Queue(`DELETE FROM trace_steps WHERE trace_id = ANY($1) AND NOT (id = ANY($2))`, ids, nonNil(keep.steps))
	return t.tx.SendBatch(ctx, &b).Close()
}
