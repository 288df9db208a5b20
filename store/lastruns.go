package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// LastRun is a pipeline and the start of its newest run.
type LastRun struct {
	Pipeline string
	At       time.Time
}

// MaxLastRuns bounds LastRuns: deployments have tens of pipelines; a
// pipeline name per user or per request must not make the home page slow.
const MaxLastRuns = 200

// lastRunsSQL walks traces_pipeline_idx from one pipeline name to the next
// (a loose index scan: one seek per pipeline, however many runs each has)
// and reads each pipeline's newest start from the same index. The same
// text runs on SQLite and PostgreSQL but for the placeholder of the bound
// on pipelines (%s).
const lastRunsSQL = `WITH RECURSIVE p(name, n) AS (
	SELECT (SELECT pipeline_name FROM traces ORDER BY pipeline_name LIMIT 1), 1
	UNION ALL
	SELECT (SELECT pipeline_name FROM traces WHERE pipeline_name > p.name ORDER BY pipeline_name LIMIT 1), p.n + 1
	FROM p WHERE p.name IS NOT NULL AND p.n < %s
)
SELECT name, (SELECT created_at FROM traces WHERE pipeline_name = p.name ORDER BY created_at DESC LIMIT 1)
FROM p WHERE name IS NOT NULL`

// LastRuns lists each pipeline that has runs with its newest run's start,
// by name, at most MaxLastRuns of them; only pipeline when it is set (none
// when it has no runs). The pipelines page lists with it the pipelines
// that had no runs in its window, so none vanishes for being quiet.
func (b *base) LastRuns(ctx context.Context, pipeline string) ([]LastRun, error) {
	query, args := fmt.Sprintf(lastRunsSQL, b.d.ph(1)), []any{MaxLastRuns}
	if pipeline != "" {
		query, args = "SELECT pipeline_name, created_at FROM traces WHERE pipeline_name = "+b.d.ph(1)+
			" ORDER BY created_at DESC LIMIT 1", []any{pipeline}
	}
	var out []LastRun
	err := b.withReadTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r LastRun
			if err := rows.Scan(&r.Pipeline, tsCol{&r.At}); err != nil {
				return err
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, wrapRead("last runs", err)
	}
	return out, nil
}
