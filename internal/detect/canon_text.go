package detect

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

// The canonical text of a value (sorted keys, whitespace-collapsed
// strings), by which behavioral.loop_stall compares outputs and
// behavioral.retry_storm tool arguments: written into one buffer, plain
// ASCII strings 8 bytes at a time.

// volatileKeys change on every run without meaning different work
// (timestamps, request ids, usage counters); stall comparison ignores them.
var volatileKeys = map[string]bool{
	"timestamp": true, "created_at": true, "updated_at": true, "created": true, "ts": true,
	"run_id": true, "request_id": true, "trace_id": true, "span_id": true,
	"response_metadata": true, "usage_metadata": true, "latency_ms": true, "duration_ms": true, "elapsed_ms": true,
}

// canonizer writes a canonical text of a value: sorted keys,
// whitespace-collapsed strings, volatile keys dropped when dropVolatile.
// When track is set, shape also hashes the value's structure (keys, list
// lengths, types) so outputs of another shape never count as near-identical.
type canonizer struct {
	buf          []byte
	shape        uint64
	track        bool
	dropVolatile bool
}

func (c *canonizer) tag(s string) {
	if c.track {
		c.shape = fnv(c.shape, s)
	}
}

func (c *canonizer) value(v any, depth int) {
	if depth > maxValueDepth*2 {
		c.buf = append(c.buf, "…"...)
		c.tag("…")
		return
	}
	switch x := v.(type) {
	case nil:
		c.buf = append(c.buf, "null"...)
		c.tag("n")
	case bool:
		c.buf = strconv.AppendBool(c.buf, x)
		c.tag("b")
	case float64:
		c.buf = strconv.AppendFloat(c.buf, x, 'g', -1, 64)
		c.tag("f")
	case json.Number:
		c.buf = append(c.buf, x...)
		c.tag("f")
	case string:
		c.buf = appendQuoteCollapsed(c.buf, x)
		c.tag("s")
	case []any:
		c.buf = append(c.buf, '[')
		c.tag("[")
		c.tag(strconv.Itoa(len(x)))
		for i, e := range x {
			if i > 0 {
				c.buf = append(c.buf, ',')
			}
			c.value(e, depth+1)
		}
		c.buf = append(c.buf, ']')
		c.tag("]")
	case map[string]any:
		c.buf = append(c.buf, '{')
		c.tag("{")
		first := true
		for _, k := range sortedKeys(x) {
			if c.dropVolatile && volatileKeys[strings.ToLower(k)] {
				continue
			}
			if !first {
				c.buf = append(c.buf, ',')
			}
			first = false
			c.buf = appendQuote(c.buf, k)
			c.buf = append(c.buf, ':')
			c.tag(k)
			c.tag(":")
			c.value(x[k], depth+1)
		}
		c.buf = append(c.buf, '}')
		c.tag("}")
	default:
		c.buf = append(c.buf, agentrun.JSON(x)...)
		c.tag("?")
	}
}

// collapseSpace trims and collapses runs of white space to one space.
func collapseSpace(s string) string {
	if isCollapsed(s) {
		return s // the common case, without allocating
	}
	return strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " ")
}

func isCollapsed(s string) bool {
	prevSpace := true
	for i := 0; i < len(s); {
		if i+8 <= len(s) {
			// 8 printable ASCII bytes or spaces: collapsed unless two
			// spaces meet (also across the chunk's start).
			if x := load64(s[i:]); x&swarHigh|swarBelow(x, 0x20) == 0 {
				sp := swarEq(x, ' ')
				if sp&(sp<<8) != 0 || prevSpace && sp&0x80 != 0 {
					return false
				}
				prevSpace = sp>>63 != 0
				i += 8
				continue
			}
		}
		if c := s[i]; c > ' ' && c < utf8.RuneSelf {
			prevSpace = false // the common case: a printable ASCII byte
			i++
			continue
		}
		// Other ASCII without the unicode tables; the rest (invalid bytes
		// decode to RuneError, not a space) as unicode.IsSpace says.
		r, size := rune(s[i]), 1
		var sp bool
		if r < utf8.RuneSelf {
			sp = r == ' ' || '\t' <= r && r <= '\r'
		} else {
			r, size = utf8.DecodeRuneInString(s[i:])
			sp = unicode.IsSpace(r)
		}
		if sp && (prevSpace || r != ' ') {
			return false
		}
		prevSpace = sp
		i += size
	}
	return !prevSpace || s == ""
}

// appendQuote appends strconv.Quote(s) to buf. Printable ASCII other
// than '"' and '\\' quotes as itself, so that prefix is copied as is and only
// the rest goes through strconv (which escapes rune by rune, so quoting
// the two parts apart gives the same bytes).
func appendQuote(buf []byte, s string) []byte {
	i := 0
	for i+8 <= len(s) && swarPlain(load64(s[i:])) {
		i += 8
	}
	for i < len(s) && s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\' {
		i++
	}
	buf = append(buf, '"')
	buf = append(buf, s[:i]...)
	if i == len(s) {
		return append(buf, '"')
	}
	mark := len(buf)
	buf = strconv.AppendQuote(buf, s[i:])
	copy(buf[mark:], buf[mark+1:]) // drop the opening quote of the rest
	return buf[:len(buf)-1]
}

// appendQuoteCollapsed appends strconv.Quote(collapseSpace(s)). Plain
// printable ASCII without a leading, trailing or doubled space, nearly
// every string of an output, is its own collapsed form and quotes as
// itself: it is tested 8 bytes at a time in one pass and copied. Anything
// else goes the long way.
func appendQuoteCollapsed(buf []byte, s string) []byte {
	prevSpace := true // a leading space is not collapsed
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := load64(s[i:])
		if !swarPlain(x) {
			return appendQuote(buf, collapseSpace(s))
		}
		sp := swarEq(x, ' ')
		if sp&(sp<<8) != 0 || prevSpace && sp&0x80 != 0 {
			return appendQuote(buf, collapseSpace(s))
		}
		prevSpace = sp>>63 != 0
	}
	for ; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == ' ' && prevSpace {
			return appendQuote(buf, collapseSpace(s))
		}
		prevSpace = c == ' '
	}
	if prevSpace { // a trailing space, or s is empty
		return appendQuote(buf, collapseSpace(s))
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}
