package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite" // also registers the "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteStore keeps one writer connection (SQLite has a single writer, so
// queuing in Go beats lock contention in the file) and a pool of read-only
// connections, which WAL lets run beside the writer.
type sqliteStore struct {
	base
	stmts stmtCache     // the writer's statements, prepared once
	ckpt  *checkpointer // nil: the writer checkpoints in its commits
	// walLimit, truncateAfter (unix ns), truncateAt (WAL bytes): see boundWAL.
	walLimit      int64
	truncateAfter atomic.Int64
	truncateAt    atomic.Int64
	busyTimeout   time.Duration
}

// stmtCache keeps the write path's statements prepared on the writer
// connection, so a batch does not parse and plan each of them again.
type stmtCache struct {
	db    *sql.DB    // the writer; nil in a read-only store
	mu    sync.Mutex // serializes prepare
	ready atomic.Pointer[map[string]*sql.Stmt]
}

// prepare prepares every statement of sqliteWriteSQL once. It must run
// outside a write transaction: the writer has one connection, which a
// transaction holds. Until it succeeds (the tables exist once Migrate ran)
// get prepares per transaction.
func (c *stmtCache) prepare(ctx context.Context) error {
	if c.db == nil || c.ready.Load() != nil { // nil: a read-only store
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ready.Load() != nil {
		return nil
	}
	m := make(map[string]*sql.Stmt, len(sqliteWriteSQL))
	for _, q := range sqliteWriteSQL {
		st, err := c.db.PrepareContext(ctx, q)
		if err != nil {
			for _, st := range m {
				_ = st.Close()
			}
			return err
		}
		m[q] = st
	}
	c.ready.Store(&m)
	return nil
}

// get returns query as a statement of tx: the cached one when there is one
// (database/sql reuses it on tx's connection, and closing the returned
// Stmt leaves it cached), else one prepared for tx alone.
func (c *stmtCache) get(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	if m := c.ready.Load(); m != nil {
		if st := (*m)[query]; st != nil {
			return tx.StmtContext(ctx, st), nil
		}
	}
	return tx.PrepareContext(ctx, query)
}

func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.ready.Swap(nil)
	if m == nil {
		return nil
	}
	var errs []error
	for _, st := range *m {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}

func openSQLite(ctx context.Context, cfg Config) (Store, error) {
	return openSQLiteTuned(ctx, cfg, defaultSQLiteTuning)
}

// sqliteTuning is how the writer connection uses the file. One set of
// values is used in production (defaultSQLiteTuning); benchmarks open
// stores with others to compare them.
type sqliteTuning struct {
	// pageSize in bytes, for new databases only: SQLite fixes the page
	// size when the first table is created, and a WAL database cannot
	// change it (not even by VACUUM, which we would not run on a user's
	// database anyway). An existing file keeps its own.
	pageSize int
	// cacheKiB is the writer's page cache. A transaction whose dirty pages
	// do not fit spills some to the WAL early (and may write them again),
	// yet a cache larger than SQLite's default measured slower: its memory
	// is cold when the pages are filled.
	cacheKiB int
	// autoCheckpoint is wal_autocheckpoint in pages: the commit that makes
	// the WAL longer than this copies it back into the database. With a
	// background checkpointer it is only the bound on the WAL, reached
	// when the writer outpaces the checkpointer.
	autoCheckpoint int
	// checkpointEvery > 0 runs checkpoints from a goroutine of their own
	// after commits, at most this often, so commits do not pay for them.
	checkpointEvery time.Duration
}

// defaultSQLiteTuning; BenchmarkSQLiteFloorTuning and
// BenchmarkWriteBatchSQLiteLoadShape compare the alternatives. States of
// 1-20 KiB make most step rows overflow-page chains, and every page costs a
// pwrite to the WAL, a pread and a pwrite at checkpoint: 16 KiB pages cut
// the CPU per stored step by ~20% (store) to ~30% (floor) against 4 KiB,
// for ~9% more file. 32 and 64 KiB save no more CPU but waste more space
// (+25%, +17%) and make every random read larger. A cache larger than
// SQLite's default 2 MB measured slower (cold memory), not faster.
// Checkpoints run in the background (about 10-15% less time per batch on
// the writer, whose transactions run one at a time); the WAL is bounded by
// 4096 pages, 64 MiB with 16 KiB pages.
var defaultSQLiteTuning = sqliteTuning{pageSize: 16384, cacheKiB: 2000, autoCheckpoint: 4096,
	checkpointEvery: 100 * time.Millisecond}

// writerDSN is the query string of the writer connection. page_size must
// run before the switch to WAL, which writes the header of a new file: the
// driver runs the _pragma list first (sorted by name, so not in the order
// given) and the _journal_mode key after it.
func (t sqliteTuning) writerDSN(busy string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+busy+")")
	q.Add("_pragma", "page_size("+strconv.Itoa(t.pageSize)+")")
	q.Set("_journal_mode", "WAL")
	// NORMAL in WAL mode: a commit is durable against a crash of the
	// process (kill -9) but not of the machine, which may lose the last
	// commits, never the database.
	q.Set("_synchronous", "NORMAL")
	q.Add("_pragma", "foreign_keys(1)")
	// Statement journals of upserts stay in memory instead of temp files.
	q.Add("_pragma", "temp_store(MEMORY)")
	q.Add("_pragma", "cache_size(-"+strconv.Itoa(t.cacheKiB)+")")
	q.Add("_pragma", "wal_autocheckpoint("+strconv.Itoa(t.autoCheckpoint)+")")
	q.Add("_pragma", "journal_size_limit("+strconv.FormatInt(t.walLimit(), 10)+")")
	q.Set("_txlock", "immediate")
	return q.Encode()
}

// walLimit is the size, in bytes, the WAL file is cut back to when SQLite
// restarts it, so one huge batch does not leave a huge file behind.
func (t sqliteTuning) walLimit() int64 { return int64(t.autoCheckpoint) * int64(t.pageSize) }

func openSQLiteTuned(ctx context.Context, cfg Config, tune sqliteTuning) (_ Store, err error) {
	if cfg.ReadOnly {
		return openSQLiteReadOnly(ctx, cfg)
	}
	path := cfg.Path
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("storage: sqlite database %q: cannot create directory %q: %w", path, dir, err)
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("storage: sqlite database %q is a directory", path)
	}
	if err := repairSidecars(path); err != nil {
		return nil, err
	}

	busy := strconv.FormatInt(cfg.BusyTimeout.Milliseconds(), 10)
	w, err := sql.Open("sqlite", path+"?"+tune.writerDSN(busy))
	if err != nil {
		return nil, fmt.Errorf("storage: sqlite database %q: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	defer func() {
		if err != nil {
			_ = w.Close()
		}
	}()
	if err := probeWritable(ctx, w); err != nil {
		return nil, sqliteOpenError(path, dir, err)
	}

	rq := url.Values{}
	rq.Add("_pragma", "busy_timeout("+busy+")")
	rq.Add("_pragma", "query_only(1)")
	r, err := sql.Open("sqlite", path+"?"+rq.Encode())
	if err != nil {
		return nil, fmt.Errorf("storage: sqlite database %q: %w", path, err)
	}
	n := cfg.MaxConns
	if n == 0 {
		n = defaultSQLiteReads
	}
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		_ = r.Close()
		return nil, sqliteOpenError(path, dir, err)
	}
	st := &sqliteStore{base: base{d: dialect{}, read: r, write: w, file: path}, stmts: stmtCache{db: w},
		walLimit: tune.walLimit(), busyTimeout: cfg.BusyTimeout}
	if tune.checkpointEvery > 0 {
		cq := url.Values{}
		cq.Add("_pragma", "busy_timeout("+busy+")")
		cq.Add("_pragma", "journal_size_limit("+strconv.FormatInt(tune.walLimit(), 10)+")")
		c, err := sql.Open("sqlite", path+"?"+cq.Encode())
		if err != nil {
			_ = r.Close()
			return nil, fmt.Errorf("storage: sqlite database %q: %w", path, err)
		}
		st.ckpt = startCheckpointer(c, tune.checkpointEvery)
	}
	return st, nil
}

// checkpointer copies the WAL back into the database from a connection of
// its own, so that commits, which run one at a time on the single writer,
// do not pay for it. PASSIVE checkpoints never block the writer or the
// readers; they copy what no reader still needs. The writer keeps the WAL
// bounded (see boundWAL).
type checkpointer struct {
	db *sql.DB
	// mu is held while checkpointing: SQLite lets one checkpoint run at a
	// time and fails any other at once, so truncateWAL waits for it.
	mu      sync.Mutex
	kick    chan struct{}
	cancel  context.CancelFunc
	stopped chan struct{}
}

func startCheckpointer(db *sql.DB, every time.Duration) *checkpointer {
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	ctx, cancel := context.WithCancel(context.Background())
	c := &checkpointer{db: db, kick: make(chan struct{}, 1), cancel: cancel, stopped: make(chan struct{})}
	go c.run(ctx, every)
	return c
}

// committed tells the checkpointer a write transaction committed.
func (c *checkpointer) committed() {
	select {
	case c.kick <- struct{}{}:
	default: // one pending kick is enough
	}
}

func (c *checkpointer) run(ctx context.Context, every time.Duration) {
	defer close(c.stopped)
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.kick:
		}
		// A failed checkpoint (say, the disk is full) is tried again after
		// the next commit; the WAL stays bounded by the writer meanwhile.
		c.mu.Lock()
		_, _ = c.db.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
		c.mu.Unlock()
		// Waiting lets several commits share one checkpoint (and its
		// fsyncs), and a page written by each of them is copied once.
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

func (c *checkpointer) close() error {
	c.cancel()
	<-c.stopped
	return c.db.Close()
}

// openSQLiteReadOnly opens an existing file with mode=ro; the writer handle
// is the read-only pool too, so a write fails with SQLite's read-only error.
func openSQLiteReadOnly(ctx context.Context, cfg Config) (Store, error) {
	if _, err := os.Stat(cfg.Path); err != nil {
		return nil, fmt.Errorf("storage: sqlite database %q: %w", cfg.Path, err)
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(cfg.BusyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "query_only(1)")
	q.Set("mode", "ro")
	r, err := sql.Open("sqlite", "file:"+cfg.Path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("storage: sqlite database %q: %w", cfg.Path, err)
	}
	n := cfg.MaxConns
	if n == 0 {
		n = defaultSQLiteReads
	}
	r.SetMaxOpenConns(n)
	if err := r.PingContext(ctx); err != nil {
		_ = r.Close()
		return nil, fmt.Errorf("storage: cannot open sqlite database %q for reading: %w", cfg.Path, explainDamaged(cfg.Path, err))
	}
	return &sqliteStore{base: base{d: dialect{}, read: r, write: r, file: cfg.Path}}, nil
}

// probeWritable makes the writer connect (running the DSN pragmas, which
// switch the file to WAL) and take the write lock once, so a read-only file
// or directory fails here rather than at the first batch.
func probeWritable(ctx context.Context, w *sql.DB) error {
	return retryBusy(ctx, func() error {
		tx, err := w.BeginTx(ctx, nil) // BEGIN IMMEDIATE
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback() }()
		var mode string
		if err := tx.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
			return err
		}
		if mode != "wal" {
			return fmt.Errorf("journal_mode is %q, not wal (is the file or its directory read-only?)", mode)
		}
		// A schema-version read is cheap; user_version write proves the
		// file accepts writes without changing anything once rolled back.
		var v int
		if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(v))
		return err
	})
}

// sqliteOpenError explains the usual causes next to SQLite's own message.
func sqliteOpenError(path, dir string, err error) error {
	hint := ""
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) && (sqErr.Code()&0xff == sqlite3.SQLITE_NOTADB || sqErr.Code()&0xff == sqlite3.SQLITE_CORRUPT) {
		// Not a permission problem: the file's content is.
		err = explainDamaged(path, err)
	} else if ferr := writable(path); ferr != nil && !errors.Is(ferr, fs.ErrNotExist) {
		hint = fmt.Sprintf(" (file not writable: %v)", ferr)
	} else {
		probe, perr := os.CreateTemp(dir, ".argus-probe-*")
		if perr != nil {
			hint = fmt.Sprintf(" (directory %q not writable, SQLite needs it for the -wal and -shm files: %v)", dir, perr)
		} else {
			_ = probe.Close()
			_ = os.Remove(probe.Name())
		}
	}
	return fmt.Errorf("storage: cannot open sqlite database %q for writing%s: %w", path, hint, err)
}

func (s *sqliteStore) Driver() string { return DriverSQLite }

func (s *sqliteStore) Close() error {
	if s.write == s.read { // read-only store: one pool
		return s.read.Close()
	}
	var ckErr error
	if s.ckpt != nil {
		ckErr = s.ckpt.close()
	}
	// The writer closes last: closing the last connection checkpoints the
	// whole WAL and removes it.
	return errors.Join(ckErr, s.stmts.close(), s.read.Close(), s.write.Close())
}

func (s *sqliteStore) WriteBatch(ctx context.Context, b TraceBatch) error {
	return s.writeBatch(ctx, b, true)
}

// writeBatch writes b in one transaction, committed, or rolled back for a
// probe (ProbeWrite).
func (s *sqliteStore) writeBatch(ctx context.Context, b TraceBatch, commit bool) error {
	nb, err := normalizeBatch(b)
	if err != nil {
		return err
	}
	if len(nb.traceIDs) == 0 {
		return nil
	}
	// An error here (say, tables not migrated yet) comes back, with its
	// cause, from the same statement inside the transaction.
	_ = s.stmts.prepare(ctx)
	err = s.withWriteTx(ctx, func(tx *sql.Tx) error {
		if err := writeBatch(ctx, &sqliteTx{tx: tx, stmts: &s.stmts}, nb); err != nil || commit {
			return err
		}
		return errRolledBack
	})
	if errors.Is(err, errRolledBack) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("storage: write batch: %w", err)
	}
	if s.ckpt != nil {
		s.ckpt.committed()
	}
	s.boundWAL(ctx)
	return nil
}

func (s *sqliteStore) ProbeWrite(ctx context.Context, table string) error {
	return probeWrite(ctx, s, table)
}

// boundWAL empties a WAL grown past twice its limit. Checkpoints (the
// checkpointer's and the writer's wal_autocheckpoint) copy the WAL back,
// but SQLite only starts it over when no reader is using it, so readers that
// never pause (a busy HTTP API) would let it grow forever. A TRUNCATE
// checkpoint waits for the readers of old snapshots (new readers then read
// the database file) and empties it. It runs on the writer, between
// transactions: from any other connection it would have to win the write
// lock from a busy writer, and it did not. It waits for readers at most
// truncateWait. After a failure (a long read, say a large export, holds its
// snapshot) it is tried again after truncatePause or once the WAL has grown
// by another walLimit, whichever comes first: a long reader costs the writer
// at most truncateWait per walLimit written, and a short read that overran
// truncateWait on a busy machine lets the WAL grow by one walLimit, not by
// all the batches of a pause.
func (s *sqliteStore) boundWAL(ctx context.Context) {
	fi, err := os.Stat(s.file + "-wal")
	if err != nil || fi.Size() <= 2*s.walLimit {
		return
	}
	if time.Now().UnixNano() < s.truncateAfter.Load() && fi.Size() < s.truncateAt.Load() {
		return
	}
	if err := s.truncateWAL(ctx); err != nil {
		s.truncateAfter.Store(time.Now().Add(truncatePause).UnixNano())
		s.truncateAt.Store(fi.Size() + s.walLimit)
	}
}

const (
	truncateWait  = 250 * time.Millisecond
	truncatePause = 2 * time.Second
)

// truncateWAL runs a TRUNCATE checkpoint on the writer connection with a
// short busy timeout, then restores the configured one.
func (s *sqliteStore) truncateWAL(ctx context.Context) error {
	if s.ckpt != nil {
		s.ckpt.mu.Lock()
		defer s.ckpt.mu.Unlock()
	}
	conn, err := s.write.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA busy_timeout = "+strconv.FormatInt(truncateWait.Milliseconds(), 10)); err != nil {
		return err
	}
	var busy, frames, copied int
	err = conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &frames, &copied)
	// The connection serves every later batch: its busy timeout must come
	// back whatever happened above.
	_, rerr := conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA busy_timeout = "+strconv.FormatInt(s.busyTimeout.Milliseconds(), 10))
	if err == nil && busy != 0 {
		err = errors.New("readers still use the WAL")
	}
	if rerr != nil {
		// Do not keep a connection with the wrong timeout.
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		return errors.Join(err, rerr)
	}
	return err
}

// The write path's statements (see stmtCache).
const (
	sqliteLoadTracesSQL = `SELECT ` + traceCols + ` FROM traces t
		WHERE id IN (SELECT value FROM json_each(?))`
	sqliteUpsertTraceSQL = `INSERT INTO traces
		(id, created_at, pipeline_name, status, duration_ms, node_count, detection_count, metadata)
		VALUES (?, ?, ?, ?, ?, 0, 0, ?)
		ON CONFLICT (id) DO UPDATE SET created_at = excluded.created_at,
			pipeline_name = excluded.pipeline_name, status = excluded.status,
			duration_ms = excluded.duration_ms, metadata = excluded.metadata`
	sqliteTracesWithStepsSQL = `SELECT DISTINCT trace_id FROM trace_steps
		WHERE trace_id IN (SELECT value FROM json_each(?))`
	sqliteExistingStepsSQL = `SELECT id FROM trace_steps WHERE id IN (SELECT value FROM json_each(?))`
	sqliteUpsertStepSQL    = `INSERT INTO trace_steps
		(id, trace_id, step_number, node_name, input_state, output_state, duration_ms, timestamp, metadata)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET trace_id = excluded.trace_id,
			step_number = excluded.step_number, node_name = excluded.node_name,
			input_state = excluded.input_state, output_state = excluded.output_state,
			duration_ms = excluded.duration_ms, timestamp = excluded.timestamp,
			metadata = excluded.metadata`
	sqliteUpsertDetectionSQL = `INSERT INTO detections
		(id, trace_id, step_id, layer, severity, message, details, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET trace_id = excluded.trace_id, step_id = excluded.step_id,
			layer = excluded.layer, severity = excluded.severity, message = excluded.message,
			details = excluded.details, created_at = excluded.created_at`
	sqliteUpsertForensicsSQL = `INSERT INTO forensics
		(id, trace_id, root_cause_step, detection_ids, explanation, causal_chain, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET trace_id = excluded.trace_id,
			root_cause_step = excluded.root_cause_step, detection_ids = excluded.detection_ids,
			explanation = excluded.explanation, causal_chain = excluded.causal_chain,
			created_at = excluded.created_at`
	sqliteStepOrderSQL = `SELECT id, trace_id, step_number, metadata -> '$.langgraph_step', timestamp
		FROM trace_steps WHERE trace_id IN (SELECT value FROM json_each(?))`
	sqliteSetStepNumberSQL      = `UPDATE trace_steps SET step_number = ? WHERE id = ?`
	sqliteReattachDetectionsSQL = `UPDATE detections
		SET step_id = details ->> '$.step_ref', details = json_remove(details, '$.step_ref')
		WHERE step_id IS NULL AND trace_id IN (SELECT value FROM json_each(?))
			AND details ->> '$.step_ref' IN (SELECT s.id FROM trace_steps s WHERE s.trace_id = detections.trace_id)`
	sqliteUnrootedForensicsSQL = `SELECT ` + forensicsCols + ` FROM forensics f
		WHERE f.root_cause_step IS NULL AND f.trace_id IN (SELECT value FROM json_each(?))`
	// Only replacing batches (a run completed after it was stored in
	// progress) delete; these are prepared per transaction, not cached:
	// with them prepared on the writer the WAL outgrew its bound under
	// readers (TestSQLiteWALBounded).
	sqliteDeleteOtherDetectionsSQL = `DELETE FROM detections WHERE trace_id IN (SELECT value FROM json_each(?))
		AND id NOT IN (SELECT value FROM json_each(?))`
	sqliteDeleteOtherForensicsSQL = `DELETE FROM forensics WHERE trace_id IN (SELECT value FROM json_each(?))
		AND id NOT IN (SELECT value FROM json_each(?))`
	sqliteDeleteOtherStepsSQL = `DELETE FROM trace_steps WHERE trace_id IN (SELECT value FROM json_each(?))
		AND id NOT IN (SELECT value FROM json_each(?))`
	sqliteRecountSQL = `UPDATE traces SET
		node_count = (SELECT count(*) FROM trace_steps s WHERE s.trace_id = traces.id),
		detection_count = (SELECT count(*) FROM detections d WHERE d.trace_id = traces.id)
		WHERE id IN (SELECT value FROM json_each(?))`
)

var sqliteWriteSQL = []string{sqliteLoadTracesSQL, sqliteUpsertTraceSQL, sqliteTracesWithStepsSQL, sqliteExistingStepsSQL, sqliteUpsertStepSQL, sqliteUpsertDetectionSQL, sqliteUpsertForensicsSQL, sqliteStepOrderSQL, sqliteSetStepNumberSQL, sqliteReattachDetectionsSQL, sqliteUnrootedForensicsSQL, sqliteRecountSQL, sqliteAddRunCountSQL}

// sqliteTx implements batchTx with the store's cached statements in one
// transaction. Sets of ids are bound as one JSON array and expanded with
// json_each, so any number of ids is one parameter and each query text is
// fixed (and so prepared once).
type sqliteTx struct {
	tx    *sql.Tx
	stmts *stmtCache
}

func (t *sqliteTx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := t.stmts.get(ctx, t.tx, q)
	if err != nil {
		return nil, err
	}
	// Closing a transaction's statement also closes its open rows, so it
	// stays open until the transaction ends (database/sql closes it then).
	return st.QueryContext(ctx, args...)
}

func (t *sqliteTx) exec(ctx context.Context, q string, args ...any) error {
	st, err := t.stmts.get(ctx, t.tx, q)
	if err != nil {
		return err
	}
	defer st.Close()
	_, err = st.ExecContext(ctx, args...)
	return err
}

func jsonIDs(ids []string) string { return string(mustJSON(ids)) }

func (t *sqliteTx) lockTraces(context.Context, []string) error { return nil }

func (t *sqliteTx) loadTraces(ctx context.Context, ids []string) (map[string]*storedTrace, error) {
	rows, err := t.query(ctx, sqliteLoadTracesSQL, jsonIDs(ids))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]*storedTrace{}
	for rows.Next() {
		tr, err := scanTrace(rows)
		if err != nil {
			return nil, err
		}
		out[tr.ID] = decodeStored(tr)
	}
	return out, rows.Err()
}

func (t *sqliteTx) upsertTraces(ctx context.Context, rows []Trace) error {
	st, err := t.stmts.get(ctx, t.tx, sqliteUpsertTraceSQL)
	if err != nil {
		return err
	}
	defer st.Close()
	d := dialect{}
	for _, r := range rows {
		if _, err := st.ExecContext(ctx, r.ID, d.ts(r.CreatedAt), r.PipelineName, r.Status, r.DurationMs, string(r.Metadata)); err != nil {
			return fmt.Errorf("trace %q: %w", r.ID, err)
		}
	}
	return nil
}

func (t *sqliteTx) stringSet(ctx context.Context, q string, ids []string) (map[string]bool, error) {
	rows, err := t.query(ctx, q, jsonIDs(ids))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}

func (t *sqliteTx) tracesWithSteps(ctx context.Context, ids []string) (map[string]bool, error) {
	return t.stringSet(ctx, sqliteTracesWithStepsSQL, ids)
}

func (t *sqliteTx) existingSteps(ctx context.Context, ids []string) (map[string]bool, error) {
	return t.stringSet(ctx, sqliteExistingStepsSQL, ids)
}

func (t *sqliteTx) upsertSteps(ctx context.Context, steps []Step) error {
	st, err := t.stmts.get(ctx, t.tx, sqliteUpsertStepSQL)
	if err != nil {
		return err
	}
	defer st.Close()
	d := dialect{}
	for _, s := range steps {
		if _, err := st.ExecContext(ctx, s.ID, s.TraceID, s.StepNumber, s.NodeName, string(s.InputState),
			string(s.OutputState), s.DurationMs, d.ts(s.Timestamp), string(s.Metadata)); err != nil {
			return fmt.Errorf("step %q: %w", s.ID, err)
		}
	}
	return nil
}

func (t *sqliteTx) upsertDetections(ctx context.Context, ds []Detection) error {
	st, err := t.stmts.get(ctx, t.tx, sqliteUpsertDetectionSQL)
	if err != nil {
		return err
	}
	defer st.Close()
	d := dialect{}
	for _, x := range ds {
		if _, err := st.ExecContext(ctx, x.ID, x.TraceID, nullable(x.StepID), x.Layer, x.Severity, x.Message,
			string(x.Details), d.ts(x.CreatedAt)); err != nil {
			return fmt.Errorf("detection %q: %w", x.ID, err)
		}
	}
	return nil
}

func (t *sqliteTx) upsertForensics(ctx context.Context, fs []Forensics) error {
	st, err := t.stmts.get(ctx, t.tx, sqliteUpsertForensicsSQL)
	if err != nil {
		return err
	}
	defer st.Close()
	d := dialect{}
	for _, f := range fs {
		if _, err := st.ExecContext(ctx, f.ID, f.TraceID, nullable(f.RootCauseStep), string(f.DetectionIDs),
			f.Explanation, string(f.CausalChain), d.ts(f.CreatedAt)); err != nil {
			return fmt.Errorf("forensics %q: %w", f.ID, err)
		}
	}
	return nil
}

func (t *sqliteTx) stepOrder(ctx context.Context, traceIDs []string) ([]stepOrder, error) {
	rows, err := t.query(ctx, sqliteStepOrderSQL, jsonIDs(traceIDs))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []stepOrder
	for rows.Next() {
		var o stepOrder
		var lg json.RawMessage
		if err := rows.Scan(&o.id, &o.traceID, &o.number, jsonCol{&lg}, tsCol{&o.ts}); err != nil {
			return nil, err
		}
		o.lgStep = lg
		out = append(out, o)
	}
	return out, rows.Err()
}

func (t *sqliteTx) setStepNumbers(ctx context.Context, changes []numberChange) error {
	st, err := t.stmts.get(ctx, t.tx, sqliteSetStepNumberSQL)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, c := range changes {
		if _, err := st.ExecContext(ctx, c.number, c.id); err != nil {
			return err
		}
	}
	return nil
}

func (t *sqliteTx) reattachDetections(ctx context.Context, traceIDs []string) error {
	return t.exec(ctx, sqliteReattachDetectionsSQL,
		jsonIDs(traceIDs))
}

func (t *sqliteTx) unrootedForensics(ctx context.Context, traceIDs []string) ([]Forensics, error) {
	rows, err := t.query(ctx, sqliteUnrootedForensicsSQL, jsonIDs(traceIDs))
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

func (t *sqliteTx) recount(ctx context.Context, ids []string) error {
	return t.exec(ctx, sqliteRecountSQL, jsonIDs(ids))
}

func (t *sqliteTx) deleteOthers(ctx context.Context, ids []string, keep replaceKeep) error {
	traces := jsonIDs(ids)
	for _, d := range []struct {
		q    string
		keep []string
	}{
		{sqliteDeleteOtherDetectionsSQL, keep.detections},
		{sqliteDeleteOtherForensicsSQL, keep.forensics},
		{sqliteDeleteOtherStepsSQL, keep.steps},
	} {
		if err := t.exec(ctx, d.q, traces, jsonIDs(nonNil(d.keep))); err != nil {
			return err
		}
	}
	return nil
}

// nonNil makes a nil id list an empty one (JSON [] rather than null).
func nonNil(ids []string) []string {
	if ids == nil {
		return []string{}
	}
	return ids
}
