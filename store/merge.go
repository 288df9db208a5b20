package store

// Merging a trace's rows across batches (late spans, retries).

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Reserved trace metadata keys maintained by WriteBatch.
const (
	metaEndTime  = "end_time"       // latest end seen, RFC 3339, UTC
	metaBatches  = "_argus_batches" // last batch keys applied (retry detection)
	maxBatchKeys = 64
)

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
