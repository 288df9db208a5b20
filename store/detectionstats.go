package store

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"
)

// DetectionStats counts, per rule and node, the detections of runs that
// started in the window and the runs they were in, each per bucket too;
// Series is per bucket and severity, all rules together.
type DetectionStats struct {
	Rows   []DetectionCount
	Series Series // by severity
	// Since is where the counted runs start: the window's start, or later
	// when the window holds more than DetectionSampleRuns runs (then the
	// newest of them are counted).
	Since time.Time
}

// DetectionSampleRuns bounds the runs the detections page counts.
const DetectionSampleRuns = 5000

// DetectionCount is one rule on one node.
type DetectionCount struct {
	Rule, Node string
	Severity   string // the worst seen
	Detections int
	Runs       int
	// Buckets: its detections per bucket of the window, in time order,
	// only the buckets it fired in.
	Buckets []BucketCount
}

// BucketCount is a count in the bucket that starts at Start.
type BucketCount struct {
	Start time.Time
	N     int
}

// MaxDetectionRows bounds the rule x node table.
const MaxDetectionRows = 200

// DetectionStats aggregates the detections of runs started in the window.
func (b *base) DetectionStats(ctx context.Context, w StatsWindow) (*DetectionStats, error) {
	if err := checkWindow(w); err != nil {
		return nil, err
	}
	out := &DetectionStats{Since: w.Since}
	// The newest DetectionSampleRuns runs of the window at most: its start
	// moves to the oldest of them.
	s := b.runsIn(w.Since, w.Until, w.Pipeline)
	var oldest any
	var n int
	lim := s.arg(DetectionSampleRuns)
	err := b.withReadTx(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, "SELECT min(r.created_at), count(*) FROM (SELECT t.created_at FROM traces t"+s.whereSQL()+
			" ORDER BY t.created_at DESC, t.id DESC LIMIT "+lim+") r", s.args...).Scan(&oldest, &n)
	})
	if err != nil {
		return nil, wrapRead("detection stats", err)
	}
	if n == DetectionSampleRuns {
		if err := (tsCol{&out.Since}).Scan(oldest); err != nil {
			return nil, err
		}
	}
	q := b.runsIn(out.Since, w.Until, w.Pipeline)
	from := " FROM traces t JOIN detections d ON d.trace_id = t.id LEFT JOIN trace_steps s ON s.id = d.step_id" + q.whereSQL()
	bucket := b.d.bucket("t.created_at", w.Bucket)
	err = b.withReadTx(ctx, func(tx *sql.Tx) error {
		if err := b.detectionRows(ctx, tx, from, bucket, q.args, out); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, "SELECT "+bucket+", d.severity, count(*)"+from+" GROUP BY 1, 2 ORDER BY 1", q.args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var bucket any
			var sev string
			var n int
			if err := rows.Scan(&bucket, &sev, &n); err != nil {
				return err
			}
			start, err := bucketTime(bucket)
			if err != nil {
				return err
			}
			out.Series.add(start, sev, n)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, wrapRead("detection stats", err)
	}
	return out, nil
}

// detectionRows fills out.Rows, the MaxDetectionRows rule x node pairs
// with the most detections, from one query grouping by rule, node and
// bucket: a pair's rows arrive together, their sum is its total (a run's
// detections are all in its start's bucket, so its runs add up too), and
// at most 2*MaxDetectionRows pairs are held at a time.
func (b *base) detectionRows(ctx context.Context, tx *sql.Tx, from, bucket string, args []any, out *DetectionStats) error {
	rule := "COALESCE(" + b.d.jsonText("d.details", "rule") + ", '')"
	node := "COALESCE(s.node_name, " + b.d.jsonText("d.details", "node") + ", '')"
	rows, err := tx.QueryContext(ctx, "SELECT "+rule+", "+node+", "+bucket+", max("+severityRankSQL("d.severity")+
		"), count(*), count(DISTINCT t.id)"+from+" GROUP BY 1, 2, 3 ORDER BY 1, 2, 3", args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var kept []DetectionCount
	var cur *DetectionCount
	worst := 0
	done := func() {
		if cur == nil {
			return
		}
		cur.Severity = severityOfRank(worst)
		if kept = append(kept, *cur); len(kept) == 2*MaxDetectionRows {
			kept = mostDetections(kept)
		}
	}
	for rows.Next() {
		var c DetectionCount
		var bucket any
		var rank, n, runs int
		if err := rows.Scan(&c.Rule, &c.Node, &bucket, &rank, &n, &runs); err != nil {
			return err
		}
		start, err := bucketTime(bucket)
		if err != nil {
			return err
		}
		if cur == nil || cur.Rule != c.Rule || cur.Node != c.Node {
			done()
			cur, worst = &c, 0
		}
		worst = max(worst, rank)
		cur.Detections += n
		cur.Runs += runs
		cur.Buckets = append(cur.Buckets, BucketCount{Start: start, N: n})
	}
	if err := rows.Err(); err != nil {
		return err
	}
	done()
	out.Rows = mostDetections(kept)
	return nil
}

// mostDetections is the first MaxDetectionRows of rows ordered by
// detections, then rule and node.
func mostDetections(rows []DetectionCount) []DetectionCount {
	slices.SortFunc(rows, func(a, b DetectionCount) int {
		if a.Detections != b.Detections {
			return b.Detections - a.Detections
		}
		if c := strings.Compare(a.Rule, b.Rule); c != 0 {
			return c
		}
		return strings.Compare(a.Node, b.Node)
	})
	return rows[:min(len(rows), MaxDetectionRows)]
}
