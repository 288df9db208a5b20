package store

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

// TestLongIndexedValuesAreCapped: the PostgreSQL stall. A pipeline
// name of 3,000 random characters (and node names, ids) is cut to
// MaxIndexedBytes before the database, the same on both drivers; long ids
// stay distinct.
func TestLongIndexedValuesAreCapped(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store, _ Config) {
		ctx := context.Background()
		long := randomText(3000)
		b := batchOf(run{id: "cap1", pipeline: long, start: t0, steps: 2, root: true})
		b.Steps[0].NodeName = "é" + long // multi-byte: cut on a rune boundary
		id1, id2 := "T"+long+"1", "T"+long+"2"
		b2 := batchOf(run{id: id1, pipeline: "p", start: t0, steps: 1, root: true})
		b3 := batchOf(run{id: id2, pipeline: "p", start: t0, steps: 1, root: true})
		b.Traces = append(b.Traces, b2.Traces[0], b3.Traces[0])
		if err := s.WriteBatch(ctx, b); err != nil {
			t.Fatalf("WriteBatch: %v", err)
		}
		full, err := s.GetTrace(ctx, "cap1")
		if err != nil {
			t.Fatal(err)
		}
		if p := full.Trace.PipelineName; len(p) > MaxIndexedBytes || !strings.HasPrefix(long, strings.TrimSuffix(p, "…")) || !strings.HasSuffix(p, "…") {
			t.Errorf("pipeline name %d bytes %q...", len(p), p[:20])
		}
		if n := full.Steps[0].NodeName; len(n) > MaxIndexedBytes || !utf8.ValidString(n) {
			t.Errorf("node name %d bytes, valid UTF-8 %v", len(n), utf8.ValidString(n))
		}
		if n := count(t, s, "SELECT count(*) FROM traces WHERE pipeline_name = ?", capName(long)); n != 1 {
			t.Errorf("a filter by the capped name finds %d traces", n)
		}
		if capID(id1) == capID(id2) || len(capID(id1)) != MaxIndexedBytes {
			t.Fatalf("long ids collide or are not capped: %d bytes", len(capID(id1)))
		}
		if n := count(t, s, "SELECT count(*) FROM traces WHERE id IN (?, ?)", capID(id1), capID(id2)); n != 2 {
			t.Errorf("two long trace ids stored as %d rows", n)
		}
		al := []AuditLog{{Timestamp: t0, Status: "SUCCESS", ActorType: long, ActorID: long, TargetType: "T", EventType: long, TraceID: long}}
		if err := s.InsertAuditLogs(ctx, al); err != nil {
			t.Fatalf("audit log with long fields: %v", err)
		}
		if len(al[0].ActorType) > MaxIndexedBytes || len(al[0].TraceID) > MaxIndexedBytes {
			t.Errorf("audit fields not capped: %d, %d", len(al[0].ActorType), len(al[0].TraceID))
		}
	})
}

// TestTimesOutOfRange: a client's time outside MinTime..MaxTime is refused
// (not stored), and a row that holds one anyway (written before the range
// was enforced) still reads, sorted as the latest.
func TestTimesOutOfRange(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store, cfg Config) {
		ctx := context.Background()
		year10000, _ := time.Parse(time.RFC3339, "9999-12-31T23:59:59-01:00")
		for _, ts := range []time.Time{year10000, time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC), time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)} {
			err := s.InsertAuditLogs(ctx, []AuditLog{{Timestamp: ts, Status: "SUCCESS", ActorType: "U", ActorID: "u", TargetType: "T"}})
			if !IsPermanent(err) || !strings.Contains(err.Error(), "out of range") {
				t.Errorf("audit timestamp %s: %v", ts, err)
			}
			b := batchOf(run{id: "tr", start: t0, steps: 1, root: true})
			b.Steps[0].Timestamp = ts
			if err := s.WriteBatch(ctx, b); !IsPermanent(err) || !strings.Contains(err.Error(), "out of range") {
				t.Errorf("step timestamp %s: %v", ts, err)
			}
		}
		if err := s.InsertAuditLogs(ctx, []AuditLog{{Timestamp: MaxTime, Status: "SUCCESS", ActorType: "U", ActorID: "u", TargetType: "T"}}); err != nil {
			t.Errorf("MaxTime itself: %v", err)
		}

		// A row written by hand before the range was enforced.
		db, d := raw(s)
		if ss, ok := s.(*sqliteStore); ok {
			db = ss.write
		}
		bad := any("10000-01-01T00:59:59.000Z")
		if d.postgres {
			bad = year10000
		}
		if _, err := db.Exec("INSERT INTO audit_logs (id, timestamp, status, actor_type, actor_id, target_type, created_at) VALUES ("+
			d.ph(1)+", "+d.ph(2)+", 'SUCCESS', 'U', 'u', 'T', "+d.ph(3)+")", "old-bad", bad, d.ts(t0)); err != nil {
			t.Fatal(err)
		}
		if err := s.InsertAuditLogs(ctx, []AuditLog{{ID: "today", Timestamp: time.Now(), Status: "SUCCESS", ActorType: "U", ActorID: "u", TargetType: "T"}}); err != nil {
			t.Fatal(err)
		}
		logs, total, err := s.ListAuditLogs(ctx, AuditFilter{})
		if err != nil {
			t.Fatalf("a stored out-of-range time failed the read: %v", err)
		}
		if total != 3 || logs[0].Timestamp.After(MaxTime) {
			t.Fatalf("total %d, first %v", total, logs[0].Timestamp)
		}
		if _, err := json.Marshal(logs); err != nil {
			t.Errorf("the page does not encode: %v", err)
		}
		if d.postgres && logs[0].ID != "old-bad" {
			t.Errorf("newest first: got %q first", logs[0].ID)
		}
	})
}

// TestWriteSalvaging: one batch of three traces where the database
// refuses some rows for their content. Everything storable is stored, the
// refused rows are in the quarantine table with the reason, and the call
// returns (no retry of a permanent refusal).
func TestWriteSalvaging(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store, cfg Config) {
		ctx := context.Background()
		far := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
		good1 := batchOf(run{id: "good1", pipeline: "p", start: t0, steps: 3, root: true})
		bad := batchOf(run{id: "bad", pipeline: "p", start: t0, steps: 4, root: true})
		bad.Steps[2].OutputState = json.RawMessage(`{"unclosed": [`) // not checked: the store refuses it
		bad.Detections[1].CreatedAt = far
		badRoot := batchOf(run{id: "badroot", pipeline: "p", start: t0, steps: 2, root: true})
		badRoot.Traces[0].Trace.CreatedAt = far
		good2 := batchOf(run{id: "good2", pipeline: "p", start: t0, steps: 2, root: true})
		wantRefused := 3
		if cfg.Driver == DriverPostgres {
			// Valid JSON to Go and SQLite, refused by JSONB: a lone surrogate.
			bad.Forensics = []Forensics{{ID: "bad-f", TraceID: "bad", CausalChain: json.RawMessage(`[{"x":"\ud800"}]`), CreatedAt: t0}}
			wantRefused++
		}
		var b TraceBatch
		for _, x := range []TraceBatch{good1, bad, badRoot, good2} {
			b.Traces = append(b.Traces, x.Traces...)
			b.Steps = append(b.Steps, x.Steps...)
			b.Detections = append(b.Detections, x.Detections...)
			b.Forensics = append(b.Forensics, x.Forensics...)
		}
		if err := s.WriteBatch(ctx, b); !IsPermanent(err) {
			t.Fatalf("the batch as a whole: %v, want a content error", err)
		}
		sv, err := WriteSalvaging(ctx, s, b)
		if err != nil {
			t.Fatalf("WriteSalvaging: %v", err)
		}
		if len(sv.Refused) != wantRefused || sv.QuarantineErr != nil || len(sv.Unstored) != 0 {
			for _, r := range sv.Refused {
				t.Logf("refused %s %s: %v", r.Table, r.RecordID, r.Err)
			}
			t.Fatalf("refused %d rows (want %d), quarantine error %v, unstored %v", len(sv.Refused), wantRefused, sv.QuarantineErr, sv.Unstored)
		}
		for id, steps := range map[string]int{"good1": 3, "good2": 2, "bad": 3, "badroot": 2} {
			full, err := s.GetTrace(ctx, id)
			if err != nil {
				t.Fatalf("trace %s: %v", id, err)
			}
			if len(full.Steps) != steps || full.Trace.NodeCount != steps {
				t.Errorf("trace %s: %d steps (node_count %d), want %d", id, len(full.Steps), full.Trace.NodeCount, steps)
			}
		}
		if m := metaOf(t, mustGet(t, s, "badroot").Trace.Metadata); m["quarantined"] != true {
			t.Errorf("the refused trace row is replaced by a stub marked quarantined: %v", m)
		}
		if n := count(t, s, "SELECT count(*) FROM quarantine"); n != wantRefused {
			t.Errorf("quarantine holds %d rows, want %d", n, wantRefused)
		}
		var reason, record string
		db, d := raw(s)
		if err := db.QueryRow("SELECT reason, record FROM quarantine WHERE table_name = 'trace_steps' AND record_id = "+d.ph(1), "bad-s02").Scan(&reason, &record); err != nil {
			t.Fatalf("the refused step is not in the quarantine: %v", err)
		}
		if !strings.Contains(reason, "not valid JSON") || !strings.Contains(record, "unclosed") {
			t.Errorf("reason %q, record %q", reason, record)
		}
		if err := db.QueryRow("SELECT reason, record FROM quarantine WHERE table_name = 'traces' AND record_id = 'badroot'").Scan(&reason, &record); err != nil {
			t.Fatalf("the refused trace row is not in the quarantine: %v", err)
		}
		if !strings.Contains(reason, "out of range") || !strings.Contains(record, `"created_at":"10000-01-01T00:00:00Z"`) {
			t.Errorf("reason %q, record %q", reason, record)
		}
		// The same batch again (a retry): nothing is added twice.
		if _, err := WriteSalvaging(ctx, s, b); err != nil {
			t.Fatal(err)
		}
		if n := count(t, s, "SELECT count(*) FROM quarantine"); n != wantRefused {
			t.Errorf("after a retry the quarantine holds %d rows, want %d", n, wantRefused)
		}
	})
}

func mustGet(t *testing.T, s Store, id string) *Full {
	t.Helper()
	full, err := s.GetTrace(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return full
}

// TestMaxJSONDepthIsTheMappings: the mapping flags states deeper than
// agentrun.MaxStoredJSONDepth as kept as text (semantic.deep_json); that
// must be the depth past which the store does keep them as text.
func TestMaxJSONDepthIsTheMappings(t *testing.T) {
	if MaxJSONDepth != agentrun.MaxStoredJSONDepth {
		t.Fatalf("store.MaxJSONDepth %d, agentrun.MaxStoredJSONDepth %d", MaxJSONDepth, agentrun.MaxStoredJSONDepth)
	}
}

// TestSalvageContext: the salvage outlives the request's deadline (so a
// large batch written twice does not time out into a retry loop) but not
// a cancellation (a shutdown).
func TestSalvageContext(t *testing.T) {
	parent, cancelParent := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancelParent()
	sctx, cancel := salvageContext(parent)
	defer cancel()
	<-parent.Done()
	time.Sleep(20 * time.Millisecond)
	if sctx.Err() != nil {
		t.Fatalf("the salvage ended with the request's deadline: %v", sctx.Err())
	}
	if d, ok := sctx.Deadline(); !ok || time.Until(d) > SalvageTimeout {
		t.Errorf("deadline %v, want within %s", d, SalvageTimeout)
	}

	parent2, cancel2 := context.WithCancel(context.Background())
	sctx2, cancelS2 := salvageContext(parent2)
	defer cancelS2()
	cancel2()
	select {
	case <-sctx2.Done():
	case <-time.After(time.Second):
		t.Fatal("a cancelled request did not stop its salvage")
	}
}
