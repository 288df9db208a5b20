package report

import (
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/arguslabs/argus-otel/internal/vocab"
	"github.com/arguslabs/argus-otel/store"
)

// SchemaVersion is the version of the JSON report layout. It changes only
// when a field is removed or its meaning changes; new fields may appear
// within a version, so consumers must ignore fields they do not know.
const SchemaVersion = 1

// Step, detection and trace statuses used by the report: the run statuses
// of internal/vocab.
const (
	StatusOK      = vocab.StatusOK
	StatusWarning = vocab.StatusWarning
	StatusFailed  = vocab.StatusFailed
)

// Report is one run as every format shows it, and exactly the JSON document
// written by the json format (see README.md for the field-by-field schema).
type Report struct {
	SchemaVersion int         `json:"schema_version"`
	GeneratedAt   *time.Time  `json:"generated_at,omitempty"`
	Trace         Trace       `json:"trace"`
	Summary       Summary     `json:"summary"`
	Steps         []Step      `json:"steps"`
	Detections    []Detection `json:"detections"`
	Forensics     []Forensics `json:"forensics"`
	// StepsPage is set when the report holds one page of a run's steps
	// (BuildPage); absent when it holds them all.
	StepsPage *StepsPage `json:"steps_page,omitempty"`

	// outside: steps not on the page that the forensics name; spanMs: the
	// end of the run's last step (paged reports: the timeline's scale).
	outside map[string]*Step
	spanMs  int64
}

// StepsPage says which steps a paged report holds. Steps and the
// detections linked to steps are those of the page; the summary, the
// run-level detections and the forensics are the whole run's.
type StepsPage struct {
	FirstStep  int  `json:"first_step"` // step numbers on the page (0 when it is empty)
	LastStep   int  `json:"last_step"`
	TotalSteps int  `json:"total_steps"`
	After      int  `json:"after"` // the page starts after this step number
	More       bool `json:"more"`  // steps follow: ask for after = last_step
}

// Trace is the run itself.
type Trace struct {
	ID             string          `json:"id"`
	PipelineName   string          `json:"pipeline_name"`
	Status         string          `json:"status"`
	CreatedAt      time.Time       `json:"created_at"`
	DurationMs     int64           `json:"duration_ms"`
	NodeCount      int             `json:"node_count"`
	DetectionCount int             `json:"detection_count"`
	Metadata       json.RawMessage `json:"metadata"`
	// Analysis is where the run's analysis stands (store.Analysis):
	// in_progress (started, not complete: the steps so far, not analysed
	// yet, so status and detections are not a verdict), final, or partial.
	Analysis string `json:"analysis"`
	// InProgress is Analysis == "in_progress".
	InProgress bool `json:"in_progress"`
}

// Summary is the verdict at a glance.
type Summary struct {
	Status       string         `json:"status"`
	StepCount    int            `json:"step_count"`
	FailedSteps  int            `json:"failed_steps"`
	WarningSteps int            `json:"warning_steps"`
	Detections   SeverityCounts `json:"detections"`
	RootCause    *RootCause     `json:"root_cause,omitempty"`
}

// SeverityCounts counts detections by severity.
type SeverityCounts struct {
	Critical int `json:"critical"`
	Warning  int `json:"warning"`
	Info     int `json:"info"`
}

// Total is the number of detections counted.
func (c SeverityCounts) Total() int { return c.Critical + c.Warning + c.Info }

// RootCause is the step the forensics blamed, with its explanation.
type RootCause struct {
	StepID      string `json:"step_id,omitempty"`
	StepNumber  int    `json:"step_number,omitempty"`
	NodeName    string `json:"node_name,omitempty"`
	Explanation string `json:"explanation"`
}

// Step is one node execution.
type Step struct {
	ID          string          `json:"id"`
	StepNumber  int             `json:"step_number"`
	NodeName    string          `json:"node_name"`
	Status      string          `json:"status"`
	Timestamp   time.Time       `json:"timestamp"`
	OffsetMs    int64           `json:"offset_ms"`
	DurationMs  int64           `json:"duration_ms"`
	RootCause   bool            `json:"root_cause"`
	InputState  json.RawMessage `json:"input_state"`
	OutputState json.RawMessage `json:"output_state"`
	// Changes is what this step's output did to the merged state.
	Changes      []Change        `json:"state_changes"`
	DetectionIDs []string        `json:"detection_ids"`
	Metadata     json.RawMessage `json:"metadata"`
}

// Change is one top-level field of the merged state touched by a step.
type Change struct {
	Field string `json:"field"`
	Kind  string `json:"kind"` // added | changed | dropped
	// Before and After are the field's values in the merged state; the json
	// format omits them (the states are in the report already), the HTML
	// format previews them.
	Before json.RawMessage `json:"-"`
	After  json.RawMessage `json:"-"`
}

// Detection is one finding.
type Detection struct {
	ID         string          `json:"id"`
	StepID     string          `json:"step_id,omitempty"`
	StepNumber int             `json:"step_number,omitempty"`
	NodeName   string          `json:"node_name,omitempty"`
	Layer      string          `json:"layer"`
	Severity   string          `json:"severity"`
	Rule       string          `json:"rule,omitempty"`
	Message    string          `json:"message"`
	Details    json.RawMessage `json:"details"`
	CreatedAt  time.Time       `json:"created_at"`
}

// Forensics is the correlator's verdict on the run.
type Forensics struct {
	ID                  string          `json:"id"`
	RootCauseStepID     string          `json:"root_cause_step_id,omitempty"`
	RootCauseStepNumber int             `json:"root_cause_step_number,omitempty"`
	RootCauseNode       string          `json:"root_cause_node,omitempty"`
	Explanation         string          `json:"explanation"`
	DetectionIDs        json.RawMessage `json:"detection_ids"`
	CausalChain         json.RawMessage `json:"causal_chain"`
	CreatedAt           time.Time       `json:"created_at"`
	// Links is CausalChain decoded for drawing; elements that are not link
	// objects are skipped here but kept in CausalChain.
	Links []Link `json:"-"`
}

// Link is one typed edge of a causal chain (detect.Link as stored).
type Link struct {
	From       string  `json:"from"`
	To         string  `json:"to"`
	FromStepID string  `json:"from_step_id"`
	ToStepID   string  `json:"to_step_id"`
	Type       string  `json:"type"`
	Field      string  `json:"field,omitempty"`
	Confidence float64 `json:"confidence"`
}

// Options tune rendering.
type Options struct {
	// GeneratedAt is shown as the report's creation time; the zero value
	// leaves it out, which keeps golden files and diffs of reports stable.
	GeneratedAt time.Time
}

// Build turns a stored run into the report model. It never fails: values
// that do not parse are kept as JSON strings and unknown links are skipped
// for drawing only. The result is deterministic for a given run.
func Build(full *store.Full, opts Options) *Report {
	return build(full, opts, nil)
}

// build is Build for a whole run (rest nil) or for a page of one.
func build(full *store.Full, opts Options, rest *pageRest) *Report {
	r := &Report{SchemaVersion: SchemaVersion}
	if !opts.GeneratedAt.IsZero() {
		t := opts.GeneratedAt.UTC()
		r.GeneratedAt = &t
	}
	t := full.Trace
	r.Trace = TraceOf(t)

	steps := append([]store.Step(nil), full.Steps...)
	sort.SliceStable(steps, func(i, j int) bool {
		if steps[i].StepNumber != steps[j].StepNumber {
			return steps[i].StepNumber < steps[j].StepNumber
		}
		return steps[i].ID < steps[j].ID
	})
	byID := make(map[string]int, len(steps))
	var before mergedState
	if rest != nil {
		before = rest.before
	}
	changes := stateChanges(before, steps)
	r.Steps = make([]Step, len(steps))
	for i, s := range steps {
		byID[s.ID] = i
		r.Steps[i] = Step{
			ID:           s.ID,
			StepNumber:   s.StepNumber,
			NodeName:     s.NodeName,
			Status:       stepBaseStatus(s.Metadata),
			Timestamp:    s.Timestamp.UTC(),
			OffsetMs:     offsetMs(t.CreatedAt, s.Timestamp),
			DurationMs:   s.DurationMs,
			InputState:   canonical(s.InputState),
			OutputState:  canonical(s.OutputState),
			Changes:      changes[i],
			DetectionIDs: []string{},
			Metadata:     canonical(s.Metadata),
		}
	}

	r.Detections = make([]Detection, 0, len(full.Detections))
	for _, d := range full.Detections {
		det := Detection{
			ID:        d.ID,
			StepID:    d.StepID,
			Layer:     d.Layer,
			Severity:  d.Severity,
			Message:   d.Message,
			Details:   canonical(d.Details),
			CreatedAt: d.CreatedAt.UTC(),
		}
		det.Rule, det.NodeName = detailStrings(det.Details)
		if i, ok := byID[d.StepID]; ok && d.StepID != "" {
			det.StepNumber = r.Steps[i].StepNumber
			det.NodeName = r.Steps[i].NodeName
		}
		r.Detections = append(r.Detections, det)
	}
	sort.SliceStable(r.Detections, func(i, j int) bool {
		a, b := r.Detections[i], r.Detections[j]
		if a.StepNumber != b.StepNumber {
			return a.StepNumber < b.StepNumber
		}
		if ra, rb := store.SeverityRank[a.Severity], store.SeverityRank[b.Severity]; ra != rb {
			return ra > rb
		}
		if a.Rule != b.Rule {
			return a.Rule < b.Rule
		}
		return a.ID < b.ID
	})
	for _, d := range r.Detections {
		switch d.Severity {
		case vocab.SeverityCritical:
			r.Summary.Detections.Critical++
		case vocab.SeverityWarning:
			r.Summary.Detections.Warning++
		default:
			r.Summary.Detections.Info++
		}
		i, ok := byID[d.StepID]
		if !ok || d.StepID == "" {
			continue
		}
		s := &r.Steps[i]
		s.DetectionIDs = append(s.DetectionIDs, d.ID)
		s.Status = worse(s.Status, severityStatus(d.Severity))
	}

	r.Forensics = make([]Forensics, 0, len(full.Forensics))
	for _, f := range full.Forensics {
		fo := Forensics{
			ID:              f.ID,
			RootCauseStepID: f.RootCauseStep,
			Explanation:     f.Explanation,
			DetectionIDs:    canonicalOr(f.DetectionIDs, "[]"),
			CausalChain:     canonicalOr(f.CausalChain, "[]"),
			CreatedAt:       f.CreatedAt.UTC(),
			Links:           decodeLinks(f.CausalChain),
		}
		if i, ok := byID[f.RootCauseStep]; ok && f.RootCauseStep != "" {
			fo.RootCauseStepNumber = r.Steps[i].StepNumber
			fo.RootCauseNode = r.Steps[i].NodeName
		} else if o := rest.step(f.RootCauseStep); o != nil {
			fo.RootCauseStepNumber, fo.RootCauseNode = o.StepNumber, o.NodeName
		}
		r.Forensics = append(r.Forensics, fo)
	}
	sort.SliceStable(r.Forensics, func(i, j int) bool {
		a, b := r.Forensics[i], r.Forensics[j]
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.Before(b.CreatedAt)
		}
		return a.ID < b.ID
	})

	for i := range r.Steps {
		switch r.Steps[i].Status {
		case StatusFailed:
			r.Summary.FailedSteps++
		case StatusWarning:
			r.Summary.WarningSteps++
		}
	}
	r.Summary.Status = r.Trace.Status
	r.Summary.StepCount = len(r.Steps)
	if rest != nil {
		r.Summary.StepCount, r.Summary.FailedSteps, r.Summary.WarningSteps = rest.page.TotalSteps, rest.failed, rest.warning
		r.Summary.Detections = rest.detections
		r.StepsPage, r.outside, r.spanMs = &rest.page, rest.outside, rest.spanMs
	}
	// The latest forensics is the verdict (late spans may have re-run it).
	if n := len(r.Forensics); n > 0 {
		f := r.Forensics[n-1]
		r.Summary.RootCause = &RootCause{
			StepID:      f.RootCauseStepID,
			StepNumber:  f.RootCauseStepNumber,
			NodeName:    f.RootCauseNode,
			Explanation: f.Explanation,
		}
		if i, ok := byID[f.RootCauseStepID]; ok && f.RootCauseStepID != "" {
			r.Steps[i].RootCause = true
		}
	}
	return r
}

// TraceOf is the report form of a stored trace row (also used by run
// listings): UTC time, a known status, canonical metadata.
func TraceOf(t store.Trace) Trace {
	return Trace{
		ID:             t.ID,
		PipelineName:   t.PipelineName,
		Status:         normStatus(t.Status),
		CreatedAt:      t.CreatedAt.UTC(),
		DurationMs:     t.DurationMs,
		NodeCount:      t.NodeCount,
		DetectionCount: t.DetectionCount,
		Metadata:       traceMetadata(t.Metadata),
		Analysis:       t.Analysis(),
		InProgress:     t.InProgress(),
	}
}

// Step returns the step with the given id, nil when absent. In a paged
// report a step off the page that the forensics name is found too, without
// its states.
func (r *Report) Step(id string) *Step {
	for i := range r.Steps {
		if r.Steps[i].ID == id {
			return &r.Steps[i]
		}
	}
	return r.outside[id]
}

// StepDetections returns the detections linked to step id, in report order.
func (r *Report) StepDetections(id string) []Detection {
	var out []Detection
	for _, d := range r.Detections {
		if d.StepID == id && id != "" {
			out = append(out, d)
		}
	}
	return out
}

// normStatus maps a stored status to ok | warning | failed; anything else
// (a newer collector, a hand-edited row) is shown as the worst case rather
// than hidden as ok.
func normStatus(s string) string {
	switch s {
	case StatusOK, StatusWarning, StatusFailed:
		return s
	case "":
		return StatusOK
	}
	return StatusFailed
}

func severityStatus(sev string) string {
	switch sev {
	case vocab.SeverityCritical:
		return StatusFailed
	case vocab.SeverityWarning:
		return StatusWarning
	}
	return StatusOK
}

func worse(a, b string) string {
	if store.StatusRank[b] > store.StatusRank[a] {
		return b
	}
	return a
}

// stepBaseStatus is failed when the exporter recorded the node span as
// errored in the step's metadata (status "error", an exception, or an
// errored nested call, as pipeline.Step.Failed); detections raise it further.
func stepBaseStatus(meta json.RawMessage) string {
	if len(stepErrors(meta)) > 0 {
		return StatusFailed
	}
	return StatusOK
}

// stepErrors lists what went wrong in a step according to its metadata:
// the span status message, its exceptions, its errored calls.
func stepErrors(meta json.RawMessage) []string {
	var m struct {
		Status        string `json:"status"`
		StatusMessage string `json:"status_message"`
		Exceptions    []struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"exceptions"`
		Calls []struct {
			Name          string `json:"name"`
			Status        string `json:"status"`
			StatusMessage string `json:"status_message"`
		} `json:"calls"`
	}
	if json.Unmarshal(meta, &m) != nil {
		return nil
	}
	var out []string
	for _, e := range m.Exceptions {
		out = append(out, strings.TrimPrefix(e.Type+": "+e.Message, ": "))
	}
	if strings.EqualFold(m.Status, "error") && len(out) == 0 {
		msg := m.StatusMessage
		if msg == "" {
			msg = "the step's span ended with status ERROR"
		}
		out = append(out, msg)
	}
	for _, c := range m.Calls {
		if strings.EqualFold(c.Status, "error") {
			out = append(out, strings.TrimSuffix("call "+c.Name+" failed: "+c.StatusMessage, ": "))
		}
	}
	return out
}

func offsetMs(runStart, stepStart time.Time) int64 {
	if runStart.IsZero() || stepStart.IsZero() || stepStart.Before(runStart) {
		return 0
	}
	return stepStart.Sub(runStart).Milliseconds()
}

// traceMetadata hides the store's bookkeeping keys ("_argus_batches", the
// retried-batch guard), which say nothing about the run.
func traceMetadata(raw json.RawMessage) json.RawMessage {
	v, ok := decode(raw)
	if !ok {
		return canonical(raw)
	}
	if m, isMap := v.(map[string]any); isMap {
		for k := range m {
			if strings.HasPrefix(k, "_argus_") {
				delete(m, k)
			}
		}
	}
	return encode(v)
}

func detailStrings(details json.RawMessage) (rule, node string) {
	var d struct {
		Rule any `json:"rule"`
		Node any `json:"node"`
	}
	if json.Unmarshal(details, &d) != nil {
		return "", ""
	}
	rule, _ = d.Rule.(string)
	node, _ = d.Node.(string)
	return rule, node
}

func decodeLinks(raw json.RawMessage) []Link {
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return nil
	}
	var out []Link
	for _, it := range items {
		var l Link
		if json.Unmarshal(it, &l) != nil || (l.From == "" && l.To == "" && l.FromStepID == "" && l.ToStepID == "") {
			continue
		}
		out = append(out, l)
	}
	return out
}
