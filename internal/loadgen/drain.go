package loadgen

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"
	_ "modernc.org/sqlite"             // driver "sqlite"
)

// OpenStore opens the collector's database read-only where the driver allows:
// driver "sqlite" takes a file path, "postgres" a DSN.
func OpenStore(driver, target string) (*sql.DB, error) {
	switch driver {
	case "sqlite":
		return sql.Open("sqlite", "file:"+target+"?mode=ro&_pragma=busy_timeout(10000)")
	case "postgres":
		return sql.Open("pgx", target)
	default:
		return nil, fmt.Errorf("driver: want sqlite or postgres, got %q", driver)
	}
}

// Rows are the row counts of the store's tables.
type Rows struct {
	Traces     int64 `json:"traces"`
	Steps      int64 `json:"trace_steps"`
	Detections int64 `json:"detections"`
	Forensics  int64 `json:"forensics"`
}

// CountRows counts the rows of the four tables. A missing table (the
// collector has not created its schema yet) counts as an error.
func CountRows(ctx context.Context, db *sql.DB) (Rows, error) {
	var r Rows
	for _, q := range []struct {
		table string
		dst   *int64
	}{{"traces", &r.Traces}, {"trace_steps", &r.Steps}, {"detections", &r.Detections}, {"forensics", &r.Forensics}} {
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+q.table).Scan(q.dst); err != nil {
			return r, fmt.Errorf("count %s: %w", q.table, err)
		}
	}
	return r, nil
}

// Drain is the outcome of WaitStable.
type Drain struct {
	Rows Rows `json:"rows"`
	// Stable is false when the timeout came first.
	Stable bool `json:"stable"`
	// LastGrowthUnixMs is when a poll first saw the final counts: the
	// moment the store stopped growing, to within one poll interval.
	LastGrowthUnixMs int64   `json:"last_growth_unix_ms"`
	WaitedS          float64 `json:"waited_s"`
	Polls            int     `json:"polls"`
	LastError        string  `json:"last_error,omitempty"`
}

// WaitStable polls the row counts until they have not changed for quiet, or
// for one poll once they reach want (what the client had acknowledged), or
// until timeout.
func WaitStable(ctx context.Context, db *sql.DB, want Rows, poll, quiet, timeout time.Duration) Drain {
	start := time.Now()
	deadline := start.Add(timeout)
	var d Drain
	var last Rows
	lastChange := start
	seen := false
	for {
		r, err := CountRows(ctx, db)
		d.Polls++
		now := time.Now()
		if err != nil {
			d.LastError = err.Error()
		} else {
			d.LastError = ""
			if !seen || r != last {
				last, lastChange, seen = r, now, true
				d.LastGrowthUnixMs = now.UnixMilli()
			} else if (r.Traces >= want.Traces && r.Steps >= want.Steps) || now.Sub(lastChange) >= quiet {
				d.Stable = true
			}
		}
		if d.Stable || now.After(deadline) || ctx.Err() != nil {
			break
		}
		if !sleep(ctx, poll) {
			break
		}
	}
	d.Rows = last
	d.WaitedS = time.Since(start).Seconds()
	return d
}
