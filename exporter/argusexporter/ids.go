package argusexporter

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
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
