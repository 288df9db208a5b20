package agentrun

import (
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Options.RawStates: a state attribute that is JSON text is kept as that
// text when storing it stores the same value as the parse path would
// (decode, redact, size check, json.Marshal). rawScanner decides that in one
// pass over the text, building no Go values; anything it is unsure of goes
// the parse path, which is the processor's and stays the reference.

// rawMaxDepth is the deepest state kept as text. It is below the store's
// MaxJSONDepth (900), past which the store keeps a too-deep value as the
// text of its encoding: deeper states take the parse path so that text is
// the same as before.
const rawMaxDepth = 512

// rawMaxNumber bounds the length of a number kept as text. Longer numbers,
// and exponents beyond ±rawMaxExp, take the parse path (float64): the
// PostgreSQL numeric type inside JSONB refuses exponents beyond ±1000 that
// strconv.ParseFloat silently turns into 0.
const (
	rawMaxNumber = 40
	rawMaxExp    = 300
)

// rawDupMapAt is the number of keys from which an object's duplicate check
// uses a map instead of comparing with each earlier key.
const rawDupMapAt = 32

// readRawState returns the JSON text of the first state attribute present
// on the span, when it may be stored as it is: the attribute is a string
// the parse path would decode, and rawScanner accepts it with an encoding
// of at most max bytes (max <= 0: no limit). ok is false when the parse
// path must run (also when no attribute is present).
func (b *traceBuild) readRawState(a spanAttrs, sources []stateSource) (string, bool) {
	for _, src := range sources {
		v, ok := a.get(src.key)
		if !ok {
			continue
		}
		if v.Type() != pcommon.ValueTypeStr {
			return "", false
		}
		mime := ""
		if src.mime != numAttrKeys {
			if m, ok := a.get(src.mime); ok {
				mime = m.AsString()
			}
		}
		s := clean(v.Str())
		if !wouldDecode(s, mime) || src.unwrap != "" && maybeTraceloopJSEnvelope(s) {
			return "", false // kept as a JSON string, or unwrapped, by the parse path
		}
		sc := rawScanner{s: s, red: b.m.red, unwrap: src.unwrap}
		text, encLen, ok := sc.scan()
		if !ok || (b.m.opts.MaxFieldBytes > 0 && encLen > b.m.opts.MaxFieldBytes) {
			return "", false
		}
		return text, true
	}
	return "", false
}

// wouldDecode reports whether parseJSONText tries to decode s as JSON.
func wouldDecode(s, mime string) bool {
	mime = strings.ToLower(strings.TrimSpace(mime))
	if strings.HasPrefix(mime, "text/plain") {
		return false
	}
	return strings.Contains(mime, "json") || looksLikeJSON(s) || mayBeJSONScalar(s)
}

// rawScanner checks that s is JSON whose text can stand for its decoded
// value, and measures the length json.Marshal gives that value (what the
// size bound is measured on). It refuses, so the parse path runs, when the
// text and the stored value could differ: syntax errors (decodeJSON fails
// too), nesting beyond rawMaxDepth, a duplicate key (decoding keeps the
// last; JSON readers differ), a key the redactor matches, a \u escape of a
// lone surrogate (decoding makes it U+FFFD; PostgreSQL refuses it), a number
// out of float64 range or beyond rawMaxNumber / rawMaxExp, invalid UTF-8.
type rawScanner struct {
	s   string
	i   int
	red *redactor
	enc int // json.Marshal length of what was scanned so far
	// unwrap names the top-level key whose value is the state (traceloop's
	// entity envelopes); inner is that value's text and length when found.
	unwrap   string
	inner    string
	innerEnc int
	hasInner bool
	keys     []string // keys of the open objects, for the duplicate check
	numBuf   []byte
}

// scan returns the text of the state (s without surrounding blanks, or the
// unwrapped value) and its encoded length.
func (r *rawScanner) scan() (text string, encLen int, ok bool) {
	r.space()
	start := r.i
	if !r.value(0) {
		return "", 0, false
	}
	end := r.i
	r.space()
	if r.i != len(r.s) {
		return "", 0, false
	}
	if r.hasInner {
		return r.inner, r.innerEnc, true
	}
	return r.s[start:end], r.enc, true
}

func (r *rawScanner) space() {
	for r.i < len(r.s) {
		switch r.s[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// value scans the value at r.i; depth is the nesting of its container.
func (r *rawScanner) value(depth int) bool {
	if r.i >= len(r.s) {
		return false
	}
	switch c := r.s[r.i]; {
	case c == '{':
		return r.object(depth + 1)
	case c == '[':
		return r.array(depth + 1)
	case c == '"':
		_, ok := r.str(false)
		return ok
	case c == '-' || '0' <= c && c <= '9':
		return r.number()
	case c == 't':
		return r.literal("true")
	case c == 'f':
		return r.literal("false")
	case c == 'n':
		return r.literal("null")
	}
	return false
}

func (r *rawScanner) literal(lit string) bool {
	if !strings.HasPrefix(r.s[r.i:], lit) {
		return false
	}
	r.i += len(lit)
	r.enc += len(lit)
	return true
}

func (r *rawScanner) object(depth int) bool {
	if depth > rawMaxDepth {
		return false
	}
	r.i++ // {
	r.enc += 2
	r.space()
	if r.i < len(r.s) && r.s[r.i] == '}' {
		r.i++
		return true
	}
	base := len(r.keys)
	defer func() { r.keys = r.keys[:base] }()
	var seen map[string]struct{} // from rawDupMapAt keys on
	for n := 0; ; n++ {
		if r.i >= len(r.s) || r.s[r.i] != '"' {
			return false
		}
		k, ok := r.str(true)
		if !ok || r.red.match(k) {
			return false
		}
		if seen != nil {
			if _, dup := seen[k]; dup {
				return false
			}
			seen[k] = struct{}{}
		} else {
			for _, prev := range r.keys[base:] {
				if prev == k {
					return false
				}
			}
			r.keys = append(r.keys, k)
			if n+1 == rawDupMapAt {
				seen = make(map[string]struct{}, 2*rawDupMapAt)
				for _, prev := range r.keys[base:] {
					seen[prev] = struct{}{}
				}
			}
		}
		r.space()
		if r.i >= len(r.s) || r.s[r.i] != ':' {
			return false
		}
		r.i++
		r.enc++
		r.space()
		vStart, vEnc := r.i, r.enc
		if !r.value(depth) {
			return false
		}
		if depth == 1 && r.unwrap != "" && k == r.unwrap {
			r.inner, r.innerEnc, r.hasInner = r.s[vStart:r.i], r.enc-vEnc, true
		}
		if more, ok := r.next('}'); !ok || !more {
			return ok
		}
	}
}

func (r *rawScanner) array(depth int) bool {
	if depth > rawMaxDepth {
		return false
	}
	r.i++ // [
	r.enc += 2
	r.space()
	if r.i < len(r.s) && r.s[r.i] == ']' {
		r.i++
		return true
	}
	for {
		if !r.value(depth) {
			return false
		}
		if more, ok := r.next(']'); !ok || !more {
			return ok
		}
	}
}

// next reads what follows a member or element: ',' (more follows, counted
// in the encoding) or close (the container ended); anything else is
// invalid (ok false).
func (r *rawScanner) next(close byte) (more, ok bool) {
	r.space()
	if r.i >= len(r.s) {
		return false, false
	}
	switch r.s[r.i] {
	case ',':
		r.i++
		r.enc++
		r.space()
		return true, true
	case close:
		r.i++
		return false, true
	}
	return false, false
}

// str scans the string at r.i (its opening quote), adding the length
// json.Marshal gives its decoded value. With key set it returns the decoded
// string (a substring of s unless it has escapes).
func (r *rawScanner) str(key bool) (string, bool) {
	quote := r.i
	r.i++
	start := r.i
	n := 2 // the quotes
	escapes := false
	for r.i < len(r.s) {
		// The common bytes first: printable ASCII that json.Marshal copies.
		j := rawPlainRun(r.s, r.i)
		n += j - r.i
		r.i = j
		if r.i >= len(r.s) {
			break
		}
		c := r.s[r.i]
		switch {
		case c == '"':
			r.i++
			r.enc += n
			if !key {
				return "", true
			}
			if !escapes {
				return r.s[start : r.i-1], true
			}
			d := jsonDecoder{s: r.s, i: quote}
			k, err := d.str()
			return k, err == nil
		case c < ' ':
			return "", false
		case c == '\\':
			escapes = true
			l, ok := r.escape()
			if !ok {
				return "", false
			}
			n += l
		case c < utf8.RuneSelf:
			n += asciiEncLen(c)
			r.i++
		default:
			c, size := utf8.DecodeRuneInString(r.s[r.i:])
			if c == utf8.RuneError && size == 1 {
				return "", false
			}
			n += runeEncLen(c)
			r.i += size
		}
	}
	return "", false
}

// escape scans the escape at r.i (its backslash) and returns the
// json.Marshal length of the character it stands for.
func (r *rawScanner) escape() (int, bool) {
	r.i++
	if r.i >= len(r.s) {
		return 0, false
	}
	e := r.s[r.i]
	r.i++
	switch e {
	case '"', '\\', 'b', 'f', 'n', 'r', 't':
		return 2, true
	case '/':
		return 1, true
	case 'u':
	default:
		return 0, false
	}
	c, ok := hex4(r.s, r.i)
	if !ok {
		return 0, false
	}
	r.i += 4
	if utf16.IsSurrogate(c) {
		// Only a high surrogate followed by the \u escape of a low one.
		if r.i+6 > len(r.s) || r.s[r.i] != '\\' || r.s[r.i+1] != 'u' {
			return 0, false
		}
		c2, ok := hex4(r.s, r.i+2)
		if !ok {
			return 0, false
		}
		if c = utf16.DecodeRune(c, c2); c == utf8.RuneError {
			return 0, false
		}
		r.i += 6
	}
	if c < utf8.RuneSelf {
		return asciiEncLen(byte(c)), true
	}
	return runeEncLen(c), true
}

// plainASCII: the bytes json.Marshal writes as they are inside a string,
// and that end nothing in the scan.
var plainASCII = func() (t [256]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// rawPlainRun returns the index of the first byte at or after i that is
// not plainASCII, else len(s), testing 8 bytes per step. Per lane: a byte
// >= 0x80 has its high bit; one below ' ' borrows in x - ' '; one equal to
// c makes x ^ c zero, which borrows in v - 1. A borrow can mark lanes above
// a real hit, never below, so the lowest marked lane is exact (as in
// plainRun and ctlRun).
func rawPlainRun(s string, i int) int {
	for ; i+8 <= len(s); i += 8 {
		w := s[i : i+8] // one bounds check; the loads combine into one
		x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
			uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
		q := x ^ (swarOnes * '"')
		bs := x ^ (swarOnes * '\\')
		lt := x ^ (swarOnes * '<')
		gt := x ^ (swarOnes * '>')
		amp := x ^ (swarOnes * '&')
		m := x | (x-swarOnes*' ')&^x |
			(q-swarOnes)&^q | (bs-swarOnes)&^bs | (lt-swarOnes)&^lt |
			(gt-swarOnes)&^gt | (amp-swarOnes)&^amp
		if m &= swarHigh; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for i < len(s) && plainASCII[s[i]] {
		i++
	}
	return i
}

// asciiEncLen is the length json.Marshal (HTML-escaping) writes for c.
func asciiEncLen(c byte) int {
	switch c {
	case '"', '\\', '\b', '\f', '\n', '\r', '\t':
		return 2
	case '<', '>', '&':
		return 6 // \u003c ...
	}
	if c < ' ' {
		return 6 // \u00XX
	}
	return 1
}

// runeEncLen is the length json.Marshal writes for a valid non-ASCII rune.
func runeEncLen(c rune) int {
	if c == '\u2028' || c == '\u2029' {
		return 6
	}
	return utf8.RuneLen(c)
}

// number scans a number and adds the length json.Marshal gives its float64.
func (r *rawScanner) number() bool {
	start := r.i
	if r.s[r.i] == '-' {
		r.i++
	}
	digits := 0
	switch {
	case r.i < len(r.s) && r.s[r.i] == '0':
		r.i++
		digits = 1
	case r.i < len(r.s) && '1' <= r.s[r.i] && r.s[r.i] <= '9':
		digits = r.digits()
	default:
		return false
	}
	simple := true
	if r.i < len(r.s) && r.s[r.i] == '.' {
		r.i++
		simple = false
		if r.digits() == 0 {
			return false
		}
	}
	if r.i < len(r.s) && (r.s[r.i] == 'e' || r.s[r.i] == 'E') {
		r.i++
		simple = false
		if r.i < len(r.s) && (r.s[r.i] == '+' || r.s[r.i] == '-') {
			r.i++
		}
		expStart := r.i
		if r.digits() == 0 {
			return false
		}
		if exp, err := strconv.Atoi(r.s[expStart:r.i]); err != nil || exp > rawMaxExp {
			return false
		}
	}
	text := r.s[start:r.i]
	if len(text) > rawMaxNumber {
		return false
	}
	// An integer of at most 15 digits is exact in a float64 and printed
	// back digit for digit.
	if simple && digits <= 15 {
		r.enc += len(text)
		return true
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return false // out of range: decoding fails, the text is kept as a string
	}
	r.numBuf = appendJSONFloat(r.numBuf[:0], f)
	r.enc += len(r.numBuf)
	return true
}

func (r *rawScanner) digits() int {
	n := 0
	for r.i < len(r.s) && '0' <= r.s[r.i] && r.s[r.i] <= '9' {
		r.i++
		n++
	}
	return n
}

// appendJSONFloat formats f as encoding/json does (ES6 number to string).
func appendJSONFloat(b []byte, f float64) []byte {
	abs := f
	if abs < 0 {
		abs = -abs
	}
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 -> e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}
