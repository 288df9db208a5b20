package agentrun

// MaxStoredJSONDepth is the deepest nesting the store keeps as JSON
// (store.MaxJSONDepth, which a store test holds equal to it): a deeper
// state is stored as the text of its JSON. The mapping flags such states
// (Step.InputTooDeep, OutputTooDeep) so detection can say so.
const MaxStoredJSONDepth = 900

// What JSONDepth expects next.
const (
	sValue        = iota // a value
	sValueOrClose        // after '['
	sKeyOrClose          // after '{'
	sKey                 // after ',' in an object
	sColon               // after a key
	sAfter               // after a value inside a container
	sEnd                 // after the top-level value
)

// JSONDepth validates s as JSON without encoding/json's nesting limit
// (10000) and returns its deepest nesting of objects and arrays. It tells
// a valid but very deep text, which the decoder refuses, from a broken
// one. Iterative, so no nesting can exhaust the stack; it is only called
// once a decode failed.
func JSONDepth(s string) (depth int, valid bool) {
	var stack []byte
	st, i := sValue, 0
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
			i++
		}
		if i == len(s) {
			return depth, st == sEnd
		}
		c := s[i]
		switch st {
		case sEnd:
			return depth, false
		case sColon:
			if c != ':' {
				return depth, false
			}
			i++
			st = sValue
			continue
		case sKeyOrClose, sKey:
			if c == '}' && st == sKeyOrClose {
				stack = stack[:len(stack)-1]
				i++
				st = afterValue(stack)
				continue
			}
			if c != '"' {
				return depth, false
			}
			if i = skipString(s, i); i < 0 {
				return depth, false
			}
			st = sColon
			continue
		case sAfter:
			top := stack[len(stack)-1]
			switch {
			case c == ',' && top == '{':
				st = sKey
			case c == ',':
				st = sValue
			case c == '}' && top == '{', c == ']' && top == '[':
				stack = stack[:len(stack)-1]
				st = afterValue(stack)
			default:
				return depth, false
			}
			i++
			continue
		case sValueOrClose:
			if c == ']' {
				stack = stack[:len(stack)-1]
				i++
				st = afterValue(stack)
				continue
			}
		}
		// sValue, or a value after '['.
		switch {
		case c == '{' || c == '[':
			stack = append(stack, c)
			depth = max(depth, len(stack))
			i++
			st = sKeyOrClose
			if c == '[' {
				st = sValueOrClose
			}
			continue
		case c == '"':
			i = skipString(s, i)
		case c == '-' || '0' <= c && c <= '9':
			i = skipNumber(s, i)
		default:
			i = skipLiteral(s, i)
		}
		if i < 0 {
			return depth, false
		}
		st = afterValue(stack)
	}
}

func afterValue(stack []byte) int {
	if len(stack) == 0 {
		return sEnd
	}
	return sAfter
}

// skipString returns the index after the string starting at s[i] (its
// quote), -1 when it is not valid.
func skipString(s string, i int) int {
	for i++; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return i + 1
		case c < ' ':
			return -1
		case c == '\\':
			i++
			if i >= len(s) {
				return -1
			}
			switch s[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(s) {
					return -1
				}
				for _, h := range []byte(s[i+1 : i+5]) {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return -1
					}
				}
				i += 4
			default:
				return -1
			}
		}
	}
	return -1
}

// skipNumber returns the index after the number at s[i], -1 when it is not
// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func skipNumber(s string, i int) int {
	digits := func() int {
		n := 0
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case digits() == 0:
		return -1
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return -1
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return -1
		}
	}
	return i
}

func skipLiteral(s string, i int) int {
	for _, lit := range []string{"true", "false", "null"} {
		if len(s)-i >= len(lit) && s[i:i+len(lit)] == lit {
			return i + len(lit)
		}
	}
	return -1
}
