package store

import (
	"context"
	"database/sql"
	"strings"
	"testing"
)

// ddl is a connection of s that may change its schema.
func ddl(s Store) *sql.DB {
	if sq, ok := s.(*sqliteStore); ok {
		return sq.write
	}
	db, _ := raw(s)
	return db
}

func mustExec(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// TestStatementErrorOneRow: a user's trigger fails with a statement-class
// error for one pipeline only (SQLite: its name parsed as JSON, "malformed
// JSON", SQLITE_ERROR; PostgreSQL: a copy into a table that does not
// exist, 42P01). The table takes the other rows and the database answers:
// the row alone is at fault and goes to the quarantine with the error;
// the 40 other runs and every step are stored.
func TestStatementErrorOneRow(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store, cfg Config) {
		ctx := context.Background()
		db := ddl(s)
		if cfg.Driver == DriverSQLite {
			mustExec(t, db, `CREATE TRIGGER poison BEFORE INSERT ON traces WHEN NEW.pipeline_name = 'poisoned'
				BEGIN SELECT json_extract(NEW.pipeline_name, '$'); END`)
		} else {
			mustExec(t, db, `CREATE FUNCTION archive_poisoned() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN
					IF NEW.pipeline_name = 'poisoned' THEN
						INSERT INTO poisoned_archive (id) VALUES (NEW.id);
					END IF;
					RETURN NEW;
				END $$`)
			mustExec(t, db, `CREATE TRIGGER archive_poisoned BEFORE INSERT OR UPDATE ON traces FOR EACH ROW EXECUTE FUNCTION archive_poisoned()`)
		}
		b := poisonedBatch()
		err := s.WriteBatch(ctx, b)
		if Classify(err) != ClassStatement || IsPermanent(err) {
			t.Fatalf("the batch as a whole: %v (code %q, class %s), want a statement error, not permanent", err, ErrorCode(err), Classify(err))
		}
		salvagesPoison(ctx, t, s, b)
		want := map[string]string{DriverSQLite: "malformed JSON", DriverPostgres: "poisoned_archive"}[cfg.Driver]
		if n := count(t, s, "SELECT count(*) FROM quarantine WHERE table_name = 'traces' AND record_id = 'poison' AND reason LIKE ?", "%"+want+"%"); n != 1 {
			t.Errorf("the poisoned trace row is not in the quarantine with %q", want)
		}
	})
}

// TestStatementErrorMissingTable: a table renamed away (a restore or a
// migration gone wrong) refuses every write to it. That is the database's
// state, not the rows' fault: the error comes back to be retried, never
// permanent, and nothing is quarantined (for runs and audit rows alike).
// Once the table is back, the same writes store everything.
func TestStatementErrorMissingTable(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store, cfg Config) {
		ctx := context.Background()
		db := ddl(s)
		b := poisonedBatch()
		rows := []AuditLog{auditRow("a1", "ok"), auditRow("a2", "ok")}

		mustExec(t, db, `ALTER TABLE trace_steps RENAME TO trace_steps_away`)
		mustExec(t, db, `ALTER TABLE audit_logs RENAME TO audit_logs_away`)
		sv, err := WriteSalvaging(ctx, s, b)
		if err == nil || IsPermanent(err) || Classify(err) != ClassStatement || len(sv.Refused) != 0 {
			t.Fatalf("steps table missing: err %v (class %s), refused %d; want the statement error back to retry", err, Classify(err), len(sv.Refused))
		}
		if !strings.Contains(err.Error(), "trace_steps") {
			t.Errorf("the error does not name the missing table: %v", err)
		}
		n, sv, err := InsertAuditSalvaging(ctx, s, rows)
		if err == nil || IsPermanent(err) || n != 0 || len(sv.Refused) != 0 {
			t.Fatalf("audit_logs missing: %d written, refused %d, err %v; want the error back to retry", n, len(sv.Refused), err)
		}
		if n := count(t, s, "SELECT count(*) FROM quarantine"); n != 0 {
			t.Fatalf("%d rows quarantined for a missing table", n)
		}

		mustExec(t, db, `ALTER TABLE trace_steps_away RENAME TO trace_steps`)
		mustExec(t, db, `ALTER TABLE audit_logs_away RENAME TO audit_logs`)
		if sv, err := WriteSalvaging(ctx, s, b); err != nil || len(sv.Refused) != 0 {
			t.Fatalf("table back: %v, refused %d", err, len(sv.Refused))
		}
		if n, sv, err := InsertAuditSalvaging(ctx, s, rows); err != nil || n != 2 || len(sv.Refused) != 0 {
			t.Fatalf("audit_logs back: %d written, refused %d, err %v", n, len(sv.Refused), err)
		}
		if n := count(t, s, "SELECT count(*) FROM traces"); n != 41 {
			t.Errorf("%d runs stored, want 41", n)
		}
		if n := count(t, s, "SELECT count(*) FROM trace_steps"); n != 41*3 {
			t.Errorf("%d steps stored, want %d", n, 41*3)
		}
		if n := count(t, s, "SELECT count(*) FROM detections"); n != len(b.Detections) {
			t.Errorf("%d detections stored, want %d", n, len(b.Detections))
		}
	})
}
