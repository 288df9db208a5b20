package store

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
)

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
