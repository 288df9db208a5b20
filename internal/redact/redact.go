// Package redact is the one redaction of secrets: one default key list,
// one way to match keys, used on every way in (span attributes before the
// detector's write-ahead log, log records before the audit queue, states
// in the mapping, audit metadata over REST), so no secret reaches a disk.
package redact

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Redacted replaces the value of every matched key.
const Redacted = "[REDACTED]"

// DefaultKeys are the keys whose values never reach a disk unless the
// configuration's redact_keys replaces them.
var DefaultKeys = []string{
	"password", "passwd", "secret", "api_key", "apikey", "token", "access_token",
	"refresh_token", "authorization", "cookie", "private_key", "client_secret",
}

// Keys matches object and attribute keys against a key list:
// case-insensitive, ignoring '-', '_' and '.', and matching any key that
// contains a listed one ("openai_api_key" matches "api_key"). The zero
// value and New(nil) match nothing. Safe for concurrent use.
type Keys struct {
	keys [][]byte
	// byFirst lists the keys by their first byte: Match looks at each
	// byte of a key once instead of searching for every listed key.
	byFirst [256][][]byte
	first   [256]bool // byFirst[c] is not empty
	minLen  int       // of the listed keys: shorter keys cannot match
}

// New normalizes keys; blank ones are ignored, and so are keys that
// contain another listed key (it matches whatever they match).
func New(keys []string) *Keys {
	var norm [][]byte
	for _, s := range keys {
		if n := normalize(nil, s); len(n) > 0 {
			norm = append(norm, n)
		}
	}
	k := &Keys{}
	for i, n := range norm {
		redundant := false
		for j, m := range norm {
			if j != i && bytes.Contains(n, m) && (len(m) < len(n) || j < i) {
				redundant = true
				break
			}
		}
		if !redundant {
			k.keys = append(k.keys, n)
			k.byFirst[n[0]] = append(k.byFirst[n[0]], n)
			k.first[n[0]] = true
			if k.minLen == 0 || len(n) < k.minLen {
				k.minLen = len(n)
			}
		}
	}
	return k
}

// Active reports whether any key can match.
func (k *Keys) Active() bool { return k != nil && len(k.keys) > 0 }

func normalize(dst []byte, key string) []byte {
	for i := 0; i < len(key); i++ {
		if c := fold[key[i]]; c != 0 {
			dst = append(dst, c)
		}
	}
	return dst
}

// Match reports whether key's value must be redacted. It compares in
// place (no normalized copy): at each byte that starts a listed key, the
// key is followed, folding case and skipping separators.
func (k *Keys) Match(key string) bool {
	if !k.Active() || len(key) < k.minLen {
		return false
	}
	for i := 0; i <= len(key)-k.minLen; i++ {
		c := fold[key[i]]
		if !k.first[c] {
			continue
		}
		for _, x := range k.byFirst[c] {
			if matchAt(key, i, x) {
				return true
			}
		}
	}
	return false
}

// matchAt reports whether the normalized form of key from i starts with x.
func matchAt(key string, i int, x []byte) bool {
	j := 0
	for ; i < len(key) && j < len(x); i++ {
		c := fold[key[i]]
		if c == 0 {
			continue
		}
		if c != x[j] {
			return false
		}
		j++
	}
	return j == len(x)
}

// fold is normalize's mapping of one byte: 0 for a skipped separator,
// else the byte in lower case.
var fold = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = byte(c) + 'a' - 'A'
	}
	for _, c := range "-_. \t" {
		t[c] = 0
	}
	return t
}()

// Value redacts matching keys anywhere inside a decoded JSON value
// (map[string]any, []any), in place, and reports whether it changed it.
// As in Attributes, numbers, booleans and null under a matching key are
// kept: {"input_tokens": 27400} inside a JSON attribute (LangChain's
// usage_metadata) is a count, not a secret, and must reach the detector.
func (k *Keys) Value(v any) bool {
	if !k.Active() {
		return false
	}
	changed := false
	switch x := v.(type) {
	case map[string]any:
		for key, e := range x {
			if k.Match(key) {
				if notSecret(e) {
					continue
				}
				if s, ok := e.(string); !ok || s != Redacted {
					x[key] = Redacted
					changed = true
				}
				continue
			}
			if k.Value(e) {
				changed = true
			}
		}
	case []any:
		for _, e := range x {
			if k.Value(e) {
				changed = true
			}
		}
	}
	return changed
}

// notSecret: a decoded JSON scalar that is no text (a number, a boolean,
// null), kept under a matching key as Attributes keeps them.
func notSecret(v any) bool {
	switch v.(type) {
	case nil, bool, float64, json.Number:
		return true
	}
	return false
}

// Text redacts a text that is a JSON object or array with a matching key:
// it returns the re-encoded value and true. Any other text (no JSON, no
// matching key) comes back unchanged, without being decoded.
func (k *Keys) Text(s string) (string, bool) {
	if !k.Active() || !LooksLikeJSON(s) || !k.mayMatch(s) {
		return s, false
	}
	var v any
	if json.Unmarshal([]byte(s), &v) != nil || !k.Value(v) {
		return s, false
	}
	b, err := json.Marshal(v)
	if err != nil {
		return Redacted, true
	}
	return string(b), true
}

// mayMatch reports whether the JSON-looking text s has an object key that
// matches, or one it cannot tell without decoding (an escape in it). One
// pass, no allocation: most texts have no such key.
func (k *Keys) mayMatch(s string) bool {
	for i := 0; i < len(s); {
		q := strings.IndexByte(s[i:], '"')
		if q < 0 {
			return false
		}
		start := i + q + 1
		end := closingQuote(s, start)
		if end < 0 {
			return strings.IndexByte(s[start:], '\\') >= 0
		}
		i = end + 1
		// A key is a string followed by ':'.
		n := i
		for n < len(s) && (s[n] == ' ' || s[n] == '\t' || s[n] == '\n' || s[n] == '\r') {
			n++
		}
		if n < len(s) && s[n] == ':' {
			key := s[start:end]
			if strings.IndexByte(key, '\\') >= 0 || k.Match(key) {
				return true
			}
		}
	}
	return false
}

// closingQuote is the index of the quote closing the string that starts
// at s[start], -1 when it is not closed.
func closingQuote(s string, start int) int {
	for i := start; i < len(s); {
		q := strings.IndexByte(s[i:], '"')
		if q < 0 {
			return -1
		}
		j := i + q
		bs := 0
		for b := j - 1; b >= start && s[b] == '\\'; b-- {
			bs++
		}
		if bs%2 == 0 {
			return j
		}
		i = j + 1
	}
	return -1
}

// LooksLikeJSON reports whether s starts (after blanks) with { or [.
func LooksLikeJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\n', '\r':
			continue
		case '{', '[':
			return true
		}
		return false
	}
	return false
}

// Validate checks a configured redact_keys list, naming each blank entry.
func Validate(keys []string) error {
	var errs []error
	for i, k := range keys {
		if strings.TrimSpace(k) == "" {
			errs = append(errs, fmt.Errorf("redact_keys[%d]: must not be empty", i))
		}
	}
	return errors.Join(errs...)
}
