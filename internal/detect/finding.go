package detect

import "github.com/arguslabs/argus-otel/internal/vocab"

// Layer names and severities, as stored in detections.layer and
// detections.severity: the words of internal/vocab, under the names the
// rules use.
const (
	LayerStatistical = vocab.LayerStatistical
	LayerSemantic    = vocab.LayerSemantic
	LayerBehavioral  = vocab.LayerBehavioral
	LayerStructural  = vocab.LayerStructural

	SeverityInfo     = vocab.SeverityInfo
	SeverityWarning  = vocab.SeverityWarning
	SeverityCritical = vocab.SeverityCritical
)

// Finding is one detection on a run.
type Finding struct {
	// ID is deterministic (hash of trace id, rule, step and key details) so a
	// re-run of detection over the same spans yields the same ids.
	ID       string
	Rule     string // stable rule id, e.g. "structural.dropped_field"
	Layer    string
	Severity string
	// Step is the index into Run.Steps of the step concerned, -1 for the run.
	Step    int
	Node    string
	Message string
	// Details are rule-specific facts (field names, values, thresholds) and
	// are stored as JSON in detections.details.
	Details map[string]any
}

// Link is one typed edge of a causal chain, from an origin towards a victim.
type Link struct {
	FromStep   int     `json:"-"`
	ToStep     int     `json:"-"`
	From       string  `json:"from"`         // node name
	To         string  `json:"to"`           // node name
	FromStepID string  `json:"from_step_id"` // trace_steps.id
	ToStepID   string  `json:"to_step_id"`   // trace_steps.id
	Type       string  `json:"type"`         // field_drop | empty_output | placeholder_propagation | tool_failure_cascade | anomaly_cascade
	Field      string  `json:"field,omitempty"`
	Confidence float64 `json:"confidence"`
}

// Forensics is the verdict on a failing or warning run.
type Forensics struct {
	ID            string
	RootCauseStep int // index into Run.Steps, -1 when unknown
	Origins       []int
	Victims       []int
	Chain         []Link
	DetectionIDs  []string
	Confidence    float64
	Explanation   string
}

// Result is everything detection found on one run.
type Result struct {
	Status    string // vocab.StatusOK | StatusWarning | StatusFailed
	Findings  []Finding
	Forensics *Forensics // nil when the run is ok
}
