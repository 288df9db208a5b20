package store

import "encoding/json"

// Values of traces.metadata.analysis: where the run's analysis stands.
// Absent (rows of older versions, and runs forwarded once, whole) means
// final.
const (
	// AnalysisInProgress: the run has started but not completed; its steps
	// so far are stored, unanalysed (no detections or forensics yet).
	AnalysisInProgress = "in_progress"
	// AnalysisFinal: the run was analysed whole when it completed; the
	// rows stored while it was in progress were replaced.
	AnalysisFinal = "final"
	// AnalysisPartial: analysed at completion without some of the spans
	// stored while it was in progress, merged into those rows.
	AnalysisPartial = "partial"
)

// metaAnalysis is the metadata key of the analysis state.
const metaAnalysis = "analysis"

// Analysis is the run's analysis state (metadata "analysis"):
// AnalysisInProgress, AnalysisPartial, or AnalysisFinal (also when absent).
func (t Trace) Analysis() string {
	var m struct {
		Analysis string `json:"analysis"`
	}
	if json.Unmarshal(t.Metadata, &m) != nil || m.Analysis == "" {
		return AnalysisFinal
	}
	return m.Analysis
}

// InProgress reports whether the run has started but not completed: its
// steps so far are stored, its analysis is still to come.
func (t Trace) InProgress() bool { return t.Analysis() == AnalysisInProgress }

// withoutAnalysis is metadata without its analysis key.
func withoutAnalysis(meta json.RawMessage) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(meta, &m) != nil {
		return meta
	}
	delete(m, metaAnalysis)
	return mustJSON(m)
}
