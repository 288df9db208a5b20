package detect

import (
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

// The size of an output as JSON, measured without encoding it: the output
// size metric of the baselines.

// jsonSize is the length of v encoded as JSON (without HTML escaping), for
// the values encoding/json decodes into, computed without allocating.
func jsonSize(v any, depth int) int {
	if depth > 64 {
		return len(agentrun.JSON(v))
	}
	switch x := v.(type) {
	case nil:
		return 4
	case bool:
		if x {
			return 4
		}
		return 5
	case string:
		return jsonStringSize(x)
	case float64:
		// encoding/json's float format: plain decimals, exponents only for
		// very small or large magnitudes, written e-7 rather than e-07.
		var buf [32]byte
		format := byte('f')
		if a := math.Abs(x); a != 0 && (a < 1e-6 || a >= 1e21) {
			format = 'e'
		}
		b := strconv.AppendFloat(buf[:0], x, format, -1, 64)
		if n := len(b); format == 'e' && n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			return n - 1
		}
		return len(b)
	case json.Number:
		return len(x)
	case []any:
		n := 2 + max(len(x)-1, 0)
		for _, e := range x {
			n += jsonSize(e, depth+1)
		}
		return n
	case map[string]any:
		n := 2 + max(len(x)-1, 0)
		for k, e := range x {
			n += jsonStringSize(k) + 1 + jsonSize(e, depth+1)
		}
		return n
	}
	return len(agentrun.JSON(v))
}

func jsonStringSize(s string) int {
	n := 2
	for i := 0; i < len(s); {
		if i+8 <= len(s) && swarPlain(load64(s[i:])) {
			n += 8 // 8 bytes written as themselves
			i += 8
			continue
		}
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t':
				n += 2
			case c < 0x20:
				n += 6
			default:
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			n += 6 // \ufffd
		case r == '\u2028' || r == '\u2029':
			n += 6
		default:
			n += size
		}
		i += size
	}
	return n
}
