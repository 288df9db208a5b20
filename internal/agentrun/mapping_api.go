package agentrun

// Options tune the mapping for a consumer. The processor maps with the zero
// value (it sees raw values); the exporter maps with redaction and truncation
// on, so nothing secret or oversized reaches the store.
type Options struct {
	// RedactKeys: object keys (case-insensitive, matched after removing
	// '-', '_' and '.') whose values are replaced by "[REDACTED]" anywhere in
	// parsed states, tool arguments/results and metadata.
	RedactKeys []string
	// MaxFieldBytes: an input/output state whose JSON encoding is larger is
	// replaced by a truncation marker object
	// {"_argus_truncated":true,"original_bytes":N,"preview":"<first bytes>"}.
	// 0 means no limit.
	MaxFieldBytes int
	// RawStates keeps a state that is JSON text as that text in
	// Step.InputJSON / OutputJSON, leaving Step.Input / Output nil, when
	// storing it stores what the parse path would (no duplicate key, no key
	// to redact, not over MaxFieldBytes, ...); other states are parsed as
	// without it. For consumers that only store states (the exporter): it
	// skips decoding and re-encoding them. The processor leaves it off.
	RawStates bool
}

// StepIDFor returns the trace_steps id that a span belongs to: the step whose
// node span it is, or whose nested call it is; "" when it is neither (root,
// bookkeeping spans, unknown).
func (r *Run) StepIDFor(spanID string) string {
	for i := range r.Steps {
		s := &r.Steps[i]
		if s.SpanID == spanID {
			return s.ID
		}
		for j := range s.Calls {
			if s.Calls[j].SpanID == spanID {
				return s.ID
			}
		}
	}
	return ""
}

// StepID builds the trace_steps primary key of a node span.
func StepID(traceID, spanID string) string { return traceID + "-" + spanID }
