package argusexporter

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"
	"unicode/utf8"
)

// hashID is a deterministic 32-hex-char id of its parts, so a retried push
// computes the same primary keys and upserts instead of duplicating.
func hashID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// batchKey identifies a set of span ids regardless of their order.
func batchKey(spanIDs []string) string {
	sorted := append([]string(nil), spanIDs...)
	sort.Strings(sorted)
	return hashID(sorted...)
}

// truncateText cuts s to at most max bytes on a rune boundary; 0 = no limit.
func truncateText(s string, max int) (string, bool) {
	if max <= 0 || len(s) <= max {
		return s, false
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut], true
}

// redactor replaces the values of secret-looking keys, with the same key
// normalisation as the mapping (case-insensitive, '-', '_' and '.' ignored).
// The mapping redacts states; this covers what the exporter adds itself:
// detection details written by the processor from raw values, and audit metadata.
type redactor map[string]bool

func newRedactor(keys []string) redactor {
	r := redactor{}
	for _, k := range keys {
		if n := normKey(k); n != "" {
			r[n] = true
		}
	}
	return r
}

func normKey(k string) string {
	return strings.NewReplacer("-", "", "_", "", ".", "").Replace(strings.ToLower(strings.TrimSpace(k)))
}

// redact walks decoded JSON in place and returns it.
func (r redactor) redact(v any) any {
	if len(r) == 0 {
		return v
	}
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if r[normKey(k)] {
				t[k] = "[REDACTED]"
				continue
			}
			t[k] = r.redact(x)
		}
	case []any:
		for i, x := range t {
			t[i] = r.redact(x)
		}
	}
	return v
}
