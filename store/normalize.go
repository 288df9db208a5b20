package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/arguslabs/argus-otel/internal/jsonscan"
)

// Layers are the detection layers the schema accepts.
var Layers = []string{"statistical", "semantic", "behavioral", "structural"}

// Reserved trace metadata keys maintained by WriteBatch.
const (
	metaEndTime  = "end_time"       // latest end seen, RFC 3339, UTC
	metaBatches  = "_argus_batches" // last batch keys applied (retry detection)
	maxBatchKeys = 64
)

// cleanText makes s storable everywhere: valid UTF-8 and no NUL, which
// PostgreSQL text cannot hold. Both become U+FFFD.
func cleanText(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// cleanJSON checks raw and returns the form to store: def when empty,
// invalid UTF-8 replaced, and \u0000 escapes (which PostgreSQL JSONB
// rejects) turned into \ufffd. kind restricts the top-level type: 'o' object,
// 'a' array, 'c' array or object, 0 any.
func cleanJSON(raw json.RawMessage, def string, kind byte, what string) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return json.RawMessage(def), nil
	}
	if !utf8.Valid(raw) {
		raw = bytes.ToValidUTF8(raw, []byte("\uFFFD"))
	}
	depth, ok := jsonscan.ValidBytes(raw)
	if !ok {
		return nil, invalidf("%s is not valid JSON", what)
	}
	switch c := raw[0]; kind {
	case 'o':
		if c != '{' {
			return nil, invalidf("%s must be a JSON object", what)
		}
	case 'a':
		if c != '[' {
			return nil, invalidf("%s must be a JSON array", what)
		}
	case 'c':
		if c != '{' && c != '[' {
			return nil, invalidf("%s must be a JSON array or object", what)
		}
	}
	if bytes.Contains(raw, []byte(`\u0000`)) {
		raw = replaceNULEscapes(raw)
	}
	if depth > MaxJSONDepth {
		raw = tooDeep(raw, kind)
	}
	return raw, nil
}

// cleanCheckedJSON is cleanJSON for a value the caller already checked
// (Step.StatesChecked): valid JSON, at most MaxJSONDepth deep. It skips the
// syntax scan, the costly part, and keeps the cheap byte-level repairs
// that make the text storable in both databases.
func cleanCheckedJSON(raw json.RawMessage, def string, kind byte, what string) (json.RawMessage, error) {
	if kind != 0 {
		return cleanJSON(raw, def, kind, what)
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return json.RawMessage(def), nil
	}
	if !utf8.Valid(raw) {
		raw = bytes.ToValidUTF8(raw, []byte("\uFFFD"))
	}
	if bytes.Contains(raw, []byte(`\u0000`)) {
		raw = replaceNULEscapes(raw)
	}
	return raw, nil
}

// MaxJSONDepth is the deepest nesting stored as JSON. SQLite's JSON
// functions (and so the json_valid CHECK) refuse more than 1000 levels while
// Go's parser accepts 10000: a deeper value would fail its whole batch
// permanently. It is kept instead as text, inside a marker where the column
// must stay an object or array.
const MaxJSONDepth = 900

// tooDeep keeps a too-deep value as a JSON string: bare for state columns,
// in {"_argus_too_deep":true,"raw":...} where an object is required, and as
// the one element of an array where an array is.
func tooDeep(raw []byte, kind byte) json.RawMessage {
	text, _ := json.Marshal(string(raw))
	switch kind {
	case 'o', 'c':
		return json.RawMessage(`{"_argus_too_deep":true,"raw":` + string(text) + `}`)
	case 'a':
		return json.RawMessage(`[{"_argus_too_deep":true,"raw":` + string(text) + `}]`)
	}
	return text
}

// replaceNULEscapes rewrites the escape \u0000 inside JSON strings as
// \ufffd, skipping escaped backslashes (so `\\u0000` stays literal text).
func replaceNULEscapes(raw []byte) []byte {
	out := append([]byte(nil), raw...)
	for i := 0; i < len(out)-1; i++ {
		if out[i] != '\\' {
			continue
		}
		if out[i+1] == 'u' && i+6 <= len(out) && string(out[i+2:i+6]) == "0000" {
			copy(out[i+2:i+6], "fffd")
		}
		i++ // skip the escaped character
	}
	return out
}

// normBatch is a validated, cleaned copy of a TraceBatch with rows deduplicated
// by primary key (the last occurrence wins).
type normBatch struct {
	traces     []TraceUpdate // one per trace id, in first-seen order
	traceIDs   []string      // sorted
	steps      []Step
	detections []Detection
	forensics  []Forensics
}

func normalizeBatch(b TraceBatch) (*normBatch, error) {
	nb := &normBatch{}
	traceIdx := map[string]int{}
	for i, u := range b.Traces {
		u.Trace.ID = capID(cleanText(u.Trace.ID))
		if u.Trace.ID == "" {
			return nil, invalidf("trace %d: empty id", i)
		}
		if u.Trace.Status == "" {
			u.Trace.Status = "ok"
		}
		if _, ok := StatusRank[u.Trace.Status]; !ok {
			return nil, invalidf("trace %q: unknown status %q (want ok|warning|failed)", u.Trace.ID, u.Trace.Status)
		}
		u.Trace.PipelineName = capName(cleanText(u.Trace.PipelineName))
		u.BatchKey = cleanText(u.BatchKey)
		var err error
		if err := checkSetTime(fmt.Sprintf("trace %q start", u.Trace.ID), u.Trace.CreatedAt); err != nil {
			return nil, err
		}
		if err := checkSetTime(fmt.Sprintf("trace %q end", u.Trace.ID), u.End); err != nil {
			return nil, err
		}
		if u.Trace.Metadata, err = cleanJSON(u.Trace.Metadata, "{}", 'o', fmt.Sprintf("trace %q metadata", u.Trace.ID)); err != nil {
			return nil, err
		}
		if j, ok := traceIdx[u.Trace.ID]; ok {
			// Two updates of one trace in one batch: fold them first.
			prev := nb.traces[j]
			merged, err := mergeTrace(&storedTrace{row: prev.Trace, end: updateEnd(prev)}, u, time.Time{})
			if err != nil {
				return nil, err
			}
			prev.Trace, prev.End = merged.row, merged.end
			prev.HasRoot = prev.HasRoot || u.HasRoot
			prev.Replace = prev.Replace || u.Replace
			nb.traces[j] = prev
			continue
		}
		traceIdx[u.Trace.ID] = len(nb.traces)
		nb.traces = append(nb.traces, u)
	}
	// Rows may name a trace the batch has no update for: the trace row is
	// created (or kept) so that its rows are never lost.
	need := func(id string) {
		if _, ok := traceIdx[id]; !ok {
			traceIdx[id] = len(nb.traces)
			nb.traces = append(nb.traces, TraceUpdate{Trace: Trace{ID: id, Status: "ok", Metadata: json.RawMessage("{}")}})
		}
	}

	stepIdx := map[string]int{}
	for _, s := range b.Steps {
		s.ID, s.TraceID, s.NodeName = capID(cleanText(s.ID)), capID(cleanText(s.TraceID)), capName(cleanText(s.NodeName))
		if s.ID == "" || s.TraceID == "" {
			return nil, invalidf("step %q of trace %q: empty id or trace id", s.ID, s.TraceID)
		}
		what := fmt.Sprintf("step %q ", s.ID)
		var err error
		clean := cleanJSON
		if s.StatesChecked {
			clean = cleanCheckedJSON
		}
		if s.InputState, err = clean(s.InputState, "null", 0, what+"input_state"); err != nil {
			return nil, err
		}
		if s.OutputState, err = clean(s.OutputState, "null", 0, what+"output_state"); err != nil {
			return nil, err
		}
		if s.Metadata, err = cleanJSON(s.Metadata, "{}", 'o', what+"metadata"); err != nil {
			return nil, err
		}
		s.Timestamp = s.Timestamp.UTC()
		if err := checkSetTime(what+"timestamp", s.Timestamp); err != nil {
			return nil, err
		}
		need(s.TraceID)
		if j, ok := stepIdx[s.ID]; ok {
			nb.steps[j] = s
			continue
		}
		stepIdx[s.ID] = len(nb.steps)
		nb.steps = append(nb.steps, s)
	}

	detIdx := map[string]int{}
	for _, d := range b.Detections {
		d.ID, d.TraceID, d.StepID, d.Message = capID(cleanText(d.ID)), capID(cleanText(d.TraceID)), capID(cleanText(d.StepID)), cleanText(d.Message)
		if d.ID == "" || d.TraceID == "" {
			return nil, invalidf("detection %q of trace %q: empty id or trace id", d.ID, d.TraceID)
		}
		if !slices.Contains(Layers, d.Layer) {
			return nil, invalidf("detection %q: unknown layer %q (want %s)", d.ID, d.Layer, strings.Join(Layers, "|"))
		}
		if _, ok := SeverityRank[d.Severity]; !ok {
			return nil, invalidf("detection %q: unknown severity %q (want info|warning|critical)", d.ID, d.Severity)
		}
		var err error
		if d.Details, err = cleanJSON(d.Details, "{}", 'o', fmt.Sprintf("detection %q details", d.ID)); err != nil {
			return nil, err
		}
		d.CreatedAt = d.CreatedAt.UTC()
		if err := checkSetTime(fmt.Sprintf("detection %q created_at", d.ID), d.CreatedAt); err != nil {
			return nil, err
		}
		need(d.TraceID)
		if j, ok := detIdx[d.ID]; ok {
			nb.detections[j] = d
			continue
		}
		detIdx[d.ID] = len(nb.detections)
		nb.detections = append(nb.detections, d)
	}

	forIdx := map[string]int{}
	for _, f := range b.Forensics {
		f.ID, f.TraceID, f.RootCauseStep, f.Explanation = capID(cleanText(f.ID)), capID(cleanText(f.TraceID)), capID(cleanText(f.RootCauseStep)), cleanText(f.Explanation)
		if f.ID == "" || f.TraceID == "" {
			return nil, invalidf("forensics %q of trace %q: empty id or trace id", f.ID, f.TraceID)
		}
		what := fmt.Sprintf("forensics %q ", f.ID)
		var err error
		if f.DetectionIDs, err = cleanJSON(f.DetectionIDs, "[]", 'a', what+"detection_ids"); err != nil {
			return nil, err
		}
		if f.CausalChain, err = cleanJSON(f.CausalChain, "[]", 'c', what+"causal_chain"); err != nil {
			return nil, err
		}
		f.CreatedAt = f.CreatedAt.UTC()
		if err := checkSetTime(what+"created_at", f.CreatedAt); err != nil {
			return nil, err
		}
		need(f.TraceID)
		if j, ok := forIdx[f.ID]; ok {
			nb.forensics[j] = f
			continue
		}
		forIdx[f.ID] = len(nb.forensics)
		nb.forensics = append(nb.forensics, f)
	}

	for id := range traceIdx {
		nb.traceIDs = append(nb.traceIDs, id)
	}
	slices.Sort(nb.traceIDs)
	return nb, nil
}

// firstStepTimes maps each trace of the batch to its earliest step time:
// the start of a trace the batch carries no update for.
func (nb *normBatch) firstStepTimes() map[string]time.Time {
	out := map[string]time.Time{}
	for _, s := range nb.steps {
		if t, ok := out[s.TraceID]; !s.Timestamp.IsZero() && (!ok || s.Timestamp.Before(t)) {
			out[s.TraceID] = s.Timestamp
		}
	}
	return out
}

// storedTrace is a traces row with its end time decoded from metadata.
type storedTrace struct {
	row Trace
	end time.Time
}

func updateEnd(u TraceUpdate) time.Time {
	if !u.End.IsZero() {
		return u.End.UTC()
	}
	if !u.Trace.CreatedAt.IsZero() && u.Trace.DurationMs > 0 {
		return u.Trace.CreatedAt.UTC().Add(time.Duration(u.Trace.DurationMs) * time.Millisecond)
	}
	return time.Time{}
}

// mergeTrace folds the update u into the stored row (nil: none yet) as
// TraceUpdate documents. fallbackStart is the start used when neither the
// stored row nor u knows one (zero: keep zero, when folding updates within
// a batch).
func mergeTrace(stored *storedTrace, u TraceUpdate, fallbackStart time.Time) (storedTrace, error) {
	var out storedTrace
	var meta map[string]json.RawMessage
	if err := json.Unmarshal(u.Trace.Metadata, &meta); err != nil {
		return out, invalidf("trace %q metadata: %v", u.Trace.ID, err)
	}
	newCreated := u.Trace.CreatedAt.UTC()
	newEnd := updateEnd(u)
	if stored == nil {
		out.row = u.Trace
		out.row.CreatedAt = newCreated
		out.end = newEnd
		if meta == nil {
			meta = map[string]json.RawMessage{}
		}
		delete(meta, metaBatches)
		delete(meta, metaEndTime)
		if u.BatchKey != "" {
			meta[metaBatches] = mustJSON([]string{u.BatchKey})
		}
	} else {
		out.row = stored.row
		out.end = stored.end
		var old map[string]json.RawMessage
		if err := json.Unmarshal(stored.row.Metadata, &old); err != nil || old == nil {
			old = map[string]json.RawMessage{} // hand-edited junk is replaced, not fatal
		}
		var keys []string
		_ = json.Unmarshal(old[metaBatches], &keys)
		seen := u.BatchKey != "" && slices.Contains(keys, u.BatchKey)
		for k, v := range meta {
			if k == metaBatches || k == metaEndTime {
				continue
			}
			prev, had := old[k]
			switch {
			case strings.HasSuffix(k, "_count") && had:
				if !seen {
					if sum, ok := addNumbers(prev, v); ok {
						old[k] = sum
					} else if u.HasRoot {
						old[k] = v
					}
				}
			case !had || u.HasRoot:
				old[k] = v
			}
		}
		if u.BatchKey != "" && !seen {
			keys = append(keys, u.BatchKey)
			if len(keys) > maxBatchKeys {
				keys = keys[len(keys)-maxBatchKeys:]
			}
			old[metaBatches] = mustJSON(keys)
		}
		meta = old
		if out.row.CreatedAt.IsZero() || (!newCreated.IsZero() && newCreated.Before(out.row.CreatedAt)) {
			out.row.CreatedAt = newCreated
		}
		if newEnd.After(out.end) {
			out.end = newEnd
		}
		if StatusRank[u.Trace.Status] > StatusRank[out.row.Status] {
			out.row.Status = u.Trace.Status
		}
		if u.Trace.PipelineName != "" && (u.HasRoot || out.row.PipelineName == "") {
			out.row.PipelineName = u.Trace.PipelineName
		}
		if u.Trace.DurationMs > out.row.DurationMs {
			out.row.DurationMs = u.Trace.DurationMs
		}
	}
	if out.row.CreatedAt.IsZero() && !fallbackStart.IsZero() {
		out.row.CreatedAt = fallbackStart
	}
	if !out.end.IsZero() {
		meta[metaEndTime] = mustJSON(out.end.Format(time.RFC3339Nano))
		if !out.row.CreatedAt.IsZero() {
			out.row.DurationMs = max(0, out.end.Sub(out.row.CreatedAt).Milliseconds())
		}
	}
	out.row.Metadata = mustJSON(meta)
	return out, nil
}

// addNumbers adds two JSON numbers, as integers when both are.
func addNumbers(a, b json.RawMessage) (json.RawMessage, bool) {
	ai, err1 := strconv.ParseInt(string(a), 10, 64)
	bi, err2 := strconv.ParseInt(string(b), 10, 64)
	if err1 == nil && err2 == nil {
		return json.RawMessage(strconv.FormatInt(ai+bi, 10)), true
	}
	af, err1 := strconv.ParseFloat(string(a), 64)
	bf, err2 := strconv.ParseFloat(string(b), 64)
	if err1 == nil && err2 == nil {
		return mustJSON(af + bf), true
	}
	return nil, false
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only called with maps of RawMessage, strings and numbers
	}
	return b
}

// decodeStored reads the end time kept in a stored row's metadata.
func decodeStored(t Trace) *storedTrace {
	st := &storedTrace{row: t}
	var meta struct {
		End string `json:"end_time"`
	}
	if json.Unmarshal(t.Metadata, &meta) == nil && meta.End != "" {
		if e, err := time.Parse(time.RFC3339Nano, meta.End); err == nil {
			st.end = e.UTC()
		}
	}
	return st
}

// stepOrder is what renumbering needs to know of a stored step.
type stepOrder struct {
	id, traceID string
	number      int
	lgStep      json.RawMessage // metadata langgraph_step, JSON text or nil
	ts          time.Time
}

type numberChange struct {
	id     string
	number int
}

// langGraphStep reads a langgraph_step value (number or numeric string);
// -1 when absent or unreadable, as the pipeline model does.
func langGraphStep(raw json.RawMessage) float64 {
	s := strings.Trim(string(bytes.TrimSpace(raw)), `"`)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f
	}
	return -1
}

// renumber orders each trace's steps by (langgraph_step, timestamp, id) and
// returns the step numbers that must change.
func renumber(rows []stepOrder) []numberChange {
	slices.SortStableFunc(rows, func(a, b stepOrder) int {
		if c := strings.Compare(a.traceID, b.traceID); c != 0 {
			return c
		}
		if la, lb := langGraphStep(a.lgStep), langGraphStep(b.lgStep); la != lb {
			if la < lb {
				return -1
			}
			return 1
		}
		if c := a.ts.Compare(b.ts); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	var out []numberChange
	n := 0
	for i, r := range rows {
		if i == 0 || rows[i-1].traceID != r.traceID {
			n = 0
		}
		n++
		if r.number != n {
			out = append(out, numberChange{id: r.id, number: n})
		}
	}
	return out
}

// withStepRef records, in a detection's details, the step it meant to
// point at when that step is not stored.
func withStepRef(details json.RawMessage, stepID string) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(details, &m) != nil || m == nil {
		m = map[string]json.RawMessage{}
	}
	m["step_ref"] = mustJSON(stepID)
	return mustJSON(m)
}

// withRootRef keeps the intended root cause step in the causal chain: an
// array gains a {"type":"root_cause_ref","step_ref":id} element, an object a
// "root_cause_step_ref" key. reattach looks for it when the step arrives.
func withRootRef(chain json.RawMessage, stepID string) json.RawMessage {
	if rootRef(chain) == stepID {
		return chain
	}
	chain = withoutRootRef(chain)
	if len(chain) > 0 && chain[0] == '{' {
		var m map[string]json.RawMessage
		if json.Unmarshal(chain, &m) == nil {
			m["root_cause_step_ref"] = mustJSON(stepID)
			return mustJSON(m)
		}
	}
	var links []json.RawMessage
	_ = json.Unmarshal(chain, &links)
	links = append(links, mustJSON(map[string]string{"type": "root_cause_ref", "step_ref": stepID}))
	return mustJSON(links)
}

// rootRef returns the step id kept by withRootRef, "" when there is none.
func rootRef(chain json.RawMessage) string {
	if len(chain) > 0 && chain[0] == '{' {
		var m struct {
			Ref string `json:"root_cause_step_ref"`
		}
		_ = json.Unmarshal(chain, &m)
		return m.Ref
	}
	var links []struct {
		Type string `json:"type"`
		Ref  string `json:"step_ref"`
	}
	_ = json.Unmarshal(chain, &links)
	for _, l := range links {
		if l.Type == "root_cause_ref" {
			return l.Ref
		}
	}
	return ""
}

// withoutRootRef removes what withRootRef added.
func withoutRootRef(chain json.RawMessage) json.RawMessage {
	if len(chain) > 0 && chain[0] == '{' {
		var m map[string]json.RawMessage
		if json.Unmarshal(chain, &m) != nil {
			return chain
		}
		delete(m, "root_cause_step_ref")
		return mustJSON(m)
	}
	var links []json.RawMessage
	if json.Unmarshal(chain, &links) != nil {
		return chain
	}
	out := []json.RawMessage{}
	for _, l := range links {
		var x struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(l, &x) == nil && x.Type == "root_cause_ref" {
			continue
		}
		out = append(out, l)
	}
	return mustJSON(out)
}
