package jsonscan

import "unicode/utf16"

// MaxDepth is encoding/json's nesting limit: deeper text is invalid.
const MaxDepth = 10000

// scanner is the grammar every scan of this package shares: the position in
// s and the rules for what may come next. The scans embed it and keep only
// what they build (values, lengths, depths).
type scanner struct {
	s string
	i int
	// quote, bslash: index of the next '"' / '\\' at or after the last
	// search (len(s) when none), kept by plainRun.
	quote, bslash int
}

// space moves past blanks.
func (sc *scanner) space() {
	for sc.i < len(sc.s) {
		switch sc.s[sc.i] {
		case ' ', '\t', '\n', '\r':
			sc.i++
		default:
			return
		}
	}
}

// kind is what the byte at a value's start says the value is.
type kind uint8

const (
	kindInvalid kind = iota
	kindObject
	kindArray
	kindString
	kindNumber
	kindTrue
	kindFalse
	kindNull
)

// valueKinds classifies a value by its first byte.
var valueKinds = func() (t [256]kind) {
	t['{'], t['['], t['"'], t['-'] = kindObject, kindArray, kindString, kindNumber
	for c := '0'; c <= '9'; c++ {
		t[c] = kindNumber
	}
	t['t'], t['f'], t['n'] = kindTrue, kindFalse, kindNull
	return t
}()

// valueKind classifies the value starting at sc.i (kindInvalid at the end
// of the text or on a byte no value starts with).
func (sc *scanner) valueKind() kind {
	if sc.i >= len(sc.s) {
		return kindInvalid
	}
	return valueKinds[sc.s[sc.i]]
}

// literal moves past lit (true, false, null). When the text differs it
// stops at the first wrong byte and returns false.
func (sc *scanner) literal(lit string) bool {
	if len(sc.s)-sc.i >= len(lit) && sc.s[sc.i:sc.i+len(lit)] == lit {
		sc.i += len(lit)
		return true
	}
	for k := 0; k < len(lit) && sc.i < len(sc.s) && sc.s[sc.i] == lit[k]; k++ {
		sc.i++
	}
	return false
}

// open moves past the '{' or '[' at sc.i and the blanks after it, and
// past close when the container is empty.
func (sc *scanner) open(close byte) (empty bool) {
	sc.i++
	sc.space()
	if sc.i < len(sc.s) && sc.s[sc.i] == close {
		sc.i++
		return true
	}
	return false
}

// atKey reports whether an object key (a string) starts at sc.i.
func (sc *scanner) atKey() bool { return sc.i < len(sc.s) && sc.s[sc.i] == '"' }

// colon moves past the ':' after an object key, with the blanks around it.
func (sc *scanner) colon() bool {
	sc.space()
	if sc.i >= len(sc.s) || sc.s[sc.i] != ':' {
		return false
	}
	sc.i++
	sc.space()
	return true
}

// next reads what follows a member or element: ',' (more follows) or close
// (the container ended); anything else is invalid (ok false).
func (sc *scanner) next(close byte) (more, ok bool) {
	sc.space()
	if sc.i >= len(sc.s) {
		return false, false
	}
	switch sc.s[sc.i] {
	case ',':
		sc.i++
		sc.space()
		return true, true
	case close:
		sc.i++
		return false, true
	}
	return false, false
}

// number is what a scan of the number grammar learned.
type number struct {
	start     int
	intDigits int  // digits before the point ("0" is one)
	simple    bool // an integer: no fraction, no exponent
	expDigits int  // start of the exponent's digits (after its sign), 0 when none
}

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at sc.i
// (its '-' or first digit). On a grammar error ok is false, sc.i is at the
// offending byte and where says where, in encoding/json's words.
func (sc *scanner) number() (n number, where string, ok bool) {
	n.start, n.simple = sc.i, true
	if sc.s[sc.i] == '-' {
		sc.i++
	}
	switch {
	case sc.i < len(sc.s) && sc.s[sc.i] == '0':
		sc.i++
		n.intDigits = 1
	case sc.i < len(sc.s) && '1' <= sc.s[sc.i] && sc.s[sc.i] <= '9':
		n.intDigits = sc.digits()
	default:
		return n, "in numeric literal", false
	}
	if sc.i < len(sc.s) && sc.s[sc.i] == '.' {
		sc.i++
		n.simple = false
		if sc.digits() == 0 {
			return n, "after decimal point in numeric literal", false
		}
	}
	if sc.i < len(sc.s) && (sc.s[sc.i] == 'e' || sc.s[sc.i] == 'E') {
		sc.i++
		n.simple = false
		if sc.i < len(sc.s) && (sc.s[sc.i] == '+' || sc.s[sc.i] == '-') {
			sc.i++
		}
		n.expDigits = sc.i
		if sc.digits() == 0 {
			return n, "in exponent of numeric literal", false
		}
	}
	return n, "", true
}

func (sc *scanner) digits() int {
	n := 0
	for sc.i < len(sc.s) && '0' <= sc.s[sc.i] && sc.s[sc.i] <= '9' {
		sc.i++
		n++
	}
	return n
}

// escape reads the escape sequence at sc.i (its backslash) and moves past
// it, returning the character it stands for. A \u escape of a UTF-16 high
// surrogate followed by the \u escape of a low one is one character; any
// other surrogate is lone: r is U+FFFD (what encoding/json decodes it to)
// and an escape after it stands alone. ok is false on a malformed escape,
// with sc.i inside it.
func (sc *scanner) escape() (r rune, lone, ok bool) {
	sc.i++
	if sc.i >= len(sc.s) {
		return 0, false, false
	}
	switch e := sc.s[sc.i]; e {
	case '"', '\\', '/':
		r = rune(e)
	case 'b':
		r = '\b'
	case 'f':
		r = '\f'
	case 'n':
		r = '\n'
	case 'r':
		r = '\r'
	case 't':
		r = '\t'
	case 'u':
		var hexOK bool
		if r, hexOK = hex4(sc.s, sc.i+1); !hexOK {
			return 0, false, false
		}
		sc.i += 4
		if utf16.IsSurrogate(r) {
			if sc.i+2 < len(sc.s) && sc.s[sc.i+1] == '\\' && sc.s[sc.i+2] == 'u' {
				if r2, ok := hex4(sc.s, sc.i+3); ok {
					if dec := utf16.DecodeRune(r, r2); dec != '\uFFFD' {
						sc.i += 6
						r = dec
					}
				}
			}
			if utf16.IsSurrogate(r) {
				r, lone = '\uFFFD', true
			}
		}
	default:
		return 0, false, false
	}
	sc.i++
	return r, lone, true
}

// hex4 reads the 4 hex digits of a \u escape at s[j:].
func hex4(s string, j int) (rune, bool) {
	if j+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[j : j+4]) {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
