package argusexporter

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/arguslabs/argus-otel/store"
)

// insertAudit writes audit rows. The store inserts them in one transaction
// and a duplicate id fails the whole call (the REST API's semantics), but a
// retried push must not fail on rows its first attempt already stored. So on
// a permanent error the rows are written one by one: already stored ones are
// skipped, rows the database refuses are dropped and counted, and a
// transient error is returned for exporterhelper to retry.
func (e *argusExporter) insertAudit(ctx context.Context, rows []store.AuditLog) error {
	err := e.store.InsertAuditLogs(ctx, rows)
	if err == nil {
		e.tel.rows(ctx, "audit_logs", len(rows))
		return nil
	}
	if !store.IsPermanent(err) {
		return err
	}
	written, rejected := 0, 0
	var lastErr error
	for i := range rows {
		err := e.store.InsertAuditLogs(ctx, rows[i:i+1])
		switch {
		case err == nil:
			written++
		case isDuplicateKey(err):
			// Stored by an earlier attempt of this push.
		case store.IsPermanent(err):
			rejected++
			lastErr = err
		default:
			e.tel.rows(ctx, "audit_logs", written)
			return err
		}
	}
	e.tel.rows(ctx, "audit_logs", written)
	if rejected > 0 {
		e.tel.dropped(ctx, dropPermanent, rejected)
		e.drops.add(dropPermanent, rejected, lastErr)
	}
	return nil
}

// isDuplicateKey reports a primary key / unique violation of either database.
func isDuplicateKey(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		c := sqErr.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || c == sqlite3.SQLITE_CONSTRAINT_UNIQUE
	}
	return false
}
