package store

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/arguslabs/argus-otel/internal/testutil"
)

// TestProbeWriteKeepsNothing: on both drivers the probe of every table is
// taken and rolled back, leaving no row anywhere (run_counts included).
func TestProbeWriteKeepsNothing(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store, cfg Config) {
		ctx := context.Background()
		for _, table := range []string{TableTraces, TableSteps, TableDetections, TableForensics, TableAuditLogs} {
			if err := s.ProbeWrite(ctx, table); err != nil {
				t.Fatalf("probe %s: %v", table, err)
			}
		}
		for _, table := range []string{"traces", "trace_steps", "detections", "forensics", "audit_logs", "run_counts", "quarantine"} {
			if n := count(t, s, "SELECT count(*) FROM "+table); n != 0 {
				t.Errorf("%d rows left in %s by the probes", n, table)
			}
		}
		if err := s.ProbeWrite(ctx, "schema_migrations"); err == nil {
			t.Error("a probe of a table it has no row for succeeded")
		}
	})
}

// holdsTrace refuses batches with a row of trace id (its stub included).
func holdsTrace(id string) func(TraceBatch) bool {
	return func(b TraceBatch) bool {
		for _, one := range SplitByTrace(b) {
			if traceOf(one) == id {
				return true
			}
		}
		return false
	}
}

// TestUnknownErrorAloneInBatch: a run of which every row is refused for an
// unknown reason comes alone in its batch (a quiet moment: the only run
// its detector shard released), so no other row of the batch shows the
// database stores rows. The probe does: the run is quarantined and the
// call returns, instead of the error being retried while the shard waits.
// A database refusing the probe too is at fault: the error comes back.
func TestUnknownErrorAloneInBatch(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store, cfg Config) {
		ctx := context.Background()
		encodeErr := errors.New("driver: cannot encode value of type chan int")
		b := batchOf(run{id: "poison", pipeline: "p", start: t0, steps: 2, root: true})

		every := &faultStore{Store: s, refuse: func(TraceBatch) bool { return true }, err: encodeErr}
		if sv, err := WriteSalvaging(ctx, every, b); !errors.Is(err, encodeErr) || len(sv.Refused) != 0 {
			t.Fatalf("every write refused, the probe too: err %v, refused %d; want the error back", err, len(sv.Refused))
		}
		if n := count(t, s, "SELECT count(*) FROM quarantine"); n != 0 {
			t.Fatalf("%d rows quarantined while the database was at fault", n)
		}

		alone := &faultStore{Store: s, refuse: holdsTrace("poison"), err: encodeErr}
		sv, err := WriteSalvaging(ctx, alone, b)
		if err != nil {
			t.Fatalf("a run alone in its batch, at fault: %v; want it quarantined", err)
		}
		if len(sv.Unstored) != 1 || sv.Unstored[0] != "poison" || len(sv.Refused) != len(b.Steps)+len(b.Detections)+1 {
			t.Fatalf("refused %d rows, unstored %v; want every row of the run", len(sv.Refused), sv.Unstored)
		}
		if n := count(t, s, "SELECT count(*) FROM quarantine WHERE trace_id = 'poison'"); n != len(sv.Refused) {
			t.Errorf("%d rows of the run in the quarantine, want %d", n, len(sv.Refused))
		}
		if n := count(t, s, "SELECT count(*) FROM traces"); n != 0 {
			t.Errorf("%d traces stored: the probe's row was kept", n)
		}
	})
}

// TestUnknownErrorPostgresTriggerAlone: a trigger refuses steps of one node
// (P0001) and the run with that node as its only step comes alone: its
// trace row is stored, the step quarantined with the trigger's message.
func TestUnknownErrorPostgresTriggerAlone(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, Config{Driver: DriverPostgres, DSN: testutil.PostgresDSN(t)})
	db, _ := raw(s)
	for _, q := range []string{
		`CREATE FUNCTION refuse_node() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN RAISE EXCEPTION 'node % is not allowed here', NEW.node_name; END $$`,
		`CREATE TRIGGER refuse_node BEFORE INSERT OR UPDATE ON trace_steps FOR EACH ROW
			WHEN (NEW.node_name = 'node0') EXECUTE FUNCTION refuse_node()`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	b := batchOf(run{id: "alone", pipeline: "p", start: t0, steps: 1, root: true})
	sv, err := WriteSalvaging(ctx, s, b)
	if err != nil {
		t.Fatalf("WriteSalvaging: %v; want the step quarantined", err)
	}
	if len(sv.Refused) != 1 || sv.Refused[0].Table != TableSteps || len(sv.Unstored) != 0 {
		t.Fatalf("refused %+v, unstored %v; want the step alone", sv.Refused, sv.Unstored)
	}
	var reason string
	if err := db.QueryRow(`SELECT reason FROM quarantine WHERE table_name = 'trace_steps' AND trace_id = 'alone'`).Scan(&reason); err != nil {
		t.Fatalf("the step is not in the quarantine: %v", err)
	}
	if !strings.Contains(reason, "node node0 is not allowed here") {
		t.Errorf("quarantine reason %q", reason)
	}
	if n := count(t, s, "SELECT count(*) FROM traces WHERE id = 'alone'"); n != 1 {
		t.Errorf("the run's trace row is not stored")
	}
	if n := count(t, s, "SELECT count(*) FROM traces"); n != 1 {
		t.Errorf("%d traces stored, want the run's alone (no probe row kept)", n)
	}
}
