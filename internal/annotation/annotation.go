// Package annotation is the one place where detections and forensics are
// encoded onto spans (by the processor) and decoded from them (by the
// exporter). The attribute names are a public interface: other exporters
// (Jaeger, Tempo, debug) show them as ordinary span events and attributes.
package annotation

import (
	"encoding/json"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Span event names.
const (
	EventDetection = "argus.detection"
	EventForensics = "argus.forensics"
)

// Attribute keys of an argus.detection event.
const (
	AttrDetectionID       = "argus.detection.id"
	AttrDetectionLayer    = "argus.detection.layer"
	AttrDetectionSeverity = "argus.detection.severity"
	AttrDetectionRule     = "argus.detection.rule"
	AttrDetectionMessage  = "argus.detection.message"
	AttrDetectionDetails  = "argus.detection.details" // JSON object
	AttrDetectionNode     = "argus.detection.node"
)

// Attribute keys of an argus.forensics event (on the root span).
const (
	AttrForensicsID            = "argus.forensics.id"
	AttrForensicsRootCauseSpan = "argus.forensics.root_cause_span_id"
	AttrForensicsRootCauseNode = "argus.forensics.root_cause_node"
	AttrForensicsCausalChain   = "argus.forensics.causal_chain"  // JSON array
	AttrForensicsDetectionIDs  = "argus.forensics.detection_ids" // JSON array
	AttrForensicsConfidence    = "argus.forensics.confidence"
	AttrForensicsExplanation   = "argus.forensics.explanation"
)

// Span attributes set by the processor.
const (
	// On the root span (or, without a root, on the first span of the trace).
	AttrRunStatus         = "argus.run.status" // ok | warning | failed
	AttrRunDetectionCount = "argus.run.detection_count"
	// AttrLate marks a span that arrived after its trace was released by the
	// processor; the exporter merges it into the stored trace.
	AttrLate = "argus.late"
	// AttrAnalyzed marks every span of a trace that went through detection.
	AttrAnalyzed = "argus.analyzed"
	// AttrPartial marks (on the root span) a trace that was released before
	// it was complete: evicted by the buffer bounds, or flushed at shutdown.
	AttrPartial = "argus.partial"
	// AttrAnalysis says where a forwarded span stands in its run's analysis:
	// AnalysisInProgress on every span forwarded while its run was still
	// going (unanalysed; stored as the steps so far), AnalysisFinal on one
	// span of the whole run forwarded at completion after such spans (the
	// exporter replaces what it stored for the run). Absent: the run was
	// forwarded once, whole (final too).
	AttrAnalysis = "argus.analysis"
)

// Values of AttrAnalysis (and of the stored traces.metadata.analysis).
const (
	AnalysisInProgress = "in_progress"
	AnalysisFinal      = "final"
	// AnalysisPartial: analysed at completion without some of the spans
	// forwarded in progress (their records could not be read back), so the
	// forward is merged into the stored rows instead of replacing them.
	AnalysisPartial = "partial"
)

// Detection is a decoded argus.detection event.
type Detection struct {
	ID       string
	Layer    string
	Severity string
	Rule     string
	Message  string
	Node     string
	Details  json.RawMessage // a JSON object
}

// Forensics is a decoded argus.forensics event.
type Forensics struct {
	ID            string
	RootCauseSpan string
	RootCauseNode string
	CausalChain   json.RawMessage // JSON array
	DetectionIDs  []string
	Confidence    float64
	Explanation   string
}

// AddDetection appends an argus.detection event to span.
func AddDetection(span ptrace.Span, d Detection) {
	ev := span.Events().AppendEmpty()
	ev.SetName(EventDetection)
	ev.SetTimestamp(span.EndTimestamp())
	a := ev.Attributes()
	a.PutStr(AttrDetectionID, d.ID)
	a.PutStr(AttrDetectionLayer, d.Layer)
	a.PutStr(AttrDetectionSeverity, d.Severity)
	a.PutStr(AttrDetectionRule, d.Rule)
	a.PutStr(AttrDetectionMessage, d.Message)
	if d.Node != "" {
		a.PutStr(AttrDetectionNode, d.Node)
	}
	a.PutStr(AttrDetectionDetails, string(orJSON(d.Details, "{}")))
}

// AddForensics appends an argus.forensics event to span (the root).
func AddForensics(span ptrace.Span, f Forensics) {
	ev := span.Events().AppendEmpty()
	ev.SetName(EventForensics)
	ev.SetTimestamp(span.EndTimestamp())
	a := ev.Attributes()
	a.PutStr(AttrForensicsID, f.ID)
	a.PutStr(AttrForensicsRootCauseSpan, f.RootCauseSpan)
	a.PutStr(AttrForensicsRootCauseNode, f.RootCauseNode)
	a.PutStr(AttrForensicsCausalChain, string(orJSON(f.CausalChain, "[]")))
	ids, _ := json.Marshal(nonNil(f.DetectionIDs))
	a.PutStr(AttrForensicsDetectionIDs, string(ids))
	a.PutDouble(AttrForensicsConfidence, f.Confidence)
	a.PutStr(AttrForensicsExplanation, f.Explanation)
}

// SetRunStatus records the run verdict on the root span.
func SetRunStatus(span ptrace.Span, status string, detections int) {
	span.Attributes().PutStr(AttrRunStatus, status)
	span.Attributes().PutInt(AttrRunDetectionCount, int64(detections))
}

// Decoded is everything the processor put on one span.
type Decoded struct {
	Detections []Detection
	Forensics  []Forensics
	RunStatus  string // "" when absent
	Late       bool
	Analyzed   bool
	Partial    bool
	Analysis   string // AttrAnalysis, "" when absent
}

// Decode reads the annotations of one span. Malformed values (e.g. details
// that are not a JSON object) are normalised, never fatal.
func Decode(span ptrace.Span) Decoded {
	var out Decoded
	attrs := span.Attributes()
	if v, ok := attrs.Get(AttrRunStatus); ok {
		out.RunStatus = v.AsString()
	}
	if v, ok := attrs.Get(AttrLate); ok && v.Type() == pcommon.ValueTypeBool {
		out.Late = v.Bool()
	}
	if v, ok := attrs.Get(AttrAnalyzed); ok && v.Type() == pcommon.ValueTypeBool {
		out.Analyzed = v.Bool()
	}
	if v, ok := attrs.Get(AttrPartial); ok && v.Type() == pcommon.ValueTypeBool {
		out.Partial = v.Bool()
	}
	if v, ok := attrs.Get(AttrAnalysis); ok {
		out.Analysis = v.AsString()
	}
	evs := span.Events()
	for i := 0; i < evs.Len(); i++ {
		ev := evs.At(i)
		a := ev.Attributes()
		switch ev.Name() {
		case EventDetection:
			out.Detections = append(out.Detections, Detection{
				ID:       str(a, AttrDetectionID),
				Layer:    str(a, AttrDetectionLayer),
				Severity: str(a, AttrDetectionSeverity),
				Rule:     str(a, AttrDetectionRule),
				Message:  str(a, AttrDetectionMessage),
				Node:     str(a, AttrDetectionNode),
				Details:  objectJSON(str(a, AttrDetectionDetails)),
			})
		case EventForensics:
			f := Forensics{
				ID:            str(a, AttrForensicsID),
				RootCauseSpan: str(a, AttrForensicsRootCauseSpan),
				RootCauseNode: str(a, AttrForensicsRootCauseNode),
				CausalChain:   arrayJSON(str(a, AttrForensicsCausalChain)),
				Explanation:   str(a, AttrForensicsExplanation),
			}
			_ = json.Unmarshal([]byte(str(a, AttrForensicsDetectionIDs)), &f.DetectionIDs)
			if v, ok := a.Get(AttrForensicsConfidence); ok {
				f.Confidence = v.Double()
			}
			out.Forensics = append(out.Forensics, f)
		}
	}
	return out
}

func str(m pcommon.Map, k string) string {
	if v, ok := m.Get(k); ok {
		return v.AsString()
	}
	return ""
}

func objectJSON(s string) json.RawMessage {
	var m map[string]any
	if json.Unmarshal([]byte(s), &m) != nil || m == nil {
		b, _ := json.Marshal(map[string]any{"raw": s})
		return b
	}
	return json.RawMessage(s)
}

func arrayJSON(s string) json.RawMessage {
	var a []any
	if json.Unmarshal([]byte(s), &a) != nil || a == nil {
		return json.RawMessage("[]")
	}
	return json.RawMessage(s)
}

func orJSON(b json.RawMessage, def string) json.RawMessage {
	if len(b) == 0 || !json.Valid(b) {
		return json.RawMessage(def)
	}
	return b
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
