// Package vocab holds the words every part of the project stores and reports
// with: detection layers, finding severities and run statuses. The schema's
// CHECK constraints (store, held to this package by TestVocabularyIsTheSchema),
// detect's findings, the store's ranks and filters, the exporter's
// normalisers, the processor's metric attributes (metadata.yaml) and the
// reports all use these definitions.
//
// It is a package of its own, not part of store, because detect must stay
// free of the store and its database drivers.
package vocab

// Detection layers (detections.layer).
const (
	LayerStatistical = "statistical"
	LayerSemantic    = "semantic"
	LayerBehavioral  = "behavioral"
	LayerStructural  = "structural"
)

// Layers are the detection layers, in the schema's order.
var Layers = []string{LayerStatistical, LayerSemantic, LayerBehavioral, LayerStructural}

// Finding severities (detections.severity).
const (
	SeverityInfo     = "info"
	SeverityWarning  = "warning"
	SeverityCritical = "critical"
)

// Severities, least severe first.
var Severities = []string{SeverityInfo, SeverityWarning, SeverityCritical}

// SeverityRank orders severities, most severe highest; an unknown severity
// is 0, below info.
var SeverityRank = map[string]int{SeverityInfo: 1, SeverityWarning: 2, SeverityCritical: 3}

// Run statuses (traces.status).
const (
	StatusOK      = "ok"
	StatusWarning = "warning"
	StatusFailed  = "failed"
)

// Statuses, best first.
var Statuses = []string{StatusOK, StatusWarning, StatusFailed}

// StatusRank orders run statuses, worst highest.
var StatusRank = map[string]int{StatusOK: 0, StatusWarning: 1, StatusFailed: 2}
