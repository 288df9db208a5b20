package store

import (
	"crypto/sha256"
	"encoding/hex"
	"unicode/utf8"
)

// MaxIndexedBytes caps every short text the schema indexes or compares
// (ids, pipeline and node names, audit types, ids and statuses), the
// same on both drivers. PostgreSQL refuses a btree entry over ~2700 bytes
// (SQLSTATE 54000), which failed whole batches; a name this long is
// already not a name. Values over it are cut before they reach the
// database: names keep their first bytes and end in "…", ids keep their
// first bytes and a hash of the whole, so two long ids stay apart and a
// retry computes the same one.
const MaxIndexedBytes = 512

// capName cuts s to MaxIndexedBytes on a rune boundary, ending in "…".
func capName(s string) string {
	if len(s) <= MaxIndexedBytes {
		return s
	}
	return cutUTF8(s, MaxIndexedBytes-len("…")) + "…"
}

// capID cuts an over-long id to MaxIndexedBytes: its first bytes, "~" and
// 32 hex characters of its SHA-256.
func capID(s string) string {
	if len(s) <= MaxIndexedBytes {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	h := hex.EncodeToString(sum[:16])
	return cutUTF8(s, MaxIndexedBytes-1-len(h)) + "~" + h
}

// cutUTF8 is the longest prefix of s of at most n bytes that does not
// split a UTF-8 sequence.
func cutUTF8(s string, n int) string {
	if n >= len(s) {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
