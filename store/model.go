// Package store owns the public SQL schema (traces, trace_steps, detections,
// forensics, audit_logs), its migrations, the writers for SQLite and
// PostgreSQL, and the read API used by the CLI and the HTTP API.
// It depends on database drivers only.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/arguslabs/argus-otel/internal/vocab"
)

// Trace is a row of `traces`.
type Trace struct {
	ID             string          `json:"id"`
	CreatedAt      time.Time       `json:"created_at"` // UTC, start of the run
	PipelineName   string          `json:"pipeline_name"`
	Status         string          `json:"status"` // ok | warning | failed
	DurationMs     int64           `json:"duration_ms"`
	NodeCount      int             `json:"node_count"`
	DetectionCount int             `json:"detection_count"`
	Metadata       json.RawMessage `json:"metadata"`
}

// Step is a row of `trace_steps`.
type Step struct {
	ID          string          `json:"id"`
	TraceID     string          `json:"trace_id"`
	StepNumber  int             `json:"step_number"`
	NodeName    string          `json:"node_name"`
	InputState  json.RawMessage `json:"input_state"`
	OutputState json.RawMessage `json:"output_state"`
	DurationMs  int64           `json:"duration_ms"`
	Timestamp   time.Time       `json:"timestamp"` // UTC start of the step
	Metadata    json.RawMessage `json:"metadata"`
	// StatesChecked: the caller has checked that InputState and OutputState
	// are each empty or valid JSON nested at most MaxJSONDepth deep (the
	// exporter's mapping does, in its one pass over a state's text), so
	// WriteBatch does not scan them again. A wrong claim cannot store bad
	// JSON: the databases check it too (SQLite's json_valid CHECK,
	// PostgreSQL's jsonb) and the batch fails instead.
	StatesChecked bool `json:"-"`
}

// Detection is a row of `detections`.
type Detection struct {
	ID        string          `json:"id"`
	TraceID   string          `json:"trace_id"`
	StepID    string          `json:"step_id,omitempty"` // "" = NULL (run-level)
	Layer     string          `json:"layer"`             // statistical | semantic | behavioral | structural
	Severity  string          `json:"severity"`          // info | warning | critical
	Message   string          `json:"message"`
	Details   json.RawMessage `json:"details"` // includes "rule" and "node"
	CreatedAt time.Time       `json:"created_at"`
}

// Forensics is a row of `forensics`.
type Forensics struct {
	ID            string          `json:"id"`
	TraceID       string          `json:"trace_id"`
	RootCauseStep string          `json:"root_cause_step,omitempty"` // "" = NULL
	DetectionIDs  json.RawMessage `json:"detection_ids"`             // JSON array of ids
	Explanation   string          `json:"explanation"`
	CausalChain   json.RawMessage `json:"causal_chain"`
	CreatedAt     time.Time       `json:"created_at"`
}

// AuditLog is a row of `audit_logs` (the audit-log service's record).
type AuditLog struct {
	ID         string          `json:"id"`
	Timestamp  time.Time       `json:"timestamp"`
	TraceID    string          `json:"traceId,omitempty"`
	Status     string          `json:"status"` // SUCCESS | FAILURE
	EventType  string          `json:"eventType,omitempty"`
	Action     string          `json:"action,omitempty"`
	ActorType  string          `json:"actorType"`
	ActorID    string          `json:"actorId"`
	TargetType string          `json:"targetType"`
	TargetID   string          `json:"targetId,omitempty"`
	Metadata   json.RawMessage `json:"metadata,omitempty"`
	CreatedAt  time.Time       `json:"createdAt"`
}

// TraceBatch is what one exporter call writes, in one transaction.
// Rows of one trace may arrive over several batches (late spans): WriteBatch
// merges them into the stored trace (see Store.WriteBatch).
type TraceBatch struct {
	Traces     []TraceUpdate
	Steps      []Step
	Detections []Detection
	Forensics  []Forensics
}

// TraceUpdate is the part of a trace seen in one batch. WriteBatch merges it
// with the stored row: CreatedAt = earliest, EndTime = latest (kept in
// metadata "end_time" to recompute duration_ms), Status = worst of stored and
// new, PipelineName the non-empty one (a batch holding the root wins),
// Metadata keys merged (span counts added), node_count and detection_count
// recomputed from the stored rows.
type TraceUpdate struct {
	Trace   Trace
	End     time.Time
	HasRoot bool
	// BatchKey identifies the set of spans this update was computed from
	// (a hash of their span ids). Counters in Metadata (keys ending in
	// "_count") are added to the stored ones only when the stored trace has
	// not seen this key yet, so a retried batch never double-counts; the
	// stored row keeps the last 64 keys in metadata "_argus_batches".
	BatchKey string
	// Replace: the batch holds the whole run (analysed at completion after
	// parts of it were stored in progress). When the stored trace is in
	// progress (metadata analysis "in_progress") or absent, the trace row
	// is written as if nothing was stored, and the trace's steps,
	// detections and forensics that the batch does not hold are deleted, in
	// the same transaction: what was stored in progress is replaced, and
	// writing it again changes nothing. A trace already stored as analysed
	// is merged into as usual: spans that arrive after their run completed
	// (and were followed as a run of their own) never replace it.
	Replace bool
}

// Full is one run with everything linked to it, as the reports show it.
type Full struct {
	Trace      Trace       `json:"trace"`
	Steps      []Step      `json:"steps"`
	Detections []Detection `json:"detections"`
	Forensics  []Forensics `json:"forensics"`
}

// TraceFilter selects traces; zero values mean "any".
type TraceFilter struct {
	Pipeline string
	Status   string
	TraceID  string
	Since    time.Time
	Until    time.Time
	// MinSeverity: only traces having a detection of at least this severity.
	MinSeverity string
	// Node: only traces with a step of this node; Rule: with a detection of
	// this rule (details.rule), on Node when both are set; RootCause: whose
	// forensics blamed a step of this node.
	Node, Rule, RootCause string
	Limit                 int // 0 = 100
	Offset                int
}

// DetectionFilter selects detections; zero values mean "any".
type DetectionFilter struct {
	TraceID     string
	Layer       string
	MinSeverity string // at least this severity
	Severity    string // exactly this severity
	Node        string // node_name of the linked step
	Since       time.Time
	Limit       int
	Offset      int
}

// AuditFilter selects audit logs; zero values mean "any".
type AuditFilter struct {
	TraceID   string
	EventType string
	Status    string
	Action    string
	ActorID   string
	Since     time.Time
	Until     time.Time
	Limit     int
	Offset    int
}

// ErrNotFound is returned by reads of an id that is not stored.
var ErrNotFound = errors.New("not found")

// Store is a SQLite or PostgreSQL database holding the schema.
// All methods are safe for concurrent use.
type Store interface {
	// Migrate creates or upgrades the schema (idempotent, recorded in schema_migrations).
	Migrate(ctx context.Context) error
	// WriteBatch writes a batch in one transaction. Idempotent: rows are
	// upserted by primary key, so a retried batch leaves no duplicates.
	WriteBatch(ctx context.Context, b TraceBatch) error
	// Purge deletes traces created before t with their steps, detections and forensics.
	Purge(ctx context.Context, before time.Time) (int64, error)

	GetTrace(ctx context.Context, id string) (*Full, error)
	// Last returns the most recent trace matching f (ErrNotFound when none).
	Last(ctx context.Context, f TraceFilter) (*Full, error)
	ListTraces(ctx context.Context, f TraceFilter) ([]Trace, int, error)
	// ListRuns is the runs list: keyset pages, newest first (runs.go).
	ListRuns(ctx context.Context, f RunFilter) (*RunsPage, error)
	// Neighbors: the previous and next run of the same pipeline.
	Neighbors(ctx context.Context, id string) (prev, next string, err error)
	// PipelineStats and DetectionStats aggregate a window (stats.go).
	PipelineStats(ctx context.Context, w StatsWindow) ([]PipelineStats, error)
	DetectionStats(ctx context.Context, w StatsWindow) (*DetectionStats, error)
	// LastRuns: each pipeline's newest run, in or out of any window (lastruns.go).
	LastRuns(ctx context.Context, pipeline string) ([]LastRun, error)
	// GetRunPage and EachStep read a run in bounded memory (runpage.go).
	GetRunPage(ctx context.Context, id string, w StepWindow) (*RunPage, error)
	EachStep(ctx context.Context, id string, statesUpTo int, fn func(StepSummary) error) error
	ListDetections(ctx context.Context, f DetectionFilter) ([]Detection, int, error)

	InsertAuditLogs(ctx context.Context, logs []AuditLog) error
	// Quarantine keeps rows the database refused for good (see
	// WriteSalvaging) in the quarantine table.
	Quarantine(ctx context.Context, rows []Refused) error
	// ProbeWrite writes a made-up row into table (a Table* name; with the
	// made-up trace row it needs) and rolls it back: nil when the table
	// takes rows (probe.go).
	ProbeWrite(ctx context.Context, table string) error
	ListAuditLogs(ctx context.Context, f AuditFilter) ([]AuditLog, int, error)

	Ping(ctx context.Context) error
	Close() error
	Driver() string
}

// The vocabulary of the schema's layer, severity and status columns, defined
// in internal/vocab and held to the schema by TestVocabularyIsTheSchema.
var (
	// Layers are the detection layers the schema accepts.
	Layers = vocab.Layers
	// SeverityRank orders severities, most severe highest (filters, reports).
	SeverityRank = vocab.SeverityRank
	// StatusRank orders trace statuses, worst highest.
	StatusRank = vocab.StatusRank
)
