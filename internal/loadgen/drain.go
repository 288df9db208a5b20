package loadgen

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"strings"
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

// busyShare is the share of one core above which the writer counts as still
// working: a collector that is idle between ticks stays far below it.
const busyShare = 0.2

// WaitStable polls the row counts until they reach want (what the client had
// acknowledged) and hold for one poll, or until neither the counts changed
// nor the writer was busy for quiet, or until timeout. cpu, when not nil,
// returns the writer's CPU seconds so far: a collector still working through
// a backlog (a long transaction, a GC storm) is not taken as drained.
func WaitStable(ctx context.Context, db *sql.DB, want Rows, cpu func() (float64, error), poll, quiet, timeout time.Duration) Drain {
	start := time.Now()
	deadline := start.Add(timeout)
	var d Drain
	var last Rows
	quietSince := start
	seen := false
	prevCPU, prevAt := -1.0, start
	for {
		r, err := CountRows(ctx, db)
		d.Polls++
		now := time.Now()
		if cpu != nil {
			if c, cerr := cpu(); cerr == nil {
				if prevCPU >= 0 && c-prevCPU > busyShare*now.Sub(prevAt).Seconds() {
					quietSince = now
				}
				prevCPU, prevAt = c, now
			}
		}
		if err != nil {
			d.LastError = err.Error()
		} else {
			d.LastError = ""
			if !seen || r != last {
				last, seen = r, true
				quietSince = now
				d.LastGrowthUnixMs = now.UnixMilli()
			} else if (r.Traces >= want.Traces && r.Steps >= want.Steps) || now.Sub(quietSince) >= quiet {
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

// ProcCPU returns a function reading the CPU seconds (utime+stime) of a
// Linux process from /proc/<pid>/stat; clkTck is getconf CLK_TCK.
func ProcCPU(pid int, clkTck float64) func() (float64, error) {
	path := fmt.Sprintf("/proc/%d/stat", pid)
	return func() (float64, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return 0, err
		}
		// The command name may hold spaces: fields are counted after its ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			return 0, fmt.Errorf("%s: no command field", path)
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 13 {
			return 0, fmt.Errorf("%s: %d fields", path, len(f))
		}
		utime, err1 := strconv.ParseFloat(f[11], 64)
		stime, err2 := strconv.ParseFloat(f[12], 64)
		if err1 != nil || err2 != nil {
			return 0, fmt.Errorf("%s: bad utime/stime", path)
		}
		return (utime + stime) / clkTck, nil
	}
}
