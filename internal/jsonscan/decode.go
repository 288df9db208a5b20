package jsonscan

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// UTF8Mode is what Decode knows of its text's UTF-8.
type UTF8Mode uint8

const (
	// UTF8Replace: unknown; an invalid byte in a string becomes U+FFFD, as
	// in encoding/json.
	UTF8Replace UTF8Mode = iota
	// UTF8Valid: known valid (the caller made it so), so strings are not
	// checked.
	UTF8Valid
	// UTF8Strict: unknown, and an invalid byte fails the decode
	// (ErrInvalidUTF8), so the caller can clean the text and start again.
	// ASCII text is never checked twice; at the first byte >= 0x80 the
	// rest of the text is checked at once and the mode becomes UTF8Valid.
	UTF8Strict
)

// ErrInvalidUTF8 is Decode's error for invalid UTF-8 in UTF8Strict mode.
var ErrInvalidUTF8 = errors.New("json: invalid UTF-8 in string")

// ErrTooDeep is Decode's error for nesting beyond MaxDepth (Depth tells
// whether the text is valid all the same).
var ErrTooDeep = errors.New("json: exceeded max nesting depth")

// Decode parses s into the value json.Unmarshal(&any) would return
// (map[string]any, []any, string, float64, bool, nil) and fails exactly
// where it would fail (syntax, nesting beyond MaxDepth, numbers out of
// float64 range). It is one pass over the text: encoding/json validates the
// whole input first and decodes it in a second pass, which made parsing the
// states the largest cost of the mapping. Strings without escapes are
// substrings of s (no copy). FuzzDecode compares the two.
func Decode(s string, mode UTF8Mode) (any, error) {
	v, _, err := DecodeDepth(s, mode)
	return v, err
}

// DecodeDepth is Decode that also returns the deepest nesting of objects
// and arrays it opened (on an error, as far as it got).
func DecodeDepth(s string, mode UTF8Mode) (v any, depth int, err error) {
	d := decoder{scanner: scanner{s: s}, utf8: mode}
	d.takeStack()
	defer d.returnStack()
	d.space()
	if v, err = d.value(0); err != nil {
		return nil, d.depth, err
	}
	d.space()
	if d.i != len(d.s) {
		return nil, d.depth, d.syntax("after top-level value")
	}
	return v, d.depth, nil
}

// DecodeFields decodes s as json.Unmarshal does into a struct whose fields
// are all of type any, tagged names[i], storing field i in out[i]: keys
// match names exactly or case-folded (strings.EqualFold is
// encoding/json's folding), a repeated key keeps its last value, other
// keys are checked for syntax only (their numbers are not converted, so
// one out of float64 range there is no error), null sets nothing, and any
// other non-object is an error. It saves the reflection of the struct
// decode for small objects parsed on every span (OpenInference metadata).
func DecodeFields(s string, names []string, out []any) error {
	d := decoder{scanner: scanner{s: s}}
	d.takeStack()
	defer d.returnStack()
	d.space()
	if d.i < len(d.s) && d.s[d.i] == 'n' {
		if !d.literal("null") {
			return d.syntax("in literal null")
		}
	} else {
		if d.valueKind() != kindObject {
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

// decoder builds the values of Decode and DecodeFields.
type decoder struct {
	scanner
	utf8 UTF8Mode
	// skip: the value is only checked (DecodeFields' unknown keys), so
	// numbers are not converted.
	skip   bool
	stack  []any // elements of the open arrays (array)
	pooled *[]any
	depth  int // deepest object or array opened
}

// fields is object for DecodeFields, at depth 1.
func (d *decoder) fields(names []string, out []any) error {
	if d.open('}') {
		return nil
	}
	for {
		// The key, as in object.
		if !d.atKey() {
			return d.syntax("looking for beginning of object key string")
		}
		k, err := d.str()
		if err != nil {
			return err
		}
		if !d.colon() {
			return d.syntax("after object key")
		}
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
		if more, ok := d.next('}'); !ok {
			return d.syntax("after object key:value pair")
		} else if !more {
			return nil
		}
	}
}

// decodeStacks recycles the decoders' element stacks: a stack per decode
// cost more allocations than exact-size arrays saved.
var decodeStacks = sync.Pool{New: func() any { return new([]any) }}

// maxPooledStack bounds the stack a pool keeps (elements), so one huge
// array does not stay allocated.
const maxPooledStack = 1 << 12

func (d *decoder) takeStack() {
	d.pooled = decodeStacks.Get().(*[]any)
	d.stack = (*d.pooled)[:0]
}

func (d *decoder) returnStack() {
	// Past len everything was cleared when its array closed; below it are
	// the open arrays' values of a decode that failed.
	clear(d.stack)
	if cap(d.stack) <= maxPooledStack {
		*d.pooled = d.stack[:0]
		decodeStacks.Put(d.pooled)
	}
}

// syntax is the error at d.i, worded as encoding/json words it.
func (d *decoder) syntax(what string) error {
	if d.i >= len(d.s) {
		return errors.New("json: unexpected end of input")
	}
	return errors.New("json: invalid character " + strconv.QuoteRune(rune(d.s[d.i])) + " " + what)
}

func (d *decoder) value(depth int) (any, error) {
	switch d.valueKind() {
	case kindObject:
		return d.object(depth + 1)
	case kindArray:
		return d.array(depth + 1)
	case kindString:
		return d.str()
	case kindNumber:
		return d.number()
	case kindTrue:
		return true, d.literalErr("true")
	case kindFalse:
		return false, d.literalErr("false")
	case kindNull:
		return nil, d.literalErr("null")
	}
	return nil, d.syntax("looking for beginning of value")
}

func (d *decoder) literalErr(lit string) error {
	if !d.literal(lit) {
		return d.syntax("in literal " + lit)
	}
	return nil
}

func (d *decoder) object(depth int) (any, error) {
	if depth > MaxDepth {
		return nil, ErrTooDeep
	}
	d.depth = max(d.depth, depth)
	m := map[string]any{}
	if d.open('}') {
		return m, nil
	}
	for {
		// The key and its ':' (in line: a call per member showed).
		if !d.atKey() {
			return nil, d.syntax("looking for beginning of object key string")
		}
		k, err := d.str()
		if err != nil {
			return nil, err
		}
		if !d.colon() {
			return nil, d.syntax("after object key")
		}
		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		m[k] = v // a repeated key keeps its last value, as in encoding/json
		if more, ok := d.next('}'); !ok {
			return nil, d.syntax("after object key:value pair")
		} else if !more {
			return m, nil
		}
	}
}

func (d *decoder) array(depth int) (any, error) {
	if depth > MaxDepth {
		return nil, ErrTooDeep
	}
	d.depth = max(d.depth, depth)
	if d.open(']') {
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
		more, ok := d.next(']')
		if !ok {
			return nil, d.syntax("after array element")
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

// str decodes the string at d.i (at its opening quote). Runs of plain
// bytes are found 8 at a time (plainRun); a string without escapes is a
// substring of d.s, one with escapes is built from its runs.
func (d *decoder) str() (string, error) {
	d.i++
	start := d.i
	var b []byte // nil until an escape or an invalid byte needs a copy
	for {
		d.i = d.plainRun(d.utf8 != UTF8Valid)
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
			r, _, ok := d.escape()
			if !ok {
				if d.i >= len(d.s) || d.s[d.i] != 'u' {
					return "", d.syntax("in string escape code")
				}
				return "", d.syntax("in \\u hexadecimal character escape")
			}
			b = utf8.AppendRune(b, r)
			start = d.i
		case d.utf8 == UTF8Strict: // the first byte >= 0x80
			// One check of the rest of the text, then no more stops:
			// an invalid byte outside a string fails the decode anyway.
			if !utf8.ValidString(d.s[d.i:]) {
				return "", ErrInvalidUTF8
			}
			d.utf8 = UTF8Valid
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

// number scans the JSON number grammar, then converts like encoding/json:
// strconv.ParseFloat, an error when out of float64 range.
func (d *decoder) number() (any, error) {
	n, where, ok := d.scanner.number()
	if !ok {
		return nil, d.syntax(where)
	}
	if d.skip {
		return nil, nil
	}
	text := d.s[n.start:d.i]
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return nil, errors.New("json: cannot unmarshal number " + text + " into a float64")
	}
	return f, nil
}
