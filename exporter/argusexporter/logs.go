package argusexporter

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/store"
)

// Log record attributes that make a record an audit record.
const (
	auditPrefix        = "audit."
	attrAuditID        = "audit.id"
	attrAuditEventType = "audit.event_type"
	attrAuditAction    = "audit.action"
	attrAuditStatus    = "audit.status"
	attrAuditActorType = "audit.actor_type"
	attrAuditActorID   = "audit.actor_id"
	attrAuditTarget    = "audit.target_type"
	attrAuditTargetID  = "audit.target_id"
	attrAuditTraceID   = "audit.trace_id"
	attrAuditMetadata  = "audit.metadata"
)

// pushLogs writes the audit records among the log records. Records without
// audit.* attributes are not audit records and are skipped; invalid audit
// records are dropped and counted, never failing the rest of the batch.
func (e *argusExporter) pushLogs(ctx context.Context, ld plog.Logs) (err error) {
	if e.store == nil {
		return errNotStarted
	}
	n := ld.LogRecordCount()
	defer func() {
		if r := recover(); r != nil {
			err = e.permanent(ctx, dropPanic, n, fmt.Errorf("argus exporter: panic on log input (%d records): %v", n, r))
		}
	}()
	now := time.Now().UTC()
	var rows []store.AuditLog
	ignored, invalid := 0, 0
	var lastInvalid error
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		sls := rls.At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				row, ok, err := e.auditRow(lrs.At(k), now)
				switch {
				case !ok:
					ignored++
				case err != nil:
					invalid++
					lastInvalid = err
				default:
					rows = append(rows, row)
				}
			}
		}
	}
	if ignored > 0 {
		e.tel.LogRecordsIgnored.Add(ctx, int64(ignored))
	}
	if invalid > 0 {
		e.tel.dropped(ctx, dropInvalidAudit, invalid)
		e.drops.add(dropInvalidAudit, invalid, lastInvalid)
	}
	if len(rows) == 0 {
		return nil
	}
	return e.insertAudit(ctx, rows)
}

// auditRow converts one log record. ok is false when the record carries no
// audit.* attribute; err names what makes an audit record unusable.
func (e *argusExporter) auditRow(lr plog.LogRecord, now time.Time) (row store.AuditLog, ok bool, err error) {
	attrs := lr.Attributes()
	var keys []string
	attrs.Range(func(k string, _ pcommon.Value) bool {
		if strings.HasPrefix(k, auditPrefix) {
			keys = append(keys, k)
		}
		return true
	})
	if len(keys) == 0 {
		return row, false, nil
	}
	get := func(k string) string {
		if v, ok := attrs.Get(k); ok {
			return strings.TrimSpace(v.AsString())
		}
		return ""
	}
	row = store.AuditLog{
		EventType:  get(attrAuditEventType),
		Action:     get(attrAuditAction),
		Status:     strings.ToUpper(get(attrAuditStatus)),
		ActorType:  get(attrAuditActorType),
		ActorID:    get(attrAuditActorID),
		TargetType: get(attrAuditTarget),
		TargetID:   get(attrAuditTargetID),
		TraceID:    get(attrAuditTraceID),
		CreatedAt:  now,
	}
	var missing []string
	if row.ActorType == "" {
		missing = append(missing, attrAuditActorType)
	}
	if row.ActorID == "" {
		missing = append(missing, attrAuditActorID)
	}
	if row.TargetType == "" {
		missing = append(missing, attrAuditTarget)
	}
	if len(missing) > 0 {
		return row, true, fmt.Errorf("audit record without %s", strings.Join(missing, ", "))
	}
	if row.Status != "SUCCESS" && row.Status != "FAILURE" {
		return row, true, fmt.Errorf("audit record with %s %q (want SUCCESS or FAILURE)", attrAuditStatus, row.Status)
	}
	if row.TraceID == "" && !lr.TraceID().IsEmpty() {
		row.TraceID = lr.TraceID().String()
	}
	switch {
	case lr.Timestamp() != 0:
		row.Timestamp = lr.Timestamp().AsTime().UTC()
	case lr.ObservedTimestamp() != 0:
		row.Timestamp = lr.ObservedTimestamp().AsTime().UTC()
	default:
		row.Timestamp = now
	}
	if v, ok := attrs.Get(attrAuditMetadata); ok {
		row.Metadata = e.auditMetadata(v)
	}
	row.ID = get(attrAuditID)
	if row.ID == "" {
		row.ID = recordID(lr, keys)
	}
	return row, true, nil
}

// auditMetadata accepts a JSON object string or a map attribute; anything
// else is kept under "value" so nothing the sender meant is lost.
func (e *argusExporter) auditMetadata(v pcommon.Value) json.RawMessage {
	var md any
	switch v.Type() {
	case pcommon.ValueTypeMap:
		md = v.Map().AsRaw()
	case pcommon.ValueTypeStr:
		var m map[string]any
		if err := json.Unmarshal([]byte(v.Str()), &m); err == nil && m != nil {
			md = m
		} else {
			md = map[string]any{"value": v.Str()}
		}
	default:
		md = map[string]any{"value": v.AsRaw()}
	}
	e.rowOpt.redact.Value(md)
	b := agentrun.JSON(md)
	if max := e.rowOpt.maxFieldBytes; max > 0 && len(b) > max {
		preview, _ := truncateText(string(b), min(max, 1024))
		b = agentrun.JSON(map[string]any{"_argus_truncated": true, "original_bytes": len(b), "preview": preview})
	}
	return b
}

// recordID hashes what identifies a log record, so the same record sent
// again (a retry) gets the same id and is stored once.
func recordID(lr plog.LogRecord, auditKeys []string) string {
	sort.Strings(auditKeys)
	parts := []string{
		"audit",
		strconv.FormatUint(uint64(lr.Timestamp()), 10), strconv.FormatUint(uint64(lr.ObservedTimestamp()), 10),
		lr.TraceID().String(), lr.SpanID().String(), lr.Body().AsString(),
	}
	for _, k := range auditKeys {
		v, _ := lr.Attributes().Get(k)
		parts = append(parts, k, v.AsString())
	}
	return hashID(parts...)
}
