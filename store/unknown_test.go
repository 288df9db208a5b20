package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/arguslabs/argus-otel/internal/testutil"
)

// poisonedBatch is 40 healthy runs with one run of pipeline "poisoned" in
// the middle, in one batch.
func poisonedBatch() TraceBatch {
	var b TraceBatch
	for i := range 41 {
		r := run{id: fmt.Sprintf("r%02d", i), pipeline: "healthy", start: t0, steps: 3, root: true}
		if i == 20 {
			r.id, r.pipeline = "poison", "poisoned"
		}
		x := batchOf(r)
		b.Traces = append(b.Traces, x.Traces...)
		b.Steps = append(b.Steps, x.Steps...)
		b.Detections = append(b.Detections, x.Detections...)
	}
	return b
}

// salvagesPoison writes poisonedBatch through WriteSalvaging and checks
// that the poisoned trace row alone is refused while the 40 healthy runs
// and every step (the poisoned run's under its stub) are stored.
func salvagesPoison(ctx context.Context, t *testing.T, s Store, b TraceBatch) {
	t.Helper()
	sv, err := WriteSalvaging(ctx, s, b)
	if err != nil {
		t.Fatalf("WriteSalvaging: %v", err)
	}
	if len(sv.Refused) != 1 || sv.Refused[0].Table != TableTraces || sv.Refused[0].RecordID != "poison" || len(sv.Unstored) != 0 {
		t.Fatalf("refused %+v, unstored %v; want the poisoned trace row alone", sv.Refused, sv.Unstored)
	}
	if n := count(t, s, "SELECT count(*) FROM traces WHERE pipeline_name = 'healthy'"); n != 40 {
		t.Errorf("%d healthy runs stored, want 40", n)
	}
	if n := count(t, s, "SELECT count(*) FROM trace_steps"); n != 41*3 {
		t.Errorf("%d steps stored, want %d (the poisoned run's too, under its stub)", n, 41*3)
	}
}

// TestUnknownErrorPostgresTrigger: a user's trigger raises P0001 (a class
// the error table does not know) for one pipeline. The database answers,
// so the batch is at fault: the 40 other runs are stored, the refused
// trace row is in the quarantine with the trigger's message, and the call
// returns. A trigger raising for every row is the database's fault:
// nothing is quarantined and the error comes back to be retried. Without
// the trigger nothing is quarantined any more.
func TestUnknownErrorPostgresTrigger(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, Config{Driver: DriverPostgres, DSN: testutil.PostgresDSN(t)})
	db, _ := raw(s)
	mustExec := func(q string) {
		t.Helper()
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	mustExec(`CREATE FUNCTION refuse_poisoned() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.pipeline_name = 'poisoned' OR current_setting('argus_test.refuse_all', true) = 'on' THEN
				RAISE EXCEPTION 'pipeline % is not allowed here', NEW.pipeline_name;
			END IF;
			RETURN NEW;
		END $$`)
	mustExec(`CREATE TRIGGER refuse_poisoned BEFORE INSERT OR UPDATE ON traces FOR EACH ROW EXECUTE FUNCTION refuse_poisoned()`)

	b := poisonedBatch()
	err := s.WriteBatch(ctx, b)
	if Classify(err) != ClassUnknown || ErrorCode(err) != "P0001" {
		t.Fatalf("the batch as a whole: %v (code %q, class %s), want P0001 of unknown class", err, ErrorCode(err), Classify(err))
	}
	salvagesPoison(ctx, t, s, b)
	var reason, code string
	if err := db.QueryRow(`SELECT reason, code FROM quarantine WHERE table_name = 'traces' AND record_id = 'poison'`).Scan(&reason, &code); err != nil {
		t.Fatalf("the poisoned trace row is not in the quarantine: %v", err)
	}
	if code != "P0001" || !strings.Contains(reason, "pipeline poisoned is not allowed here") {
		t.Errorf("quarantine reason %q, code %q", reason, code)
	}

	// Every row refused: the database's fault, retried, nothing quarantined.
	mustExec(`CREATE OR REPLACE FUNCTION refuse_poisoned() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'no writes today'; END $$`)
	all := TraceBatch{}
	for _, id := range []string{"a1", "a2", "a3"} {
		x := batchOf(run{id: id, pipeline: "healthy", start: t0, steps: 2, root: true})
		all.Traces, all.Steps = append(all.Traces, x.Traces...), append(all.Steps, x.Steps...)
	}
	sv, err := WriteSalvaging(ctx, s, all)
	if err == nil || IsPermanent(err) {
		t.Fatalf("every row refused: err %v (permanent %v), refused %d; want a retryable error", err, IsPermanent(err), len(sv.Refused))
	}
	if n := count(t, s, "SELECT count(*) FROM quarantine"); n != 1 {
		t.Errorf("a database refusing every row quarantined rows: %d in the quarantine, want the 1 from before", n)
	}

	// The trigger dropped: the poisoned run is stored, nothing more quarantined.
	mustExec(`DROP TRIGGER refuse_poisoned ON traces`)
	sv, err = WriteSalvaging(ctx, s, b)
	if err != nil || len(sv.Refused) != 0 {
		t.Fatalf("without the trigger: %v, refused %d", err, len(sv.Refused))
	}
	if n := count(t, s, "SELECT count(*) FROM traces WHERE pipeline_name = 'poisoned'"); n != 1 {
		t.Errorf("the poisoned run is not stored once the trigger is gone")
	}
}

// faultStore is a real store with injected faults: write refuses batches
// holding a pipeline's trace row with err, ping fails with pingErr.
type faultStore struct {
	Store
	refuse  func(TraceBatch) bool
	err     error
	pingErr error
	writes  int
}

func (f *faultStore) WriteBatch(ctx context.Context, b TraceBatch) error {
	f.writes++
	if f.refuse(b) {
		return f.err
	}
	return f.Store.WriteBatch(ctx, b)
}

// ProbeWrite runs the real probe through the fault: a made-up row is
// refused when refuse says so, like any write.
func (f *faultStore) ProbeWrite(ctx context.Context, table string) error {
	return probeWrite(ctx, f, table)
}

func (f *faultStore) writeBatch(ctx context.Context, b TraceBatch, commit bool) error {
	if f.refuse(b) {
		return f.err
	}
	return f.Store.(probeWriter).writeBatch(ctx, b, commit)
}

func (f *faultStore) insertAuditLogs(ctx context.Context, rows []AuditLog, commit bool) error {
	return f.Store.(probeWriter).insertAuditLogs(ctx, rows, commit)
}

func (f *faultStore) Ping(ctx context.Context) error {
	if f.pingErr != nil {
		return f.pingErr
	}
	return f.Store.Ping(ctx)
}

func holdsPipeline(name string) func(TraceBatch) bool {
	return func(b TraceBatch) bool {
		for _, u := range b.Traces {
			if u.Trace.PipelineName == name {
				return true
			}
		}
		return false
	}
}

// TestUnknownErrorInjected: on both drivers, an error of unknown meaning
// (a Go-side driver error) for one run. The database answers: the run is
// quarantined, the others stored. It does not answer: nothing is
// quarantined, the error is returned to be retried. Every write fails:
// the database's fault, nothing quarantined.
func TestUnknownErrorInjected(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store, cfg Config) {
		ctx := context.Background()
		encodeErr := errors.New("driver: cannot encode value of type chan int")
		if Classify(encodeErr) != ClassUnknown {
			t.Fatalf("a Go-side error is %s, want unknown", Classify(encodeErr))
		}
		b := poisonedBatch()

		down := &faultStore{Store: s, refuse: func(TraceBatch) bool { return true }, err: encodeErr,
			pingErr: errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")}
		if sv, err := WriteSalvaging(ctx, down, b); err == nil || len(sv.Refused) != 0 || down.writes != 1 {
			t.Fatalf("database not answering: err %v, refused %d, writes %d; want the error back after one write", err, len(sv.Refused), down.writes)
		}
		every := &faultStore{Store: s, refuse: func(TraceBatch) bool { return true }, err: encodeErr}
		if sv, err := WriteSalvaging(ctx, every, b); !errors.Is(err, encodeErr) || len(sv.Refused) != 0 {
			t.Fatalf("every write refused: err %v, refused %d; want the error back, nothing quarantined", err, len(sv.Refused))
		}
		if n := count(t, s, "SELECT count(*) FROM quarantine"); n != 0 {
			t.Fatalf("%d rows quarantined while the database was at fault", n)
		}

		one := &faultStore{Store: s, refuse: holdsPipeline("poisoned"), err: encodeErr}
		sv, err := WriteSalvaging(ctx, one, b)
		if err != nil || len(sv.Refused) != 1 || sv.Refused[0].RecordID != "poison" {
			t.Fatalf("one run at fault: err %v, refused %+v", err, sv.Refused)
		}
		if n := count(t, s, "SELECT count(*) FROM traces WHERE pipeline_name = 'healthy'"); n != 40 {
			t.Errorf("%d healthy runs stored, want 40", n)
		}
		if n := count(t, s, "SELECT count(*) FROM quarantine WHERE record_id = 'poison' AND reason LIKE '%cannot encode%'"); n != 1 {
			t.Errorf("the poisoned trace row is not in the quarantine with its reason")
		}
	})
}

// TestUnknownAuditErrorInjected: the same for audit rows.
func TestUnknownAuditErrorInjected(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store, cfg Config) {
		ctx := context.Background()
		encodeErr := errors.New("driver: cannot encode value")
		rows := []AuditLog{auditRow("a1", "ok"), auditRow("a2", "poison"), auditRow("a3", "ok")}
		every := &auditFault{Store: s, refuse: func(AuditLog) bool { return true }, err: encodeErr}
		if n, sv, err := InsertAuditSalvaging(ctx, every, rows); err == nil || n != 0 || len(sv.Refused) != 0 {
			t.Fatalf("every row refused: %d written, refused %d, err %v; want the error back", n, len(sv.Refused), err)
		}
		one := &auditFault{Store: s, refuse: func(a AuditLog) bool { return a.Action == "poison" }, err: encodeErr}
		n, sv, err := InsertAuditSalvaging(ctx, one, rows)
		if err != nil || n != 2 || len(sv.Refused) != 1 || sv.Refused[0].RecordID != "a2" {
			t.Fatalf("one row at fault: %d written, refused %+v, err %v", n, sv.Refused, err)
		}
	})
}

func auditRow(id, action string) AuditLog {
	return AuditLog{ID: id, Timestamp: t0, Status: "SUCCESS", Action: action, ActorType: "user", ActorID: "x", TargetType: "report"}
}

type auditFault struct {
	Store
	refuse func(AuditLog) bool
	err    error
}

func (f *auditFault) ProbeWrite(ctx context.Context, table string) error {
	return probeWrite(ctx, f, table)
}

func (f *auditFault) writeBatch(ctx context.Context, b TraceBatch, commit bool) error {
	return f.Store.(probeWriter).writeBatch(ctx, b, commit)
}

func (f *auditFault) insertAuditLogs(ctx context.Context, rows []AuditLog, commit bool) error {
	for _, r := range rows {
		if f.refuse(r) {
			return f.err
		}
	}
	return f.Store.(probeWriter).insertAuditLogs(ctx, rows, commit)
}

func (f *auditFault) InsertAuditLogs(ctx context.Context, rows []AuditLog) error {
	return f.insertAuditLogs(ctx, rows, true)
}
