package audit

import (
	"encoding/json"
	"time"
)

// Audit log statuses.
const (
	StatusSuccess = "SUCCESS"
	StatusFailure = "FAILURE"
)

// AuditLogRequest is one audit event, as POST /api/audit-logs takes it.
// Timestamp, Status, ActorType, ActorID and TargetType are required by the
// server; the client fills Timestamp (now) and ID (a random UUID, so a
// retried batch is never stored twice) when they are left empty. The
// allowed EventType, Action, ActorType and TargetType values are the
// server's enums (see the argusapi extension's `audit` settings).
type AuditLogRequest struct {
	ID         string         `json:"id,omitempty"`
	Timestamp  time.Time      `json:"timestamp"`
	TraceID    string         `json:"traceId,omitempty"`
	Status     string         `json:"status"`
	EventType  string         `json:"eventType,omitempty"`
	Action     string         `json:"action,omitempty"`
	ActorType  string         `json:"actorType"`
	ActorID    string         `json:"actorId"`
	TargetType string         `json:"targetType"`
	TargetID   string         `json:"targetId,omitempty"`
	Metadata   map[string]any `json:"metadata,omitempty"`
}

// AuditLogResponse is a stored audit log: the request plus the server's
// id and createdAt.
type AuditLogResponse struct {
	ID         string          `json:"id"`
	Timestamp  time.Time       `json:"timestamp"`
	TraceID    string          `json:"traceId,omitempty"`
	Status     string          `json:"status"`
	EventType  string          `json:"eventType,omitempty"`
	Action     string          `json:"action,omitempty"`
	ActorType  string          `json:"actorType"`
	ActorID    string          `json:"actorId"`
	TargetType string          `json:"targetType"`
	TargetID   string          `json:"targetId,omitempty"`
	Metadata   json.RawMessage `json:"metadata,omitempty"`
	CreatedAt  time.Time       `json:"createdAt"`
}

// GetAuditLogsResponse answers GET /api/audit-logs: a page, newest first.
type GetAuditLogsResponse struct {
	Logs   []AuditLogResponse `json:"logs"`
	Total  int                `json:"total"`
	Limit  int                `json:"limit"`
	Offset int                `json:"offset"`
}

// BulkFailure is one refused item of a bulk request. Status is 400 for an
// invalid item, 409 for an id already stored, 503 when the database was
// unavailable for it (retry it).
type BulkFailure struct {
	Index  int    `json:"index"`
	Error  string `json:"error"`
	Status int    `json:"status"`
}

// BulkAuditLogResponse answers POST /api/audit-logs/bulk: 201 when every
// item is stored, 207 when some are, else the failures' status with Error
// and Details set.
type BulkAuditLogResponse struct {
	Error     string             `json:"error,omitempty"`
	Details   string             `json:"details,omitempty"`
	Succeeded int                `json:"succeeded"`
	Failed    []BulkFailure      `json:"failed"`
	Logs      []AuditLogResponse `json:"logs"`
}

// ErrorResponse is the body of every error answer of the API.
type ErrorResponse struct {
	Error   string `json:"error"`
	Details string `json:"details,omitempty"`
}
