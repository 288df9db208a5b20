package detect

import (
	"strings"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

// What a node's updates looked like over its recent history, kept with its
// metric samples in the baselines: how many were empty, which fields it
// wrote, with which JSON types, how often it returned an empty retrieval
// and how often its text input unchanged. The rules judged against the node's history (node_habits.go)
// read it.

// maxShapeFields bounds the fields remembered per node; a node writing more
// (a full state of many keys) has the rest judged as "no history".
const maxShapeFields = 16

// JSON types counted per field, by jsonTypeOf name.
var shapeTypes = [...]string{"null", "string", "number", "boolean", "object", "array"}

// shapeTypeIndex is the index in shapeTypes of v's JSON type, -1 for none;
// the decoded types first, without going through the name.
func shapeTypeIndex(v any) int {
	switch v.(type) {
	case nil:
		return 0
	case string:
		return 1
	case float64:
		return 2
	case bool:
		return 3
	case map[string]any:
		return 4
	case []any:
		return 5
	}
	t := jsonTypeOf(v)
	for i, n := range shapeTypes {
		if n == t {
			return i
		}
	}
	return -1
}

// updateShape counts a node's updates. Counts are halved whenever updates
// reaches the window, so they weigh the last half window to window updates
// and older ones ever less, as the metric samples keep the last window.
type updateShape struct {
	updates        uint32 // steps with a known output
	empty          uint32 // ... whose update was empty ({}, [], "", null)
	emptyRetrieval uint32 // ... which were empty or emptied a retrieval field
	echoes         uint32 // ... which returned their text input unchanged
	fields         []fieldShape
}

type fieldShape struct {
	name   string
	writes uint32 // updates that wrote the field
	empty  uint32 // ... with an empty value
	types  [len(shapeTypes)]uint32
}

// field returns the counts of a field, nil when the node never wrote it.
func (u *updateShape) field(name string) *fieldShape {
	for i := range u.fields {
		if u.fields[i].name == name {
			return &u.fields[i]
		}
	}
	return nil
}

// observe counts one step's update. A failed step, a step without output
// and a truncated output say nothing of the node's habits.
func (u *updateShape) observe(s *agentrun.Step, window int) {
	if !s.HasOutput || s.Failed() {
		return
	}
	m, isObj := s.Output.(map[string]any)
	if isObj && isTruncationMarker(m) {
		return
	}
	u.updates++
	if isTextEcho(s) {
		u.echoes++
	}
	emptyRetrieval := false
	if isEmptyValue(s.Output) {
		u.empty++
		emptyRetrieval = true
	}
	if len(u.fields)+len(m) > maxShapeFields {
		// Which fields get the last places must not depend on map order.
		for _, k := range sortedKeys(m) {
			emptyRetrieval = u.count(k, m[k]) || emptyRetrieval
		}
	} else {
		for k, v := range m {
			emptyRetrieval = u.count(k, v) || emptyRetrieval
		}
	}
	if emptyRetrieval {
		u.emptyRetrieval++
	}
	u.fit(window)
}

// count counts one field of an update and reports whether it is an empty
// retrieval field.
func (u *updateShape) count(k string, v any) bool {
	f := u.field(k)
	if f == nil {
		if len(u.fields) < maxShapeFields {
			u.fields = append(u.fields, fieldShape{name: strings.Clone(k)}) // not a view into the run's memory
			f = &u.fields[len(u.fields)-1]
		}
	}
	if f != nil {
		f.writes++
		if isEmptyValue(v) {
			f.empty++
		}
		if t := shapeTypeIndex(v); t >= 0 {
			f.types[t]++
		}
	}
	return isEmptyRetrieval(v) && retrievalFields[strings.ToLower(k)]
}

// fit halves the counts until updates is below the window; fields no
// longer written are forgotten, which frees their place.
func (u *updateShape) fit(window int) {
	for u.updates >= uint32(max(window, 2)) {
		u.updates /= 2
		u.empty /= 2
		u.emptyRetrieval /= 2
		u.echoes /= 2
		kept := u.fields[:0]
		for _, f := range u.fields {
			f.writes /= 2
			f.empty /= 2
			for t := range f.types {
				f.types[t] /= 2
			}
			if f.writes > 0 {
				kept = append(kept, f)
			}
		}
		clear(u.fields[len(kept):])
		u.fields = kept
	}
}

// clone copies u for use outside the baselines' lock.
func (u *updateShape) clone() *updateShape {
	c := *u
	c.fields = append([]fieldShape(nil), u.fields...)
	return &c
}
