package agentrun

import (
	"errors"
	"math/bits"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeJSON parses s into the value json.Unmarshal(&any) would return
// (map[string]any, []any, string, float64, bool, nil) and fails exactly
// where it would fail (syntax, nesting beyond 10000, numbers out of float64
// range). It is one pass over the text: encoding/json validates the whole
// input first and decodes it in a second pass, which made parsing the
// states the largest cost of the mapping. Strings without escapes are
// substrings of s (no copy). FuzzDecodeJSON compares the two.
func decodeJSON(s string) (any, error) { return decodeJSONText(s, utf8Check) }

// utf8Mode is what the decoder knows of its text's UTF-8.
type utf8Mode uint8

const (
	// utf8Check: unknown; an invalid byte in a string becomes U+FFFD, as
	// in encoding/json.
	utf8Check utf8Mode = iota
	// utf8Valid: known valid (clean made it so), so strings are not checked.
	utf8Valid
	// utf8Strict: unknown, and an invalid byte fails the decode
	// (errInvalidUTF8), so the caller can clean the text and start again.
	// ASCII text is never checked twice; at the first byte >= 0x80 the
	// rest of the text is checked at once and the mode becomes utf8Valid.
	utf8Strict
)

var errInvalidUTF8 = errors.New("json: invalid UTF-8 in string")

// decodeJSONText is decodeJSON with a choice of UTF-8 handling.
func decodeJSONText(s string, mode utf8Mode) (any, error) {
	v, _, err := decodeJSONDepth(s, mode)
	return v, err
}

// decodeJSONDepth is decodeJSONText that also returns the deepest nesting
// of objects and arrays it decoded.
func decodeJSONDepth(s string, mode utf8Mode) (any, int, error) {
	d := jsonDecoder{s: s, utf8: mode}
	d.takeStack()
	defer d.returnStack()
	d.space()
	v, err := d.value(0)
	if err != nil {
		return nil, d.depth, err
	}
	d.space()
	if d.i != len(d.s) {
		return nil, d.depth, d.syntax("after top-level value")
	}
	return v, d.depth, nil
}

// decodeFields decodes s as json.Unmarshal does into a struct whose fields
// are all of type any, tagged names[i], storing field i in out[i]: keys
// match names exactly or case-folded (strings.EqualFold is
// encoding/json's folding), a repeated key keeps its last value, other
// keys are checked for syntax only (their numbers are not converted, so
// one out of float64 range there is no error), null sets nothing, and any
// other non-object is an error. It saves the reflection of the struct
// decode for small objects parsed on every span (OpenInference metadata).
func decodeFields(s string, names []string, out []any) error {
	d := jsonDecoder{s: s}
	d.takeStack()
	defer d.returnStack()
	d.space()
	if d.i < len(d.s) && d.s[d.i] == 'n' {
		if err := d.literal("null"); err != nil {
			return err
		}
	} else {
		if d.i >= len(d.s) || d.s[d.i] != '{' {
			// encoding/json reports the type mismatch after checking the
			// syntax; either way the caller gets an error.
			return errors.New("json: cannot unmarshal non-object into a struct")
		}
		if err := d.fields(names, out); err != nil {
			return err
		}
	}
	d.space()
	if d.i != len(d.s) {
		return d.syntax("after top-level value")
	}
	return nil
}

// fields is object for decodeFields, at depth 1.
func (d *jsonDecoder) fields(names []string, out []any) error {
	d.i++ // {
	d.space()
	if d.i < len(d.s) && d.s[d.i] == '}' {
		d.i++
		return nil
	}
	for {
		if d.i >= len(d.s) || d.s[d.i] != '"' {
			return d.syntax("looking for beginning of object key string")
		}
		k, err := d.str()
		if err != nil {
			return err
		}
		d.space()
		if d.i >= len(d.s) || d.s[d.i] != ':' {
			return d.syntax("after object key")
		}
		d.i++
		d.space()
		field := -1
		for j, n := range names {
			if strings.EqualFold(k, n) {
				field = j
				break
			}
		}
		d.skip = field < 0
		v, err := d.value(1)
		d.skip = false
		if err != nil {
			return err
		}
		if field >= 0 {
			out[field] = v
		}
		if more, err := d.next('}', "after object key:value pair"); err != nil || !more {
			return err
		}
	}
}

// jsonMaxDepth is encoding/json's nesting limit.
const jsonMaxDepth = 10000

var errJSONDepth = errors.New("json: exceeded max nesting depth")

type jsonDecoder struct {
	s    string
	i    int
	utf8 utf8Mode
	// skip: the value is only checked (decodeFields' unknown keys), so
	// numbers are not converted.
	skip bool
	// quote, bslash: index of the next '"' / '\\' at or after the last
	// search (len(s) when none), kept by plainRun.
	quote, bslash int
	stack         []any // elements of the open arrays (array)
	pooled        *[]any
	depth         int // deepest object or array opened
}

// decodeStacks recycles the decoders' element stacks: a stack per decode
// cost more allocations than exact-size arrays saved.
var decodeStacks = sync.Pool{New: func() any { return new([]any) }}

// maxPooledStack bounds the stack a pool keeps (elements), so one huge
// array does not stay allocated.
const maxPooledStack = 1 << 12

func (d *jsonDecoder) takeStack() {
	d.pooled = decodeStacks.Get().(*[]any)
	d.stack = (*d.pooled)[:0]
}

func (d *jsonDecoder) returnStack() {
	// Past len everything was cleared when its array closed; below it are
	// the open arrays' values of a decode that failed.
	clear(d.stack)
	if cap(d.stack) <= maxPooledStack {
		*d.pooled = d.stack[:0]
		decodeStacks.Put(d.pooled)
	}
}

func (d *jsonDecoder) syntax(what string) error {
	if d.i >= len(d.s) {
		return errors.New("json: unexpected end of input")
	}
	return errors.New("json: invalid character " + strconv.QuoteRune(rune(d.s[d.i])) + " " + what)
}

func (d *jsonDecoder) space() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *jsonDecoder) value(depth int) (any, error) {
	if d.i >= len(d.s) {
		return nil, d.syntax("looking for beginning of value")
	}
	switch c := d.s[d.i]; {
	case c == '{':
		return d.object(depth + 1)
	case c == '[':
		return d.array(depth + 1)
	case c == '"':
		return d.str()
	case c == '-' || '0' <= c && c <= '9':
		return d.number()
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	}
	return nil, d.syntax("looking for beginning of value")
}

func (d *jsonDecoder) literal(lit string) error {
	if !strings.HasPrefix(d.s[d.i:], lit) {
		for k := 0; k < len(lit) && d.i < len(d.s) && d.s[d.i] == lit[k]; k++ {
			d.i++ // point the error at the first wrong byte
		}
		return d.syntax("in literal " + lit)
	}
	d.i += len(lit)
	return nil
}

func (d *jsonDecoder) object(depth int) (any, error) {
	if depth > jsonMaxDepth {
		return nil, errJSONDepth
	}
	d.depth = max(d.depth, depth)
	d.i++ // {
	m := map[string]any{}
	d.space()
	if d.i < len(d.s) && d.s[d.i] == '}' {
		d.i++
		return m, nil
	}
	for {
		if d.i >= len(d.s) || d.s[d.i] != '"' {
			return nil, d.syntax("looking for beginning of object key string")
		}
		k, err := d.str()
		if err != nil {
			return nil, err
		}
		d.space()
		if d.i >= len(d.s) || d.s[d.i] != ':' {
			return nil, d.syntax("after object key")
		}
		d.i++
		d.space()
		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		m[k] = v // a repeated key keeps its last value, as in encoding/json
		if more, err := d.next('}', "after object key:value pair"); err != nil {
			return nil, err
		} else if !more {
			return m, nil
		}
	}
}

func (d *jsonDecoder) array(depth int) (any, error) {
	if depth > jsonMaxDepth {
		return nil, errJSONDepth
	}
	d.depth = max(d.depth, depth)
	d.i++ // [
	d.space()
	if d.i < len(d.s) && d.s[d.i] == ']' {
		d.i++
		return []any{}, nil
	}
	// Elements collect on the decoder's stack (shared by the open arrays)
	// and are copied once into a slice of their exact length, rather than
	// grown by append.
	base := len(d.stack)
	for {
		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		d.stack = append(d.stack, v)
		more, err := d.next(']', "after array element")
		if err != nil {
			return nil, err
		}
		if !more {
			a := make([]any, len(d.stack)-base)
			copy(a, d.stack[base:])
			clear(d.stack[base:]) // the stack holds only open arrays' values
			d.stack = d.stack[:base]
			return a, nil
		}
	}
}

// next reads what follows a member or element: ',' (more follows) or
// close (the container ended); anything else is the syntax error where,
// worded as encoding/json words it.
func (d *jsonDecoder) next(close byte, where string) (more bool, err error) {
	d.space()
	if d.i >= len(d.s) {
		return false, d.syntax(where)
	}
	switch d.s[d.i] {
	case ',':
		d.i++
		d.space()
		return true, nil
	case close:
		d.i++
		return false, nil
	}
	return false, d.syntax(where)
}

// str decodes the string at d.i (at its opening quote). Runs of plain
// bytes are found 8 at a time (plainRun); a string without escapes is a
// substring of d.s, one with escapes is built from its runs.
func (d *jsonDecoder) str() (string, error) {
	d.i++
	start := d.i
	var b []byte // nil until an escape or an invalid byte needs a copy
	for {
		d.i = d.plainRun(d.utf8 != utf8Valid)
		if d.i >= len(d.s) {
			return "", d.syntax("in string literal")
		}
		switch c := d.s[d.i]; {
		case c == '"':
			d.i++
			if b == nil {
				return d.s[start : d.i-1], nil
			}
			return string(append(b, d.s[start:d.i-1]...)), nil
		case c < ' ':
			return "", d.syntax("in string literal")
		case c == '\\':
			if b == nil {
				b = make([]byte, 0, d.i-start+64)
			}
			b = append(b, d.s[start:d.i]...)
			var err error
			if b, err = d.escape(b); err != nil {
				return "", err
			}
			start = d.i
		case d.utf8 == utf8Strict: // the first byte >= 0x80
			// One check of the rest of the text, then no more stops:
			// an invalid byte outside a string fails the decode anyway.
			if !utf8.ValidString(d.s[d.i:]) {
				return "", errInvalidUTF8
			}
			d.utf8 = utf8Valid
		default: // a byte >= 0x80 of text not known to be valid UTF-8
			r, size := utf8.DecodeRuneInString(d.s[d.i:])
			if r == utf8.RuneError && size == 1 {
				if b == nil {
					b = make([]byte, 0, d.i-start+64)
				}
				b = append(b, d.s[start:d.i]...)
				b = utf8.AppendRune(b, r) // an invalid byte becomes U+FFFD
				start = d.i + 1
			}
			d.i += size
		}
	}
}

// escape appends the character of the escape sequence at d.i (at its
// backslash) to b and moves past it.
func (d *jsonDecoder) escape(b []byte) ([]byte, error) {
	d.i++
	if d.i >= len(d.s) {
		return b, d.syntax("in string escape code")
	}
	switch e := d.s[d.i]; e {
	case '"', '\\', '/':
		b = append(b, e)
	case 'b':
		b = append(b, '\b')
	case 'f':
		b = append(b, '\f')
	case 'n':
		b = append(b, '\n')
	case 'r':
		b = append(b, '\r')
	case 't':
		b = append(b, '\t')
	case 'u':
		r, ok := hex4(d.s, d.i+1)
		if !ok {
			return b, d.syntax("in \\u hexadecimal character escape")
		}
		d.i += 4
		if utf16.IsSurrogate(r) {
			// A pair when a \u low surrogate follows; anything
			// else is U+FFFD and the next escape stands alone.
			if d.i+2 < len(d.s) && d.s[d.i+1] == '\\' && d.s[d.i+2] == 'u' {
				if r2, ok := hex4(d.s, d.i+3); ok {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						d.i += 6
						r = dec
					}
				}
			}
			if utf16.IsSurrogate(r) {
				r = utf8.RuneError
			}
		}
		b = utf8.AppendRune(b, r)
	default:
		return b, d.syntax("in string escape code")
	}
	d.i++
	return b, nil
}

// SWAR constants: a byte lane of ones, and the high bit of every lane.
const (
	swarOnes = 0x0101010101010101
	swarHigh = 0x8080808080808080
)

// plainRun returns the index of the first byte at or after d.i that ends a
// run of plain string bytes: '"', '\\', a control byte, or (if stopHigh)
// a byte >= 0x80. In each 8-byte lane, x-1 borrows into the high bit
// exactly when the lane is zero (x = byte ^ '"', byte ^ '\\'); see ctlRun.
// Past 16 bytes, the next '"' and '\\' are found with the vectorised
// strings.IndexByte and remembered, so each is looked for once however many
// strings and escapes lie before it (d.i only grows; both start at 0, below
// any d.i inside a string). The bytes before them are tested 8 per step
// (ctlRun).
func (d *jsonDecoder) plainRun(stopHigh bool) int {
	i := d.i
	var high uint64
	if stopHigh {
		high = swarHigh
	}
	// Most strings (keys, short values) end within 16 bytes: test those
	// in line for all four stops before calling IndexByte.
	for k := 0; k < 2 && i+8 <= len(d.s); k, i = k+1, i+8 {
		w := d.s[i : i+8] // one bounds check; the loads combine into one
		x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
			uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
		q := x ^ (swarOnes * '"')
		bs := x ^ (swarOnes * '\\')
		if m := ((q-swarOnes)&^q|(bs-swarOnes)&^bs|(x-swarOnes*' ')&^x)&swarHigh | x&high; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	if d.quote < i {
		d.quote = indexFrom(d.s, i, '"')
	}
	if d.bslash < i {
		d.bslash = indexFrom(d.s, i, '\\')
	}
	return ctlRun(d.s, i, min(d.quote, d.bslash), stopHigh)
}

// indexFrom is the index of the first c in s at or after i, else len(s).
func indexFrom(s string, i int, c byte) int {
	if k := strings.IndexByte(s[i:], c); k >= 0 {
		return i + k
	}
	return len(s)
}

// ctlRun returns the index of the first control byte (or, if stopHigh,
// byte >= 0x80) in s[i:end], else end. Per 8-byte lane, x - 0x20 borrows
// into the lane's high bit when the lane is below 0x20; masked by the
// lane's own high bit being clear, only lanes above a real hit can be
// marked wrongly, so the lowest marked lane is exact.
func ctlRun(s string, i, end int, stopHigh bool) int {
	var high uint64
	if stopHigh {
		high = swarHigh
	}
	for ; i+8 <= end; i += 8 {
		w := s[i : i+8] // one bounds check; the loads combine into one
		x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
			uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
		if m := (x-swarOnes*' ')&^x&swarHigh | x&high; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < end; i++ {
		if c := s[i]; c < ' ' || c >= utf8.RuneSelf && stopHigh {
			return i
		}
	}
	return end
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

// number scans the JSON number grammar, then converts like encoding/json:
// strconv.ParseFloat, an error when out of float64 range.
func (d *jsonDecoder) number() (any, error) {
	start := d.i
	if d.s[d.i] == '-' {
		d.i++
	}
	switch {
	case d.i < len(d.s) && d.s[d.i] == '0':
		d.i++
	case d.i < len(d.s) && '1' <= d.s[d.i] && d.s[d.i] <= '9':
		d.digits()
	default:
		return nil, d.syntax("in numeric literal")
	}
	if d.i < len(d.s) && d.s[d.i] == '.' {
		d.i++
		if d.digits() == 0 {
			return nil, d.syntax("after decimal point in numeric literal")
		}
	}
	if d.i < len(d.s) && (d.s[d.i] == 'e' || d.s[d.i] == 'E') {
		d.i++
		if d.i < len(d.s) && (d.s[d.i] == '+' || d.s[d.i] == '-') {
			d.i++
		}
		if d.digits() == 0 {
			return nil, d.syntax("in exponent of numeric literal")
		}
	}
	if d.skip {
		return nil, nil
	}
	f, err := strconv.ParseFloat(d.s[start:d.i], 64)
	if err != nil {
		return nil, errors.New("json: cannot unmarshal number " + d.s[start:d.i] + " into a float64")
	}
	return f, nil
}

func (d *jsonDecoder) digits() int {
	n := 0
	for d.i < len(d.s) && '0' <= d.s[d.i] && d.s[d.i] <= '9' {
		d.i++
		n++
	}
	return n
}
