package argusapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/arguslabs/argus-otel/store"
)

const (
	// maxBulkItems bounds one bulk request, like a page.
	maxBulkItems = store.MaxLimit
	// maxFieldBytes bounds each text field of an audit log: the store's
	// cap of indexed values, refused here (400) rather than cut.
	maxFieldBytes = store.MaxIndexedBytes
)

var auditStatuses = []string{"SUCCESS", "FAILURE"}

// auditLogRequest is the body of POST /api/audit-logs (and one item of
// the bulk array), with the audit-log service's field names. id is
// optional: a client that names its records can retry without creating
// duplicates (a stored id answers 409).
type auditLogRequest struct {
	ID         *string         `json:"id"`
	Timestamp  *string         `json:"timestamp"`
	TraceID    string          `json:"traceId"`
	Status     string          `json:"status"`
	EventType  string          `json:"eventType"`
	Action     string          `json:"action"`
	ActorType  string          `json:"actorType"`
	ActorID    string          `json:"actorId"`
	TargetType string          `json:"targetType"`
	TargetID   string          `json:"targetId"`
	Metadata   json.RawMessage `json:"metadata"`
}

type auditLogsPage struct {
	Logs []store.AuditLog `json:"logs"`
	pageInfo
}

// listAuditLogs: GET /api/audit-logs, newest first by timestamp (ties by
// id). eventType and action are not checked against the enums, so records
// stored under an earlier configuration (or by the exporter) stay reachable.
func (a *api) listAuditLogs(w http.ResponseWriter, r *http.Request) error {
	p, err := parseParams(r, "traceId", "eventType", "status", "action", "actorId", "since", "until", "limit", "offset")
	if err != nil {
		return err
	}
	f := store.AuditFilter{TraceID: p.str("traceId"), EventType: p.str("eventType"),
		Action: p.str("action"), ActorID: p.str("actorId")}
	if f.Status, err = p.oneOf("status", auditStatuses...); err != nil {
		return err
	}
	if f.Since, f.Until, err = p.timeRange(); err != nil {
		return err
	}
	if f.Limit, f.Offset, err = p.page(); err != nil {
		return err
	}
	rows, total, err := a.store.ListAuditLogs(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, auditLogsPage{Logs: rows, pageInfo: pageInfo{total, f.Limit, f.Offset}})
	return nil
}

// createAuditLog: POST /api/audit-logs -> 201 with the stored record.
func (a *api) createAuditLog(w http.ResponseWriter, r *http.Request) error {
	if _, err := parseParams(r); err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	row, err := a.parseAuditLog(body)
	if err != nil {
		return &apiError{status: http.StatusBadRequest, msg: "invalid audit log", details: err.Error()}
	}
	rows := []store.AuditLog{row}
	if err := a.insert(r.Context(), rows); err != nil {
		if store.IsDuplicate(err) {
			return &apiError{status: http.StatusConflict, msg: "audit log already exists",
				details: fmt.Sprintf("id %q is already stored", row.ID)}
		}
		return err
	}
	writeJSON(w, http.StatusCreated, rows[0])
	return nil
}

// bulkFailure is one refused item of a bulk request.
type bulkFailure struct {
	Index  int    `json:"index"`
	Error  string `json:"error"`
	Status int    `json:"status"` // 400 invalid, 409 id already stored, 503 database unavailable (retry it)
}

// bulkSummary is a bulk answer without the stored records: the answer
// to a client that sends "Prefer: return=minimal" (RFC 7240), whose
// answer then stays small however large the records are. Error and
// Details are set only when nothing was stored.
type bulkSummary struct {
	Error     string        `json:"error,omitempty"`
	Details   string        `json:"details,omitempty"`
	Succeeded int           `json:"succeeded"`
	Failed    []bulkFailure `json:"failed"`
}

// bulkResult is the default bulk answer: the summary plus the stored
// records, in request order.
type bulkResult struct {
	bulkSummary
	Logs []store.AuditLog `json:"logs"`
}

// bulkAuditLogs: POST /api/audit-logs/bulk with an array of audit logs.
// 201 when all are stored; 207 when some are; when none is, the failures'
// common status (400, 409 or 503), or 400 when they differ. Items are
// checked one by one, so one bad item never costs the others.
func (a *api) bulkAuditLogs(w http.ResponseWriter, r *http.Request) error {
	if _, err := parseParams(r); err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var items []json.RawMessage
	if err := decodeStrict(body, &items); err != nil {
		return &apiError{status: http.StatusBadRequest, msg: "invalid bulk request", details: "want a JSON array of audit logs: " + err.Error()}
	}
	switch {
	case len(items) == 0:
		return &apiError{status: http.StatusBadRequest, msg: "invalid bulk request", details: "the array is empty"}
	case len(items) > maxBulkItems:
		return &apiError{status: http.StatusBadRequest, msg: "invalid bulk request",
			details: fmt.Sprintf("%d audit logs in one request; at most %d", len(items), maxBulkItems)}
	}
	res := bulkResult{bulkSummary: bulkSummary{Failed: []bulkFailure{}}, Logs: []store.AuditLog{}}
	var rows []store.AuditLog
	var index []int
	seen := map[string]int{}
	for i, raw := range items {
		row, err := a.parseAuditLog(raw)
		if err != nil {
			res.Failed = append(res.Failed, bulkFailure{Index: i, Error: err.Error(), Status: http.StatusBadRequest})
			continue
		}
		if row.ID != "" {
			if j, dup := seen[row.ID]; dup {
				res.Failed = append(res.Failed, bulkFailure{Index: i, Status: http.StatusConflict,
					Error: fmt.Sprintf("id %q is also at index %d of this request", row.ID, j)})
				continue
			}
			seen[row.ID] = i
		}
		rows, index = append(rows, row), append(index, i)
	}
	stored, failed, err := a.insertEach(r, rows, index)
	if err != nil {
		return err
	}
	res.Logs, res.Succeeded = stored, len(stored)
	res.Failed = append(res.Failed, failed...)
	status := http.StatusCreated
	switch {
	case len(res.Failed) == 0:
	case res.Succeeded > 0:
		status = http.StatusMultiStatus
	default:
		status = res.Failed[0].Status
		for _, f := range res.Failed {
			if f.Status != status {
				status = http.StatusBadRequest
			}
		}
		res.Error = "no audit log stored"
		res.Details = fmt.Sprintf("all %d audit logs failed; see failed", len(items))
		if status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
		}
	}
	slices.SortStableFunc(res.Failed, func(x, y bulkFailure) int { return x.Index - y.Index })
	if prefersMinimal(r.Header) {
		w.Header().Set("Preference-Applied", "return=minimal")
		writeJSON(w, status, res.bulkSummary)
		return nil
	}
	writeJSON(w, status, res)
	return nil
}

// prefersMinimal reports whether the request has "Prefer: return=minimal"
// (RFC 7240: comma-separated preferences, each maybe with ";" parameters,
// names case-insensitive, the value maybe quoted).
func prefersMinimal(h http.Header) bool {
	for _, v := range h.Values("Prefer") {
		for _, pref := range strings.Split(v, ",") {
			pref, _, _ = strings.Cut(pref, ";")
			name, val, _ := strings.Cut(pref, "=")
			if strings.EqualFold(strings.TrimSpace(name), "return") &&
				strings.EqualFold(strings.Trim(strings.TrimSpace(val), `"`), "minimal") {
				return true
			}
		}
	}
	return false
}

// insertEach stores rows in one transaction. When the database refuses
// that for a row's content (a duplicate id, a value it rejects), it
// stores them one by one to tell which items failed and why. Any other
// error of the first attempt (the database's moment or state: a lock, a
// missing table) stored nothing and fails the request as a whole.
func (a *api) insertEach(r *http.Request, rows []store.AuditLog, index []int) ([]store.AuditLog, []bulkFailure, error) {
	if len(rows) == 0 {
		return []store.AuditLog{}, nil, nil
	}
	ctx := r.Context()
	err := a.insert(ctx, rows)
	if err == nil {
		return rows, nil, nil
	}
	if !store.IsPermanent(err) {
		return nil, nil, err
	}
	stored := []store.AuditLog{}
	var failed []bulkFailure
	for i := range rows {
		err := a.insert(ctx, rows[i:i+1])
		switch {
		case err == nil:
			stored = append(stored, rows[i])
		case store.IsDuplicate(err):
			failed = append(failed, bulkFailure{Index: index[i], Status: http.StatusConflict,
				Error: fmt.Sprintf("id %q is already stored", rows[i].ID)})
		case store.IsPermanent(err):
			failed = append(failed, bulkFailure{Index: index[i], Status: http.StatusBadRequest, Error: err.Error()})
		default:
			failed = append(failed, bulkFailure{Index: index[i], Status: http.StatusServiceUnavailable, Error: err.Error()})
		}
	}
	return stored, failed, nil
}

// insert stores rows and records the outcome for /health: a write that
// fails for the moment or for the database (not for a row's content,
// which the client is told) counts as a failing write.
func (a *api) insert(ctx context.Context, rows []store.AuditLog) error {
	err := a.store.InsertAuditLogs(ctx, rows)
	switch {
	case err == nil:
		a.writes.Wrote()
	case !store.IsPermanent(err):
		a.writes.Failed(err)
	}
	return err
}

// parseAuditLog decodes and checks one audit log, naming every problem.
func (a *api) parseAuditLog(raw []byte) (store.AuditLog, error) {
	var req auditLogRequest
	if err := decodeStrict(raw, &req); err != nil {
		return store.AuditLog{}, err
	}
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	row := store.AuditLog{TraceID: req.TraceID, Status: req.Status, EventType: req.EventType, Action: req.Action,
		ActorType: req.ActorType, ActorID: req.ActorID, TargetType: req.TargetType, TargetID: req.TargetID}

	if req.ID != nil {
		row.ID = *req.ID
		if strings.TrimSpace(row.ID) == "" {
			bad("id must not be empty when given")
		}
	}
	switch {
	case req.Timestamp == nil || *req.Timestamp == "":
		bad("timestamp is required (RFC 3339, e.g. 2026-01-31T12:00:00Z)")
	default:
		ts, err := time.Parse(time.RFC3339Nano, *req.Timestamp)
		switch {
		case err != nil:
			bad("timestamp %q is not an RFC 3339 time (e.g. 2026-01-31T12:00:00Z)", *req.Timestamp)
		case store.CheckTime("timestamp", ts) != nil:
			bad("timestamp %q is out of range (%s to %s UTC)", *req.Timestamp,
				store.MinTime.Format(time.RFC3339), store.MaxTime.Format(time.RFC3339Nano))
		}
		row.Timestamp = ts.UTC()
	}
	required := []struct{ name, v string }{
		{"status", row.Status}, {"actorType", row.ActorType}, {"actorId", row.ActorID}, {"targetType", row.TargetType},
	}
	for _, f := range required {
		if strings.TrimSpace(f.v) == "" {
			bad("%s is required", f.name)
		}
	}
	if row.Status != "" {
		if err := check("status", row.Status, auditStatuses); err != nil {
			bad("%v", err)
		}
	}
	for _, f := range []struct {
		name, v string
		list    []string
	}{
		{"eventType", row.EventType, a.enums.EventTypes}, {"action", row.Action, a.enums.Actions},
		{"actorType", row.ActorType, a.enums.ActorTypes}, {"targetType", row.TargetType, a.enums.TargetTypes},
	} {
		if strings.TrimSpace(f.v) == "" {
			continue
		}
		if err := check(f.name, f.v, f.list); err != nil {
			bad("%v", err)
		}
	}
	for _, f := range []struct{ name, v string }{
		{"id", row.ID}, {"traceId", row.TraceID}, {"status", row.Status}, {"eventType", row.EventType},
		{"action", row.Action}, {"actorType", row.ActorType}, {"actorId", row.ActorID},
		{"targetType", row.TargetType}, {"targetId", row.TargetID},
	} {
		if len(f.v) > maxFieldBytes {
			bad("%s is %d bytes long; at most %d", f.name, len(f.v), maxFieldBytes)
		}
	}
	if md := bytes.TrimSpace(req.Metadata); len(md) > 0 && !bytes.Equal(md, []byte("null")) {
		switch {
		case md[0] != '{':
			bad("metadata must be a JSON object")
		case a.cfg.Audit.MaxMetadataBytes > 0 && len(md) > a.cfg.Audit.MaxMetadataBytes:
			bad("metadata is %d bytes long; at most %d (audit::max_metadata_bytes)", len(md), a.cfg.Audit.MaxMetadataBytes)
		default:
			// The same redaction as audit records over OTLP logs.
			red, _ := a.redact.Text(string(md))
			row.Metadata = json.RawMessage(red)
		}
	}
	if len(problems) > 0 {
		return store.AuditLog{}, errors.New(strings.Join(problems, "; "))
	}
	return row, nil
}

// readBody reads a JSON request body; the size limit itself is applied by
// confighttp (max_request_body_size).
func readBody(r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return nil, &apiError{status: http.StatusUnsupportedMediaType, msg: "unsupported content type",
				details: fmt.Sprintf("Content-Type %q; send application/json", ct)}
		}
	}
	b, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, &apiError{status: http.StatusRequestEntityTooLarge, msg: "request body too large",
			details: fmt.Sprintf("the limit is %d bytes (max_request_body_size)", tooBig.Limit)}
	case err != nil:
		return nil, &apiError{status: http.StatusBadRequest, msg: "cannot read request body", details: err.Error()}
	case len(bytes.TrimSpace(b)) == 0:
		return nil, &apiError{status: http.StatusBadRequest, msg: "empty request body", details: "send a JSON document"}
	}
	return b, nil
}

// decodeStrict decodes exactly one JSON value into v, refusing unknown
// fields and trailing data, with errors that name the field at fault.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		var syntaxErr *json.SyntaxError
		switch {
		case errors.As(err, &typeErr) && typeErr.Field != "":
			return fmt.Errorf("%s must be a %s, got a JSON %s", typeErr.Field, jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
		case errors.As(err, &typeErr):
			return fmt.Errorf("want a JSON %s, got a JSON %s", jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
		case errors.As(err, &syntaxErr):
			return fmt.Errorf("malformed JSON at byte %d: %s", syntaxErr.Offset, strings.TrimPrefix(syntaxErr.Error(), "json: "))
		case errors.Is(err, io.ErrUnexpectedEOF):
			return errors.New("malformed JSON: unexpected end of input")
		}
		return errors.New(strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string", "ptr":
		return "string"
	case "slice":
		return "array"
	case "struct", "map":
		return "object"
	}
	return goKind
}
