package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/arguslabs/argus-otel/internal/vocab"
)

// Cursor is a position in the runs list, newest first: the (created_at, id)
// of a run. Pages continue from it by an index seek, never an OFFSET scan.
type Cursor struct {
	CreatedAt time.Time
	ID        string
}

// String is the cursor's URL form, "<RFC 3339 time>,<id>".
func (c Cursor) String() string {
	return c.CreatedAt.UTC().Format(time.RFC3339Nano) + "," + c.ID
}

// ParseCursor reads Cursor.String's form.
func ParseCursor(s string) (Cursor, error) {
	ts, id, ok := strings.Cut(s, ",")
	if !ok || id == "" {
		return Cursor{}, invalidf("cursor %q is not <time>,<id>", s)
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return Cursor{}, invalidf("cursor %q: bad time: %v", s, err)
	}
	return Cursor{CreatedAt: t.UTC(), ID: id}, nil
}

// RunFilter selects a page of the runs list.
type RunFilter struct {
	TraceFilter // Pipeline, Status, Since, Until, MinSeverity, Node, Rule, RootCause; Limit
	// Before: runs older than this position (the next page); After: runs
	// newer than it (the previous page). At most one is set.
	Before, After *Cursor
}

// Run is one row of the runs list: the trace and what the list shows of
// its detections and forensics.
type Run struct {
	Trace
	Critical, Warning, Info int    // detections by severity
	RootCauseNode           string // node of the latest forensics' root-cause step
}

// RunsPage is a page of runs, newest first, with the cursors of its
// neighbours (nil at either end).
type RunsPage struct {
	Runs  []Run
	Older *Cursor // pass as Before for the next page
	Newer *Cursor // pass as After for the previous page
	// Searched is set when a filter checked run by run (node, rule, root
	// cause, severity) found fewer runs than a page among the
	// MaxRunsSearched runs it examined: the search stopped at this run,
	// and Older (the same cursor) goes on from there.
	Searched *Cursor
}

// MaxRunsSearched bounds the runs one page of a node, rule, root-cause or
// severity filter examines, so a filter that matches rarely (or never)
// costs the same as one that matches often. (A variable for tests.)
var MaxRunsSearched = 5_000

// ListRuns returns a page of runs, newest first (ties by id, descending),
// continuing from f.Before or f.After with an index seek on
// (created_at, id). It does not count all matches: a count is a scan of the
// whole filtered range, which the runs list never needs. The filters
// checked run by run look at MaxRunsSearched runs at most (see
// RunsPage.Searched).
func (b *base) ListRuns(ctx context.Context, f RunFilter) (*RunsPage, error) {
	limit, err := page(f.Limit, 0)
	if err != nil {
		return nil, err
	}
	if f.Before != nil && f.After != nil {
		return nil, invalidf("give at most one of before and after")
	}
	q := &sqlBuilder{d: b.d}
	if err := b.rangeWhere(q, f.TraceFilter); err != nil {
		return nil, err
	}
	asc, desc := "DESC", "ASC" // the page's order and its reverse
	if c := f.Before; c != nil {
		b.keyset(q, "<", *c)
	}
	if c := f.After; c != nil {
		b.keyset(q, ">", *c)
		asc, desc = desc, asc
	}
	order := func(dir string) string { return " ORDER BY t.created_at " + dir + ", t.id " + dir }
	from := " FROM traces t" + q.whereSQL()
	var last string // the last run a probed filter examined, and how many
	var lastArgs []any
	if f.probed() {
		lim := q.arg(MaxRunsSearched)
		window := "(SELECT * FROM traces t" + q.whereSQL() + order(asc) + " LIMIT " + lim + ") t"
		last, lastArgs = "SELECT t.created_at, t.id, count(*) OVER () FROM "+window+order(desc)+" LIMIT 1", slices.Clone(q.args)
		q.where = nil
		if err := b.probeWhere(q, f.TraceFilter); err != nil {
			return nil, err
		}
		from = " FROM " + window + q.whereSQL()
	}
	// Counted through detections_trace_idx (the severity is not in the
	// WHERE, or SQLite may scan every detection of that severity per row).
	sev := func(s string) string {
		return "(SELECT COALESCE(sum(CASE WHEN d.severity = '" + s + "' THEN 1 ELSE 0 END), 0) FROM detections d WHERE d.trace_id = t.id)"
	}
	// One row more than the page says whether there is a next one.
	lim := q.arg(limit + 1)
	query := "SELECT " + traceCols + ", " + sev(vocab.SeverityCritical) + ", " + sev(vocab.SeverityWarning) + ", " + sev(vocab.SeverityInfo) +
		", COALESCE((SELECT s.node_name FROM forensics f JOIN trace_steps s ON s.id = f.root_cause_step" +
		" WHERE f.trace_id = t.id ORDER BY f.created_at DESC, f.id DESC LIMIT 1), '')" +
		from + order(asc) + " LIMIT " + lim
	var runs []Run
	var searched *Cursor
	err = b.withReadTx(ctx, func(tx *sql.Tx) error {
		if runs, err = queryAll(ctx, tx, scanRun, query, q.args...); err != nil {
			return err
		}
		if last == "" || len(runs) > limit {
			return nil
		}
		var c Cursor
		var n int
		err := tx.QueryRowContext(ctx, last, lastArgs...).Scan(tsCol{&c.CreatedAt}, &c.ID, &n)
		if err == nil && n == MaxRunsSearched {
			searched = &c
		}
		if err == sql.ErrNoRows {
			return nil
		}
		return err
	})
	if err != nil {
		return nil, wrapRead("list runs", err)
	}
	more := len(runs) > limit
	if more {
		runs = runs[:limit]
	}
	if f.After != nil {
		slices.Reverse(runs)
	}
	p := &RunsPage{Runs: runs}
	if searched != nil && f.After == nil {
		// The search stopped before the end: older runs remain to search.
		p.Searched, p.Older = searched, searched
	}
	if len(runs) == 0 {
		if f.Before != nil {
			p.Newer = f.Before
		}
		return p, nil
	}
	first, lastRun := cursorOf(runs[0].Trace), cursorOf(runs[len(runs)-1].Trace)
	// Older exists when this page was cut short, or when it came from
	// After (the runs at and before the cursor); newer likewise.
	if (f.After == nil && more) || f.After != nil {
		p.Older = &lastRun
	}
	if (f.After != nil && more) || f.Before != nil {
		p.Newer = &first
	}
	return p, nil
}

// keyset adds "(created_at, id) cmp c" as a range on created_at plus a
// tie-break, so the seek also uses the (pipeline_name, created_at) and
// (status, created_at) indexes, not only (created_at, id).
func (b *base) keyset(q *sqlBuilder, cmp string, c Cursor) {
	ts := b.d.ts(c.CreatedAt)
	q.cond("t.created_at "+cmp+"= %s AND (t.created_at "+cmp+" %s OR t.id "+cmp+" %s)", ts, ts, c.ID)
}

func cursorOf(t Trace) Cursor { return Cursor{CreatedAt: t.CreatedAt, ID: t.ID} }

func scanRun(r scanner) (Run, error) {
	var x Run
	t := &x.Trace
	err := r.Scan(&t.ID, tsCol{&t.CreatedAt}, &t.PipelineName, &t.Status, &t.DurationMs,
		&t.NodeCount, &t.DetectionCount, jsonCol{&t.Metadata}, &x.Critical, &x.Warning, &x.Info, &x.RootCauseNode)
	return x, err
}

// Neighbors returns the ids of the runs of the same pipeline just before
// and just after the run id ("" at either end).
func (b *base) Neighbors(ctx context.Context, id string) (prev, next string, err error) {
	err = b.withReadTx(ctx, func(tx *sql.Tx) error {
		var t Trace
		var err error
		if t, err = scanTrace(tx.QueryRowContext(ctx, "SELECT "+traceCols+" FROM traces t WHERE t.id = "+b.d.ph(1), id)); err != nil {
			return err
		}
		near := func(cmp, order string) (string, error) {
			q := &sqlBuilder{d: b.d}
			q.cond("t.pipeline_name = %s", t.PipelineName)
			b.keyset(q, cmp, cursorOf(t))
			var out string
			err := tx.QueryRowContext(ctx, "SELECT t.id FROM traces t"+q.whereSQL()+
				" ORDER BY t.created_at "+order+", t.id "+order+" LIMIT 1", q.args...).Scan(&out)
			if err == sql.ErrNoRows {
				return "", nil
			}
			return out, err
		}
		if prev, err = near("<", "DESC"); err != nil {
			return err
		}
		next, err = near(">", "ASC")
		return err
	})
	if err != nil {
		return "", "", wrapRead(fmt.Sprintf("neighbours of %q", id), err)
	}
	return prev, next, nil
}
