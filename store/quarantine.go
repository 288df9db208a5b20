package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// Table names of Refused.Table.
const (
	TableTraces     = "traces"
	TableSteps      = "trace_steps"
	TableDetections = "detections"
	TableForensics  = "forensics"
	TableAuditLogs  = "audit_logs"
)

// maxQuarantineRecord bounds the JSON of one quarantined record; a larger
// one is kept as a preview with its original size.
const maxQuarantineRecord = 64 << 10

// Refused is a row the database refused for good, with why. The
// quarantine table keeps it, so what was refused stays visible:
//
//	SELECT created_at, table_name, record_id, reason FROM quarantine ORDER BY created_at DESC;
type Refused struct {
	Table    string
	RecordID string
	TraceID  string
	Err      error
	Record   any // the row as given; stored as JSON
}

// NewRefused describes row (a Trace, Step, Detection, Forensics or
// AuditLog) refused with err.
func NewRefused(row any, err error) Refused {
	r := Refused{Err: err, Record: recordMap(row)}
	switch v := row.(type) {
	case Trace:
		r.Table, r.RecordID, r.TraceID = TableTraces, v.ID, v.ID
	case Step:
		r.Table, r.RecordID, r.TraceID = TableSteps, v.ID, v.TraceID
	case Detection:
		r.Table, r.RecordID, r.TraceID = TableDetections, v.ID, v.TraceID
	case Forensics:
		r.Table, r.RecordID, r.TraceID = TableForensics, v.ID, v.TraceID
	case AuditLog:
		r.Table, r.RecordID, r.TraceID = TableAuditLogs, v.ID, v.TraceID
	}
	return r
}

// recordMap is a row struct as a map of its JSON fields that always
// encodes: the very values the database refused may not (a time past year
// 9999, JSON that does not parse), so times are written as text and
// invalid JSON as a JSON string of it.
func recordMap(row any) any {
	v := reflect.ValueOf(row)
	if v.Kind() != reflect.Struct {
		return row
	}
	out := map[string]any{}
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		switch x := v.Field(i).Interface().(type) {
		case time.Time:
			out[name] = x.UTC().Format(time.RFC3339Nano)
		case json.RawMessage:
			if len(x) > 0 && json.Valid(x) {
				out[name] = x
			} else {
				out[name] = string(x)
			}
		default:
			out[name] = x
		}
	}
	return out
}

// quarantineID is the key of a refused row: the same row refused again
// (a retried batch) replaces its entry instead of adding one.
func quarantineID(table, recordID string) string {
	sum := sha256.Sum256([]byte(table + "\x00" + recordID))
	return hex.EncodeToString(sum[:16])
}

// recordText is the bounded JSON text of a refused row.
func recordText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"unencodable": fmt.Sprint(err)})
	}
	if len(b) > maxQuarantineRecord {
		b, _ = json.Marshal(map[string]any{"_argus_truncated": true, "original_bytes": len(b),
			"preview": cutUTF8(string(b), 1024)})
	}
	return cleanText(string(b))
}

// Quarantine keeps refused rows in the quarantine table, in one
// transaction (an entry refused again is replaced).
func (b *base) Quarantine(ctx context.Context, rows []Refused) error {
	if len(rows) == 0 {
		return nil
	}
	now := b.d.ts(time.Now())
	q := fmt.Sprintf(`INSERT INTO quarantine (id, created_at, table_name, record_id, trace_id, reason, code, record)
		VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
		ON CONFLICT (id) DO UPDATE SET created_at = excluded.created_at, trace_id = excluded.trace_id,
			reason = excluded.reason, code = excluded.code, record = excluded.record`,
		b.d.ph(1), b.d.ph(2), b.d.ph(3), b.d.ph(4), b.d.ph(5), b.d.ph(6), b.d.ph(7), b.d.ph(8))
	err := b.withWriteTx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, q)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, r := range rows {
			id, trace := capID(cleanText(r.RecordID)), capID(cleanText(r.TraceID))
			reason := "refused"
			if r.Err != nil {
				reason = cleanText(r.Err.Error())
			}
			if _, err := st.ExecContext(ctx, quarantineID(r.Table, id), now, r.Table, id, nullable(trace),
				capText(reason), nullable(ErrorCode(r.Err)), recordText(r.Record)); err != nil {
				return fmt.Errorf("quarantine %s %q: %w", r.Table, id, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("storage: quarantine: %w", err)
	}
	return nil
}

// capText bounds a free text (an error message) kept in the quarantine.
func capText(s string) string {
	const max = 4096
	if len(s) <= max {
		return s
	}
	return cutUTF8(s, max-len("…")) + "…"
}
