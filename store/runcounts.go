package store

import (
	"context"
	"sort"
	"time"
)

// run_counts holds how many runs of each pipeline started in each UTC hour
// with each status, kept by every write in the same transaction as the
// traces (and by Purge), so the pipelines page counts a 30-day window
// from at most 720 rows per pipeline and status instead of every run.

// runCount is one change to a run_counts row.
type runCount struct {
	pipeline string
	hour     time.Time
	status   string
	runs     int
}

// runCountDeltas is what a batch does to run_counts: each merged row
// counts in its (pipeline, hour, status), the row it replaced no longer
// does. The result is in key order, so concurrent PostgreSQL writers
// update shared rows in one order and never deadlock.
func runCountDeltas(stored map[string]*storedTrace, rows []Trace) []runCount {
	type key struct {
		pipeline string
		hour     int64
		status   string
	}
	deltas := map[key]int{}
	add := func(t Trace, n int) {
		deltas[key{t.PipelineName, t.CreatedAt.UTC().Truncate(time.Hour).UnixNano(), t.Status}] += n
	}
	for _, r := range rows {
		if old := stored[r.ID]; old != nil {
			add(old.row, -1)
		}
		add(r, 1)
	}
	out := make([]runCount, 0, len(deltas))
	for k, n := range deltas {
		if n != 0 {
			out = append(out, runCount{k.pipeline, time.Unix(0, k.hour).UTC(), k.status, n})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.pipeline != b.pipeline {
			return a.pipeline < b.pipeline
		}
		if !a.hour.Equal(b.hour) {
			return a.hour.Before(b.hour)
		}
		return a.status < b.status
	})
	return out
}

const (
	sqliteAddRunCountSQL = `INSERT INTO run_counts (pipeline_name, hour, status, runs) VALUES (?, ?, ?, ?)
		ON CONFLICT (pipeline_name, hour, status) DO UPDATE SET runs = run_counts.runs + excluded.runs`
	pgAddRunCountSQL = `INSERT INTO run_counts (pipeline_name, hour, status, runs) VALUES ($1, $2, $3, $4)
		ON CONFLICT (pipeline_name, hour, status) DO UPDATE SET runs = run_counts.runs + excluded.runs`
)

func (t *sqliteTx) addRunCounts(ctx context.Context, counts []runCount) error {
	d := dialect{}
	for _, c := range counts {
		if err := t.exec(ctx, sqliteAddRunCountSQL, c.pipeline, d.ts(c.hour), c.status, c.runs); err != nil {
			return err
		}
	}
	return nil
}

func (t *pgTx) addRunCounts(ctx context.Context, counts []runCount) error {
	for _, c := range counts {
		if _, err := t.tx.Exec(ctx, pgAddRunCountSQL, c.pipeline, c.hour, c.status, c.runs); err != nil {
			return err
		}
	}
	return nil
}

// hourSQL truncates a traces.created_at column to its UTC hour in the
// form run_counts.hour stores (dialect.ts of the hour).
func (d dialect) hourSQL(col string) string {
	if d.postgres {
		return "date_trunc('hour', " + col + " AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
	}
	return "substr(" + col + ", 1, 13) || ':00:00.000Z'"
}

// runCountsSQL counts the traces matching where into run_counts with sign
// (+1: backfill, -1: before a purge deletes them), and drops emptied rows.
func (d dialect) runCountsSQL(where string, sign string) []string {
	return []string{
		"INSERT INTO run_counts (pipeline_name, hour, status, runs) SELECT pipeline_name, " + d.hourSQL("created_at") +
			", status, " + sign + "count(*) FROM traces" + where + " GROUP BY 1, 2, 3" +
			" ON CONFLICT (pipeline_name, hour, status) DO UPDATE SET runs = run_counts.runs + excluded.runs",
		"DELETE FROM run_counts WHERE runs <= 0",
	}
}
