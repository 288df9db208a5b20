package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// errRolledBack ends a probe's transaction: its rows are not kept.
var errRolledBack = errors.New("storage: probe rolled back")

// probeWriter is a driver's write path with a choice to commit.
type probeWriter interface {
	writeBatch(ctx context.Context, b TraceBatch, commit bool) error
	insertAuditLogs(ctx context.Context, logs []AuditLog, commit bool) error
}

// probeWrite writes made-up rows into table through the driver's own write
// path, so the same statements, constraints and triggers judge them, and
// rolls the transaction back. The rows are those of an ordinary healthy
// run (ids no real row has), with only the rows the table needs: a trace
// row, plus a step, a detection or a forensics row. A salvage asks it when
// rows of a table were refused for a statement or unknown reason and the
// table stored no other row of the batch (salvager.doubt): a database that takes the
// made-up row refused those rows for what they hold.
func probeWrite(ctx context.Context, w probeWriter, table string) error {
	var suffix [8]byte
	_, _ = rand.Read(suffix[:])
	id := "argus-probe-" + hex.EncodeToString(suffix[:])
	now := time.Now().UTC().Truncate(time.Millisecond)
	if table == TableAuditLogs {
		return w.insertAuditLogs(ctx, []AuditLog{{ID: id, Timestamp: now, Status: "SUCCESS", EventType: "probe",
			Action: "probe", ActorType: "system", ActorID: "argus", TargetType: "probe", CreatedAt: now}}, false)
	}
	b := TraceBatch{Traces: []TraceUpdate{{Trace: Trace{ID: id, CreatedAt: now, PipelineName: "argus-probe", Status: "ok",
		Metadata: json.RawMessage(`{}`)}, End: now, HasRoot: true, BatchKey: id}}}
	switch table {
	case TableTraces:
	case TableSteps:
		b.Steps = []Step{{ID: id + "-s1", TraceID: id, StepNumber: 1, NodeName: "probe", InputState: json.RawMessage(`{}`),
			OutputState: json.RawMessage(`{}`), Timestamp: now, Metadata: json.RawMessage(`{}`)}}
	case TableDetections:
		b.Detections = []Detection{{ID: id + "-d1", TraceID: id, Layer: "structural", Severity: "info", Message: "probe",
			Details: json.RawMessage(`{}`), CreatedAt: now}}
	case TableForensics:
		b.Forensics = []Forensics{{ID: id + "-f1", TraceID: id, DetectionIDs: json.RawMessage(`[]`), Explanation: "probe",
			CausalChain: json.RawMessage(`[]`), CreatedAt: now}}
	default:
		return fmt.Errorf("storage: probe: unknown table %q", table)
	}
	return w.writeBatch(ctx, b, false)
}
