package argusexporter

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/internal/annotation"
	"github.com/arguslabs/argus-otel/internal/redact"
	"github.com/arguslabs/argus-otel/internal/vocab"
	"github.com/arguslabs/argus-otel/store"
)

// rowOptions are the parts of the config that shape the rows.
type rowOptions struct {
	redact        *redact.Keys // what the exporter adds itself: detection details, audit metadata
	maxFieldBytes int
	toolAudit     bool
	actorType     string
}

// traceRows is what one push of spans becomes.
type traceRows struct {
	batch store.TraceBatch
	audit []store.AuditLog
	// unmapped counts spans that belong to no run (no trace id, or a trace
	// the mapping returned nothing for): they cannot be stored.
	unmapped int
}

// traceAnnotations is what the processor left on the spans of one trace in this push.
type traceAnnotations struct {
	spanIDs    []string
	rootStatus string // argus.run.status on the root span
	anyStatus  string // the first argus.run.status seen (root-less traces)
	partial    bool   // the processor released the trace before it was complete
	// inProgress: spans forwarded while the run was still going (stored
	// as its steps so far). analysis: the processor's verdict on a whole
	// run forwarded after such spans (final replaces them).
	inProgress bool
	analysis   string
	detections []store.Detection
	forensics  []store.Forensics
}

// buildRows turns the runs mapped from td, and the annotations on td's spans,
// into one TraceBatch (plus the tool-call audit records when enabled).
func buildRows(td ptrace.Traces, runs []*agentrun.Run, opt rowOptions, now time.Time) traceRows {
	byTrace := make(map[string]*agentrun.Run, len(runs))
	for _, r := range runs {
		if r != nil && r.TraceID != "" {
			byTrace[r.TraceID] = r
		}
	}
	ann := map[string]*traceAnnotations{}
	var out traceRows

	for span := range agentrun.Spans(td) {
		traceID := span.TraceID().String()
		run := byTrace[traceID] // an empty trace id finds no run
		if run == nil {
			out.unmapped++
			continue
		}
		a := ann[traceID]
		if a == nil {
			a = &traceAnnotations{}
			ann[traceID] = a
		}
		collectAnnotations(a, run, span, opt, now)
	}

	for _, run := range runs {
		if run == nil || run.TraceID == "" || ann[run.TraceID] == nil {
			continue
		}
		a := ann[run.TraceID]
		out.batch.Traces = append(out.batch.Traces, traceUpdate(run, a))
		for i := range run.Steps {
			out.batch.Steps = append(out.batch.Steps, stepRow(run, &run.Steps[i]))
		}
		out.batch.Detections = append(out.batch.Detections, a.detections...)
		out.batch.Forensics = append(out.batch.Forensics, a.forensics...)
		// A run in progress gets its tool-call records when it is forwarded
		// whole: audit records are written once, and the step a call
		// belongs to (and its number) is only known for the whole run.
		if opt.toolAudit && (!a.inProgress || a.analysis != "") {
			out.audit = append(out.audit, toolCallAudits(run, opt, now)...)
		}
	}
	return out
}

func collectAnnotations(a *traceAnnotations, run *agentrun.Run, span ptrace.Span, opt rowOptions, now time.Time) {
	spanID := span.SpanID().String()
	a.spanIDs = append(a.spanIDs, spanID)
	if span.Events().Len() == 0 && !hasRunAttr(span) {
		return // the common case: nothing to decode
	}
	d := annotation.Decode(span)
	a.partial = a.partial || d.Partial
	switch d.Analysis {
	case annotation.AnalysisInProgress:
		a.inProgress = true
	case annotation.AnalysisFinal, annotation.AnalysisPartial:
		a.analysis = d.Analysis
	}
	if st := normStatus(d.RunStatus); st != "" {
		if spanID == run.RootSpanID {
			a.rootStatus = st
		} else if a.anyStatus == "" {
			a.anyStatus = st
		}
	}
	// The rows' time is the span's end; one the store would refuse (zero,
	// or past year 2262 where OTLP's nanoseconds wrap) is unknown, as the
	// mapping takes such span times: now stands in.
	created := now
	if end := span.EndTimestamp().AsTime(); span.EndTimestamp() != 0 && store.CheckTime("", end) == nil {
		created = end
	}
	created = created.UTC()
	stepID := run.StepIDFor(spanID)
	for i, det := range d.Detections {
		a.detections = append(a.detections, detectionRow(run, stepID, spanID, i, det, opt, created))
	}
	for i, f := range d.Forensics {
		a.forensics = append(a.forensics, forensicsRow(run, spanID, i, f, created))
	}
}

// hasRunAttr reports whether the processor put a run-level attribute on
// span (status, partial, analysis): one pass over its attributes, as cheap
// as the one lookup it replaces.
func hasRunAttr(span ptrace.Span) bool {
	for k := range span.Attributes().All() {
		switch k {
		case annotation.AttrRunStatus, annotation.AttrAnalysis, annotation.AttrPartial:
			return true
		}
	}
	return false
}

func detectionRow(run *agentrun.Run, stepID, spanID string, idx int, d annotation.Detection, opt rowOptions, created time.Time) store.Detection {
	id := d.ID
	if id == "" {
		id = hashID("detection", run.TraceID, spanID, d.Rule, d.Message, itoa(idx))
	}
	node := d.Node
	if node == "" && stepID != "" {
		node = nodeOf(run, stepID)
	}
	var details map[string]any
	if json.Unmarshal(d.Details, &details) != nil || details == nil {
		details = map[string]any{"raw": string(d.Details)}
	}
	opt.redact.Value(details)
	if _, ok := details["rule"]; !ok {
		details["rule"] = d.Rule
	}
	if _, ok := details["node"]; !ok && node != "" {
		details["node"] = node
	}
	layer, severity := normLayer(d.Layer), normSeverity(d.Severity)
	// Keep what the processor said when it was not one of the known values.
	if layer != strings.ToLower(strings.TrimSpace(d.Layer)) {
		details["original_layer"] = d.Layer
	}
	if severity != strings.ToLower(strings.TrimSpace(d.Severity)) {
		details["original_severity"] = d.Severity
	}
	return store.Detection{
		ID:        id,
		TraceID:   run.TraceID,
		StepID:    stepID,
		Layer:     layer,
		Severity:  severity,
		Message:   d.Message,
		Details:   agentrun.JSON(details),
		CreatedAt: created,
	}
}

func forensicsRow(run *agentrun.Run, spanID string, idx int, f annotation.Forensics, created time.Time) store.Forensics {
	id := f.ID
	if id == "" {
		id = hashID("forensics", run.TraceID, spanID, itoa(idx))
	}
	root := ""
	if f.RootCauseSpan != "" {
		root = rootCauseStep(run, f.RootCauseSpan)
	}
	ids := f.DetectionIDs
	if ids == nil {
		ids = []string{}
	}
	chain := f.CausalChain
	if len(chain) == 0 || !json.Valid(chain) {
		chain = json.RawMessage("[]")
	}
	return store.Forensics{
		ID:            id,
		TraceID:       run.TraceID,
		RootCauseStep: root,
		DetectionIDs:  agentrun.JSON(ids),
		Explanation:   f.Explanation,
		CausalChain:   chain,
		CreatedAt:     created,
	}
}

// rootCauseStep links the forensics to the step of the root-cause span. A span
// id that is not a step of this push (e.g. a nested call) is resolved to its
// step; one that is unknown here is still linked by id, because the step may
// have been stored by an earlier push of the same trace.
func rootCauseStep(run *agentrun.Run, spanID string) string {
	if id := run.StepIDFor(spanID); id != "" {
		return id
	}
	return agentrun.StepID(run.TraceID, strings.ToLower(spanID))
}

func traceUpdate(run *agentrun.Run, a *traceAnnotations) store.TraceUpdate {
	status := a.rootStatus
	if status == "" {
		status = a.anyStatus
	}
	if status == "" {
		status = vocab.StatusOK
		if run.Failed {
			status = vocab.StatusFailed
		}
	}
	md := make(map[string]any, len(run.Metadata)+1)
	for k, v := range run.Metadata {
		md[k] = v
	}
	if !run.End.IsZero() {
		md["end_time"] = run.End.UTC().Format(time.RFC3339Nano)
	}
	if a.partial {
		md["partial"] = true
	}
	analysis := a.analysis
	if analysis == "" && a.inProgress {
		analysis = store.AnalysisInProgress
	}
	if analysis != "" {
		md["analysis"] = analysis
	}
	return store.TraceUpdate{
		Trace: store.Trace{
			ID:             run.TraceID,
			CreatedAt:      run.Start.UTC(),
			PipelineName:   run.PipelineName,
			Status:         status,
			DurationMs:     run.DurationMs(),
			NodeCount:      len(run.Steps),
			DetectionCount: len(a.detections),
			Metadata:       objectJSON(md),
		},
		End:      run.End.UTC(),
		HasRoot:  run.RootSpanID != "",
		BatchKey: batchKey(a.spanIDs),
		Replace:  analysis == store.AnalysisFinal,
	}
}

// stepRow is the trace_steps row of a step; its metadata (provenance, call
// summary, tokens) is the mapping's, so processor and exporter agree on it.
func stepRow(run *agentrun.Run, s *agentrun.Step) store.Step {
	return store.Step{
		ID:          s.ID,
		TraceID:     run.TraceID,
		StepNumber:  s.Number,
		NodeName:    s.Node,
		InputState:  stateJSON(s.Input, s.InputJSON, s.HasInput),
		OutputState: stateJSON(s.Output, s.OutputJSON, s.HasOutput),
		DurationMs:  s.DurationMs(),
		Timestamp:   s.Start.UTC(),
		Metadata:    objectJSON(s.Metadata),
		// Kept text was validated by the mapping's scan (at most 512 deep,
		// below store.MaxJSONDepth); the store need not scan it again.
		StatesChecked: stateChecked(s.Input, s.InputJSON, s.HasInput) &&
			stateChecked(s.Output, s.OutputJSON, s.HasOutput),
	}
}

// stateChecked reports whether stateJSON's value is known to be valid JSON
// within store.MaxJSONDepth: absent (null), or the state's own text kept
// by the mapping (Options.RawStates), which checked exactly that. An
// encoding of a parsed value may be deeper, so the store checks those.
func stateChecked(v any, enc json.RawMessage, present bool) bool {
	return !present || (enc != nil && v == nil)
}

// stateJSON is the column value of a state: JSON null when the span had
// none; the mapping's text of it when it kept one (the state's own JSON
// text, or the encoding its size check made).
func stateJSON(v any, enc json.RawMessage, present bool) json.RawMessage {
	if !present {
		return json.RawMessage("null")
	}
	if enc != nil {
		return enc
	}
	return agentrun.JSON(v)
}

// toolCallAudits is one audit record per tool call of the run. Ids hash the
// trace and span ids, so a retried push upserts the same records.
func toolCallAudits(run *agentrun.Run, opt rowOptions, now time.Time) []store.AuditLog {
	var out []store.AuditLog
	actor := run.PipelineName
	if actor == "" {
		actor = "unknown"
	}
	for i := range run.Steps {
		s := &run.Steps[i]
		for j := range s.Calls {
			c := &s.Calls[j]
			if c.Kind != "tool" {
				continue
			}
			tool := c.Tool
			if tool == "" {
				tool = c.Name
			}
			status := "SUCCESS"
			if c.Status == agentrun.StatusError || len(c.Exceptions) > 0 {
				status = "FAILURE"
			}
			ts := c.Start
			if ts.IsZero() {
				ts = now
			}
			md := map[string]any{
				"step_id":     s.ID,
				"step_number": s.Number,
				"node":        s.Node,
				"span_id":     c.SpanID,
				"duration_ms": c.DurationMs(),
			}
			if c.StatusMessage != "" {
				md["status_message"] = c.StatusMessage
			}
			out = append(out, store.AuditLog{
				ID:         hashID("tool_call", run.TraceID, c.SpanID),
				Timestamp:  ts.UTC(),
				TraceID:    run.TraceID,
				Status:     status,
				EventType:  "TOOL_CALL",
				Action:     tool,
				ActorType:  opt.actorType,
				ActorID:    actor,
				TargetType: "TOOL",
				TargetID:   tool,
				Metadata:   agentrun.JSON(md),
				CreatedAt:  now.UTC(),
			})
		}
	}
	return out
}

// objectJSON encodes a metadata map; nil becomes {} (the column is an object).
func objectJSON(m map[string]any) json.RawMessage {
	if m == nil {
		return json.RawMessage("{}")
	}
	return agentrun.JSON(m)
}

func nodeOf(run *agentrun.Run, stepID string) string {
	for i := range run.Steps {
		if run.Steps[i].ID == stepID {
			return run.Steps[i].Node
		}
	}
	return ""
}

// normStatus keeps the run statuses of internal/vocab; anything else is "".
func normStatus(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if _, ok := vocab.StatusRank[s]; ok {
		return s
	}
	return ""
}

// normLayer keeps the layers of internal/vocab; anything else is filed
// under behavioral (the original value stays in details) so one odd
// annotation cannot make the whole batch unwritable.
func normLayer(s string) string {
	l := strings.ToLower(strings.TrimSpace(s))
	if slices.Contains(vocab.Layers, l) {
		return l
	}
	return vocab.LayerBehavioral
}

// normSeverity keeps the severities of internal/vocab; unknown values
// become warning.
func normSeverity(s string) string {
	l := strings.ToLower(strings.TrimSpace(s))
	if _, ok := vocab.SeverityRank[l]; ok {
		return l
	}
	return vocab.SeverityWarning
}

func itoa(i int) string { return strconv.Itoa(i) }
