package jsonscan

import (
	"strconv"
	"unicode/utf8"
)

// Verbatim decides whether JSON text can be stored as it is in place of its
// decoded value (Decode, then json.Marshal), and measures the length
// json.Marshal gives that value, in one pass that builds no Go values. It
// refuses, so the caller decodes instead, whenever the text and the value
// could differ: syntax errors (Decode fails too), nesting beyond MaxDepth, a
// duplicate key (decoding keeps the last; JSON readers differ), a key
// Keys matches, a \u escape of a lone surrogate (decoding makes it
// U+FFFD; PostgreSQL refuses it), a number out of float64 range, longer than
// MaxNumber bytes or with an exponent beyond ±MaxExponent, invalid UTF-8.
type Verbatim struct {
	MaxDepth    int
	MaxNumber   int // bytes of a number's text
	MaxExponent int
	// Keys, when set, refuses a text with an object key it matches.
	Keys KeyMatcher
	// Unwrap names the top-level key whose value is the text wanted
	// (traceloop's entity envelopes), when the text is an object that has it.
	Unwrap string
}

// KeyMatcher tells the keys Verbatim refuses (redact.Keys: their values
// are replaced, so the text cannot be kept). An interface rather than a
// func: a method value added a wrapper call per key.
type KeyMatcher interface {
	Match(key string) bool
}

// dupMapAt is the number of keys from which an object's duplicate check
// uses a map instead of comparing with each earlier key.
const dupMapAt = 32

// Scan returns the text of s's value (s without surrounding blanks, or the
// Unwrap member's value) and the length json.Marshal gives it; ok is false
// when the text must be decoded instead.
func (vb Verbatim) Scan(s string) (text string, encLen int, ok bool) {
	m := measure{scanner: scanner{s: s}, rule: vb}
	m.space()
	start := m.i
	if !m.value(0) {
		return "", 0, false
	}
	end := m.i
	m.space()
	if m.i != len(m.s) {
		return "", 0, false
	}
	if m.hasInner {
		return m.inner, m.innerEnc, true
	}
	return m.s[start:end], m.enc, true
}

// measure is one Verbatim scan.
type measure struct {
	scanner
	rule Verbatim // a copy: a pointer would move the caller's rule to the heap
	enc  int      // json.Marshal length of what was scanned so far
	// inner is the Unwrap member's text and length, when found.
	inner    string
	innerEnc int
	hasInner bool
	keys     []string // keys of the open objects, for the duplicate check
	numBuf   []byte
}

// value scans the value at m.i; depth is the nesting of its container.
func (m *measure) value(depth int) bool {
	switch m.valueKind() {
	case kindObject:
		return m.object(depth + 1)
	case kindArray:
		return m.array(depth + 1)
	case kindString:
		_, ok := m.str(false)
		return ok
	case kindNumber:
		return m.number()
	case kindTrue:
		return m.literalEnc("true")
	case kindFalse:
		return m.literalEnc("false")
	case kindNull:
		return m.literalEnc("null")
	}
	return false
}

func (m *measure) literalEnc(lit string) bool {
	m.enc += len(lit)
	return m.literal(lit)
}

func (m *measure) object(depth int) bool {
	if depth > m.rule.MaxDepth {
		return false
	}
	m.enc += 2
	if m.open('}') {
		return true
	}
	base := len(m.keys)
	defer func() { m.keys = m.keys[:base] }()
	var seen map[string]struct{} // from dupMapAt keys on
	for n := 0; ; n++ {
		if !m.atKey() {
			return false
		}
		k, ok := m.str(true)
		if !ok || m.rule.Keys != nil && m.rule.Keys.Match(k) {
			return false
		}
		if seen != nil {
			if _, dup := seen[k]; dup {
				return false
			}
			seen[k] = struct{}{}
		} else {
			for _, prev := range m.keys[base:] {
				if prev == k {
					return false
				}
			}
			m.keys = append(m.keys, k)
			if n+1 == dupMapAt {
				seen = make(map[string]struct{}, 2*dupMapAt)
				for _, prev := range m.keys[base:] {
					seen[prev] = struct{}{}
				}
			}
		}
		if !m.colon() {
			return false
		}
		m.enc++
		vStart, vEnc := m.i, m.enc
		if !m.value(depth) {
			return false
		}
		if depth == 1 && m.rule.Unwrap != "" && k == m.rule.Unwrap {
			m.inner, m.innerEnc, m.hasInner = m.s[vStart:m.i], m.enc-vEnc, true
		}
		if more, ok := m.next('}'); !ok || !more {
			return ok
		}
	}
}

func (m *measure) array(depth int) bool {
	if depth > m.rule.MaxDepth {
		return false
	}
	m.enc += 2
	if m.open(']') {
		return true
	}
	for {
		if !m.value(depth) {
			return false
		}
		if more, ok := m.next(']'); !ok || !more {
			return ok
		}
	}
}

// next is scanner.next, counting the comma in the encoding.
func (m *measure) next(close byte) (more, ok bool) {
	more, ok = m.scanner.next(close)
	if more {
		m.enc++
	}
	return more, ok
}

// str scans the string at m.i (its opening quote), adding the length
// json.Marshal gives its decoded value. With key set it returns the decoded
// string (a substring of s unless it has escapes).
func (m *measure) str(key bool) (string, bool) {
	quote := m.i
	m.i++
	start := m.i
	n := 2 // the quotes
	escapes := false
	for m.i < len(m.s) {
		// The common bytes first: printable ASCII that json.Marshal copies.
		j := marshalPlainRun(m.s, m.i)
		n += j - m.i
		m.i = j
		if m.i >= len(m.s) {
			break
		}
		c := m.s[m.i]
		switch {
		case c == '"':
			m.i++
			m.enc += n
			if !key {
				return "", true
			}
			if !escapes {
				return m.s[start : m.i-1], true
			}
			d := decoder{scanner: scanner{s: m.s, i: quote}}
			k, err := d.str()
			return k, err == nil
		case c < ' ':
			return "", false
		case c == '\\':
			escapes = true
			r, lone, ok := m.escape()
			if !ok || lone {
				return "", false
			}
			n += runeEncLen(r)
		case c < utf8.RuneSelf:
			n += runeEncLen(rune(c))
			m.i++
		default:
			r, size := utf8.DecodeRuneInString(m.s[m.i:])
			if r == utf8.RuneError && size == 1 {
				return "", false
			}
			n += runeEncLen(r)
			m.i += size
		}
	}
	return "", false
}

// number scans a number and adds the length json.Marshal gives its float64.
func (m *measure) number() bool {
	num, _, ok := m.scanner.number()
	if !ok {
		return false
	}
	if num.expDigits > 0 {
		if exp, err := strconv.Atoi(m.s[num.expDigits:m.i]); err != nil || exp > m.rule.MaxExponent {
			return false
		}
	}
	text := m.s[num.start:m.i]
	if len(text) > m.rule.MaxNumber {
		return false
	}
	// An integer of at most 15 digits is exact in a float64 and printed
	// back digit for digit.
	if num.simple && num.intDigits <= 15 {
		m.enc += len(text)
		return true
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return false // out of range: decoding fails
	}
	m.numBuf = appendFloat(m.numBuf[:0], f)
	m.enc += len(m.numBuf)
	return true
}
