package jsonscan

import "unsafe"

// Valid reports whether s is valid JSON, exactly as json.Valid says, and
// the deepest nesting of objects and arrays in it. It builds nothing:
// encoding/json's scanner calls a state function per byte, which made
// validating the rows' JSON (states of many KiB) a large part of a write.
// Bytes >= 0x80 are not checked, as json.Valid does not check them.
func Valid(s string) (depth int, ok bool) {
	v := validator{scanner: scanner{s: s}}
	v.space()
	if !v.value(1) {
		return 0, false
	}
	v.space()
	return v.max, v.i == len(s)
}

// ValidBytes is Valid for a byte slice, without copying it: the scan only
// reads b and keeps nothing of it.
func ValidBytes(b []byte) (depth int, ok bool) {
	return Valid(unsafe.String(unsafe.SliceData(b), len(b)))
}

type validator struct {
	scanner
	max int // deepest nesting seen
}

// value checks the value at v.i; depth is the nesting an object or array
// there would have.
func (v *validator) value(depth int) bool {
	switch v.valueKind() {
	case kindObject:
		return v.container(depth, '}')
	case kindArray:
		return v.container(depth, ']')
	case kindString:
		return v.str()
	case kindNumber:
		_, _, ok := v.number()
		return ok
	case kindTrue:
		return v.literal("true")
	case kindFalse:
		return v.literal("false")
	case kindNull:
		return v.literal("null")
	}
	return false
}

// container checks an object or array: members separated by commas,
// object members as "key": value.
func (v *validator) container(depth int, close byte) bool {
	if depth > MaxDepth {
		return false
	}
	v.max = max(v.max, depth)
	if v.open(close) {
		return true
	}
	for {
		if close == '}' && (!v.atKey() || !v.str() || !v.colon()) {
			return false
		}
		if !v.value(depth + 1) {
			return false
		}
		if more, ok := v.next(close); !ok || !more {
			return ok
		}
	}
}

// str checks the string at v.i (its opening quote): no control byte, only
// JSON's escapes.
func (v *validator) str() bool {
	v.i++
	for {
		v.i = v.plainRun(false)
		if v.i >= len(v.s) {
			return false
		}
		switch c := v.s[v.i]; {
		case c == '"':
			v.i++
			return true
		case c < ' ':
			return false
		default: // '\\'
			if _, _, ok := v.escape(); !ok {
				return false
			}
		}
	}
}
