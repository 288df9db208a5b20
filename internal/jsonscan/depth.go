package jsonscan

// Depth validates s as JSON without the nesting limit and returns the
// deepest nesting of objects and arrays in it: it tells a valid but very
// deep text, which Decode and Valid refuse (beyond MaxDepth, as
// encoding/json does), from a broken one. It keeps its open containers on
// a stack of bytes rather than recursing, so no nesting can exhaust the
// goroutine stack; the grammar of blanks, strings, numbers and literals is
// the one the other scans use.
func Depth(s string) (depth int, valid bool) {
	v := validator{scanner: scanner{s: s}}
	var open []byte // the open containers' closing brackets
	const (
		value        = iota // a value
		valueOrClose        // after '['
		keyOrClose          // after '{'
		key                 // after ',' in an object
		after               // after a value inside a container
		end                 // after the top-level value
	)
	next := func() int {
		if len(open) == 0 {
			return end
		}
		return after
	}
	st := value
	for {
		v.space()
		if v.i == len(s) {
			return depth, st == end
		}
		c := s[v.i]
		switch st {
		case end:
			return depth, false
		case keyOrClose, key:
			if c == '}' && st == keyOrClose {
				open = open[:len(open)-1]
				v.i++
				st = next()
				continue
			}
			if !v.atKey() || !v.str() || !v.colon() {
				return depth, false
			}
			st = value
			continue
		case after:
			more, ok := v.next(open[len(open)-1])
			if !ok {
				return depth, false
			}
			switch {
			case more && open[len(open)-1] == '}':
				st = key
			case more:
				st = value
			default:
				open = open[:len(open)-1]
				st = next()
			}
			continue
		case valueOrClose:
			if c == ']' {
				open = open[:len(open)-1]
				v.i++
				st = next()
				continue
			}
		}
		// A value.
		switch v.valueKind() {
		case kindObject, kindArray:
			close, nextSt := byte('}'), keyOrClose
			if c == '[' {
				close, nextSt = ']', valueOrClose
			}
			open = append(open, close)
			depth = max(depth, len(open))
			v.i++
			st = nextSt
			continue
		case kindString:
			valid = v.str()
		case kindNumber:
			_, _, valid = v.number()
		case kindTrue:
			valid = v.literal("true")
		case kindFalse:
			valid = v.literal("false")
		case kindNull:
			valid = v.literal("null")
		default:
			valid = false
		}
		if !valid {
			return depth, false
		}
		st = next()
	}
}
