package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sort"
	"time"
)

// Bucket sizes of the per-status series: the dialects truncate a time to
// one of these.
const (
	BucketMinute = "minute"
	BucketHour   = "hour"
	BucketDay    = "day"
)

// LatencySampleRuns is how many of a pipeline's newest runs in the window
// the per-node latency percentiles are computed over: a bounded sample, so
// the pipelines page costs the same with 1,000 or 1,000,000 runs.
const LatencySampleRuns = 200

// TopN bounds the "most frequent" lists of the aggregates.
const TopN = 5

// MaxPipelines bounds the pipelines one PipelineStats call details: the
// busiest ones in the window.
const MaxPipelines = 10

// TopSampleRuns is how many of a pipeline's newest runs in the window the
// top rules and root causes are counted over (PipelineStats.TopSince says
// from when), so they cost the same whatever the window holds.
const TopSampleRuns = 1000

// StatsWindow is the time range and pipeline of an aggregate.
type StatsWindow struct {
	Since, Until time.Time // Until exclusive; Since a whole hour unless Bucket is BucketMinute
	Bucket       string    // BucketMinute | BucketHour | BucketDay
	Pipeline     string    // "" = every pipeline
}

// PipelineStats aggregates one pipeline's runs in a window.
type PipelineStats struct {
	Pipeline string
	Runs     int
	ByStatus map[string]int
	// Series: runs per status per bucket, buckets in time order (only
	// buckets with runs).
	Series        Series
	TopRules      []Count // runs with a detection of the rule
	TopRootCauses []Count // runs whose root cause was a step of the node
	// TopSince and TopRuns: the top lists count the TopRuns newest runs in
	// the window, which started at or after TopSince.
	TopSince time.Time
	TopRuns  int
	// NodeLatency: per node over the steps of the pipeline's newest
	// LatencySampleRuns runs in the window (SampledRuns of them).
	NodeLatency []NodeLatency
	SampledRuns int
}

// Bucket counts runs (by status) or detections (by severity) that
// started in [Start, Start+bucket).
type Bucket struct {
	Start  time.Time
	Counts map[string]int
}

// Series is buckets in time order, only those with counts.
type Series []Bucket

// add counts n for key in the bucket starting at start, which is the last
// bucket or a later one.
func (s *Series) add(start time.Time, key string, n int) {
	if k := len(*s); k == 0 || !(*s)[k-1].Start.Equal(start) {
		*s = append(*s, Bucket{Start: start, Counts: map[string]int{}})
	}
	(*s)[len(*s)-1].Counts[key] += n
}

// Count is a key and how many runs have it.
type Count struct {
	Key  string
	Runs int
}

// NodeLatency is the step duration percentiles of one node.
type NodeLatency struct {
	Node          string
	Steps         int
	P50, P90, P99 int64 // ms
}

// checkWindow validates a window.
func checkWindow(w StatsWindow) error {
	if w.Since.IsZero() || w.Until.IsZero() || !w.Until.After(w.Since) {
		return invalidf("window: since and until are required and until must be after since")
	}
	switch w.Bucket {
	case BucketMinute:
		return nil
	case BucketHour, BucketDay:
		// Counted from run_counts, whose rows are whole hours.
		if !w.Since.Equal(w.Since.Truncate(time.Hour)) {
			return invalidf("window: since must be a whole hour with %s buckets, got %s", w.Bucket, w.Since.Format(time.RFC3339Nano))
		}
		return nil
	}
	return invalidf("unknown bucket %q", w.Bucket)
}

// bucket is the SQL expression truncating the timestamp column col to a
// bucket, as text on SQLite (the stored form is fixed width, so a prefix is
// a truncation) and as a timestamp on PostgreSQL.
func (d dialect) bucket(col, unit string) string {
	if d.postgres {
		return "date_trunc('" + unit + "', " + col + " AT TIME ZONE 'UTC')"
	}
	n := map[string]string{BucketMinute: "16", BucketHour: "13", BucketDay: "10"}[unit]
	return "substr(" + col + ", 1, " + n + ")"
}

// bucketTime reads a bucket expression's value back as a UTC time.
func bucketTime(v any) (time.Time, error) {
	switch x := v.(type) {
	case time.Time:
		return time.Date(x.Year(), x.Month(), x.Day(), x.Hour(), x.Minute(), 0, 0, time.UTC), nil
	case string:
		if t, err := time.Parse(time.RFC3339Nano, x); err == nil { // run_counts.hour on SQLite
			return t.UTC(), nil
		}
		for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15", "2006-01-02"} {
			if len(x) == len(layout) {
				return time.Parse(layout, x)
			}
		}
	case []byte:
		return bucketTime(string(x))
	}
	return time.Time{}, invalidf("bucket value %v", v)
}

// PipelineStats aggregates each pipeline's runs that started in the window
// (one pipeline when w.Pipeline is set), most runs first, at most
// MaxPipelines of them.
func (b *base) PipelineStats(ctx context.Context, w StatsWindow) ([]PipelineStats, error) {
	if err := checkWindow(w); err != nil {
		return nil, err
	}
	q := b.runsIn(w.Since, w.Until, w.Pipeline)
	where := q.whereSQL()
	byName := map[string]*PipelineStats{}
	get := func(name string) *PipelineStats {
		p := byName[name]
		if p == nil {
			p = &PipelineStats{Pipeline: name, ByStatus: map[string]int{}}
			byName[name] = p
		}
		return p
	}
	err := b.withReadTx(ctx, func(tx *sql.Tx) error {
		// Runs per pipeline, status and bucket: from run_counts (at most
		// one row per hour) for hour and day buckets, from the traces of
		// the window (an hour or so) for minute buckets.
		query := "SELECT t.pipeline_name, t.status, " + b.d.bucket("t.created_at", w.Bucket) +
			", count(*) FROM traces t" + where + " GROUP BY 1, 2, 3 ORDER BY 1, 3"
		args := q.args
		if w.Bucket != BucketMinute {
			rc := &sqlBuilder{d: b.d}
			rc.cond("hour >= %s", b.d.ts(w.Since))
			rc.cond("hour < %s", b.d.ts(w.Until))
			if w.Pipeline != "" {
				rc.cond("pipeline_name = %s", w.Pipeline)
			}
			query, args = "SELECT pipeline_name, status, hour, runs FROM run_counts"+rc.whereSQL()+" ORDER BY 1, 3", rc.args
		}
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var name, status string
			var bucket any
			var n int
			if err := rows.Scan(&name, &status, &bucket, &n); err != nil {
				return err
			}
			start, err := bucketTime(bucket)
			if err != nil {
				return err
			}
			if w.Bucket == BucketDay {
				start = start.Truncate(24 * time.Hour)
			}
			p := get(name)
			p.Runs += n
			p.ByStatus[status] += n
			p.Series.add(start, status, n)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, wrapRead("pipeline stats", err)
	}
	out := make([]PipelineStats, 0, len(byName))
	for _, p := range byName {
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Runs != out[j].Runs {
			return out[i].Runs > out[j].Runs
		}
		return out[i].Pipeline < out[j].Pipeline
	})
	if len(out) > MaxPipelines {
		out = out[:MaxPipelines]
	}
	err = b.withReadTx(ctx, func(tx *sql.Tx) error {
		for i := range out {
			if err := b.topCounts(ctx, tx, w, &out[i]); err != nil {
				return err
			}
			if err := b.nodeLatency(ctx, tx, w, &out[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, wrapRead("node latency", err)
	}
	return out, nil
}

// runsIn is a query's conditions on the runs (t) that started in [since,
// until), of pipeline unless it is "".
func (b *base) runsIn(since, until time.Time, pipeline string) *sqlBuilder {
	q := &sqlBuilder{d: b.d}
	q.cond("t.created_at >= %s", b.d.ts(since))
	q.cond("t.created_at < %s", b.d.ts(until))
	if pipeline != "" {
		q.cond("t.pipeline_name = %s", pipeline)
	}
	return q
}

// newestRuns is the subquery of a pipeline's newest n runs in the window.
func (b *base) newestRuns(q *sqlBuilder, w StatsWindow, pipeline string, n int) string {
	q.cond("t.pipeline_name = %s", pipeline)
	q.cond("t.created_at >= %s", b.d.ts(w.Since))
	q.cond("t.created_at < %s", b.d.ts(w.Until))
	lim := q.arg(n)
	where := q.whereSQL()
	q.where = nil
	return "(SELECT t.id, t.created_at FROM traces t" + where + " ORDER BY t.created_at DESC, t.id DESC LIMIT " + lim + ") r"
}

// topCounts fills p's top rules and root causes from its newest
// TopSampleRuns runs in the window.
func (b *base) topCounts(ctx context.Context, tx *sql.Tx, w StatsWindow, p *PipelineStats) error {
	q := &sqlBuilder{d: b.d}
	var since any
	if err := tx.QueryRowContext(ctx, "SELECT min(r.created_at), count(*) FROM "+b.newestRuns(q, w, p.Pipeline, TopSampleRuns),
		q.args...).Scan(&since, &p.TopRuns); err != nil {
		return err
	}
	if p.TopRuns == 0 {
		return nil
	}
	if err := (tsCol{&p.TopSince}).Scan(since); err != nil {
		return err
	}
	rule := b.d.jsonText("d.details", "rule")
	for _, c := range []struct {
		query string
		dst   *[]Count
	}{
		{"SELECT " + rule + ", count(DISTINCT r.id) FROM %s JOIN detections d ON d.trace_id = r.id WHERE " + rule +
			" IS NOT NULL GROUP BY 1", &p.TopRules},
		{"SELECT s.node_name, count(DISTINCT r.id) FROM %s JOIN forensics f ON f.trace_id = r.id" +
			" JOIN trace_steps s ON s.id = f.root_cause_step GROUP BY 1", &p.TopRootCauses},
	} {
		q := &sqlBuilder{d: b.d}
		rows, err := tx.QueryContext(ctx, fmt.Sprintf(c.query, b.newestRuns(q, w, p.Pipeline, TopSampleRuns)), q.args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var x Count
			if err := rows.Scan(&x.Key, &x.Runs); err != nil {
				rows.Close()
				return err
			}
			*c.dst = append(*c.dst, x)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		sortCounts(*c.dst)
		if len(*c.dst) > TopN {
			*c.dst = (*c.dst)[:TopN]
		}
	}
	return nil
}

// sortCounts orders most runs first, ties by key.
func sortCounts(cs []Count) {
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].Runs != cs[j].Runs {
			return cs[i].Runs > cs[j].Runs
		}
		return cs[i].Key < cs[j].Key
	})
}

// nodeLatency fills p.NodeLatency from the steps of the pipeline's newest
// LatencySampleRuns runs in the window.
func (b *base) nodeLatency(ctx context.Context, tx *sql.Tx, w StatsWindow, p *PipelineStats) error {
	q := &sqlBuilder{d: b.d}
	rows, err := tx.QueryContext(ctx, "SELECT s.node_name, s.duration_ms, s.trace_id FROM "+
		b.newestRuns(q, w, p.Pipeline, LatencySampleRuns)+" JOIN trace_steps s ON s.trace_id = r.id", q.args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	durs := map[string][]int64{}
	runs := map[string]bool{}
	for rows.Next() {
		var node, trace string
		var ms int64
		if err := rows.Scan(&node, &ms, &trace); err != nil {
			return err
		}
		durs[node] = append(durs[node], ms)
		runs[trace] = true
	}
	if err := rows.Err(); err != nil {
		return err
	}
	p.SampledRuns = len(runs)
	for node, ds := range durs {
		slices.Sort(ds)
		p.NodeLatency = append(p.NodeLatency, NodeLatency{Node: node, Steps: len(ds),
			P50: percentile(ds, 50), P90: percentile(ds, 90), P99: percentile(ds, 99)})
	}
	sort.Slice(p.NodeLatency, func(i, j int) bool { return p.NodeLatency[i].Node < p.NodeLatency[j].Node })
	return nil
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []int64, pct int) int64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := (pct*len(sorted) + 99) / 100 // ceil(pct/100 * n)
	return sorted[max(rank, 1)-1]
}
