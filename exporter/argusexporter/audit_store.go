package argusexporter

import (
	"context"

	"github.com/arguslabs/argus-otel/store"
)

// insertAudit writes audit rows. The store inserts them in one transaction
// and a duplicate id fails the whole call (the REST API's semantics), but a
// retried push must not fail on rows its first attempt already stored, and
// one row the database refuses must not cost the others: on a permanent
// error the store inserts them one by one (store.InsertAuditSalvaging),
// skipping stored ones and quarantining refused ones. A transient error is
// returned for exporterhelper to retry.
func (e *argusExporter) insertAudit(ctx context.Context, rows []store.AuditLog) error {
	written, sv, err := store.InsertAuditSalvaging(ctx, e.store, rows)
	e.tel.rows(ctx, store.TableAuditLogs, written)
	if err != nil {
		return err
	}
	if len(sv.Refused) > 0 && sv.QuarantineErr != nil {
		e.permanentRows(ctx, sv.Refused, sv.QuarantineErr)
		return nil
	}
	if len(sv.Refused) > 0 {
		e.status.db.Refused(len(sv.Refused), sv.Refused[0].Err)
	}
	for _, r := range sv.Refused {
		e.tel.quarantined(ctx, r.Table, 1)
		e.quarantines.add(r.Table, 1, r.Err)
	}
	return nil
}
