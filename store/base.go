package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// sqliteTimeLayout is the stored form of every SQLite timestamp: fixed width,
// UTC, so text order is time order and datetime() can read it.
const sqliteTimeLayout = "2006-01-02T15:04:05.000Z"

// dialect holds the few things the shared SQL differs in between drivers.
type dialect struct {
	postgres bool
}

// ph is the placeholder of the n-th (1-based) argument.
func (d dialect) ph(n int) string {
	if d.postgres {
		return "$" + strconv.Itoa(n)
	}
	return "?"
}

// ts converts a time to its bound form: UTC, millisecond precision on both
// drivers so a row reads back the same from either.
func (d dialect) ts(t time.Time) any {
	t = t.UTC().Truncate(time.Millisecond)
	if d.postgres {
		return t
	}
	return t.Format(sqliteTimeLayout)
}

// jsonText is the SQL expression extracting the text value of a top-level key.
func (d dialect) jsonText(col, key string) string {
	if d.postgres {
		return col + " ->> '" + key + "'"
	}
	return col + " ->> '$." + key + "'"
}

// base is the part of a store shared by both drivers: migrations, reads,
// purge and audit logs, over database/sql.
type base struct {
	d     dialect
	read  *sql.DB // reads (SQLite: a pool of read-only connections)
	write *sql.DB // writes (SQLite: a single connection, as SQLite has one writer)
	file  string  // SQLite: the database file, named when SQLite says it is damaged
}

// sqlBuilder collects arguments and hands out their placeholders, so values
// are always bound, never spliced into the SQL text.
type sqlBuilder struct {
	d     dialect
	args  []any
	where []string
}

func (b *sqlBuilder) arg(v any) string {
	b.args = append(b.args, v)
	return b.d.ph(len(b.args))
}

// cond adds a WHERE term; each %s in format is replaced by a placeholder
// bound to the matching value.
func (b *sqlBuilder) cond(format string, vals ...any) {
	phs := make([]any, len(vals))
	for i, v := range vals {
		phs[i] = b.arg(v)
	}
	b.where = append(b.where, fmt.Sprintf(format, phs...))
}

// in adds "expr IN (...)" for a non-empty list of values.
func (b *sqlBuilder) in(expr string, vals []string) {
	phs := make([]string, len(vals))
	for i, v := range vals {
		phs[i] = b.arg(v)
	}
	b.where = append(b.where, expr+" IN ("+strings.Join(phs, ", ")+")")
}

func (b *sqlBuilder) whereSQL() string {
	if len(b.where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(b.where, " AND ")
}

// tsCol scans a timestamp stored as TIMESTAMPTZ or as SQLite text.
type tsCol struct{ t *time.Time }

func (c tsCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.t = time.Time{}
	case time.Time:
		*c.t = clampTime(v.UTC())
	case string:
		return c.parse(v)
	case []byte:
		return c.parse(string(v))
	default:
		return fmt.Errorf("storage: cannot read %T as a timestamp", src)
	}
	return nil
}

func (c tsCol) parse(s string) error {
	if len(s) > 4 && (s[0] == '-' || s[0] == '+' || s[4] >= '0' && s[4] <= '9') {
		// A year outside 0000-9999, stored before the range was enforced.
		*c.t = MaxTime
		if s[0] == '-' {
			*c.t = MinTime
		}
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		// Rows written by hand with sqlite3 may use datetime()'s form.
		if t2, err2 := time.Parse("2006-01-02 15:04:05", s); err2 == nil {
			t, err = t2, nil
		}
	}
	if err != nil {
		return fmt.Errorf("storage: bad timestamp %q: %w", s, err)
	}
	*c.t = clampTime(t.UTC())
	return nil
}

// jsonCol scans a JSON column (TEXT or JSONB) into a RawMessage; NULL stays nil.
type jsonCol struct{ j *json.RawMessage }

func (c jsonCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.j = nil
	case string:
		*c.j = json.RawMessage(v)
	case []byte:
		*c.j = append(json.RawMessage(nil), v...)
	default:
		return fmt.Errorf("storage: cannot read %T as JSON", src)
	}
	return nil
}

// strCol scans a nullable text column; NULL reads as "".
type strCol struct{ s *string }

func (c strCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.s = ""
	case string:
		*c.s = v
	case []byte:
		*c.s = string(v)
	default:
		return fmt.Errorf("storage: cannot read %T as text", src)
	}
	return nil
}

// nullable binds "" as NULL.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// retryBusy runs fn again while SQLite reports the database locked by another
// connection or process, with jittered exponential backoff, until ctx ends.
// busy_timeout already waits inside SQLite; this covers the cases where
// SQLite returns BUSY at once (e.g. a lock upgrade that would deadlock).
func retryBusy(ctx context.Context, fn func() error) error {
	delay := 2 * time.Millisecond
	for {
		err := fn()
		if err == nil || !isBusy(err) {
			return err
		}
		wait := delay/2 + rand.N(delay)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (gave up waiting for the database lock: %v)", err, ctx.Err())
		case <-time.After(wait):
		}
		if delay < 250*time.Millisecond {
			delay *= 2
		}
	}
}

// withWriteTx runs fn in one write transaction, retrying SQLite lock
// conflicts. On SQLite the writer connection begins IMMEDIATE, so the write
// lock is taken up front and concurrent processes queue instead of failing
// at their first write.
func (b *base) withWriteTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	once := func() error {
		tx, err := b.write.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			_ = tx.Rollback()
			return err
		}
		return tx.Commit()
	}
	if b.d.postgres {
		return once()
	}
	return explainDamaged(b.file, retryBusy(ctx, once))
}

// withReadTx runs fn in a read-only transaction so that a page and its total
// come from one snapshot.
func (b *base) withReadTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if b.d.postgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := b.read.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("storage: begin read: %w", explainDamaged(b.file, err))
	}
	defer func() { _ = tx.Rollback() }()
	return explainDamaged(b.file, fn(tx))
}

// Migrate applies every migration not yet recorded. Each step runs in its
// own transaction that first takes a database-wide lock (an advisory lock on
// PostgreSQL, the SQLite write lock), then checks schema_migrations again,
// so collectors starting together apply each step exactly once.
func (b *base) Migrate(ctx context.Context) error {
	create := `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at TIMESTAMP NOT NULL
	)`
	if b.d.postgres {
		create = strings.Replace(create, "TIMESTAMP", "TIMESTAMPTZ", 1)
	}
	for _, m := range migrations {
		stmts := m.sqlite
		if b.d.postgres {
			stmts = m.postgres
		}
		err := b.withWriteTx(ctx, func(tx *sql.Tx) error {
			if b.d.postgres {
				// Two-key form: a key space of its own, apart from the
				// per-trace locks of WriteBatch.
				if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(1095911234, 1)`); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, create); err != nil {
				return err
			}
			var n int
			q := "SELECT count(*) FROM schema_migrations WHERE version = " + b.d.ph(1)
			if err := tx.QueryRowContext(ctx, q, m.version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			for _, s := range stmts {
				if _, err := tx.ExecContext(ctx, s); err != nil {
					return err
				}
			}
			ins := fmt.Sprintf("INSERT INTO schema_migrations (version, name, applied_at) VALUES (%s, %s, %s)",
				b.d.ph(1), b.d.ph(2), b.d.ph(3))
			_, err := tx.ExecContext(ctx, ins, m.version, m.name, b.d.ts(time.Now()))
			return err
		})
		if err != nil {
			return fmt.Errorf("storage: migration %d (%s): %w", m.version, m.name, err)
		}
	}
	return nil
}

// Purge deletes the traces created before t and every row linked to them,
// children first, in one transaction.
func (b *base) Purge(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := b.withWriteTx(ctx, func(tx *sql.Tx) error {
		old := "SELECT id FROM traces WHERE created_at < " + b.d.ph(1)
		arg := b.d.ts(before)
		counts := b.d.runCountsSQL(" WHERE created_at < "+b.d.ph(1), "-")
		if _, err := tx.ExecContext(ctx, counts[0], arg); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, counts[1]); err != nil {
			return err
		}
		for _, table := range []string{"forensics", "detections", "trace_steps"} {
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+table+" WHERE trace_id IN ("+old+")", arg); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, "DELETE FROM traces WHERE created_at < "+b.d.ph(1), arg)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("storage: purge: %w", err)
	}
	return n, nil
}

// Ping checks that the database answers.
func (b *base) Ping(ctx context.Context) error {
	if err := b.read.PingContext(ctx); err != nil {
		return fmt.Errorf("storage: ping: %w", err)
	}
	var one int
	if err := b.read.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("storage: ping: %w", err)
	}
	return nil
}
