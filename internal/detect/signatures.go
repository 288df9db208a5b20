package detect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"unicode"

	"gopkg.in/yaml.v3"
)

// Signature match kinds. exact, prefix and contains are case-sensitive;
// exact compares with the trimmed text, prefix with the text after leading
// whitespace. Use a regex with (?i) for case-insensitive matching.
const (
	MatchExact    = "exact"
	MatchContains = "contains"
	MatchPrefix   = "prefix"
	MatchRegex    = "regex"
)

const maxSignatureFileBytes = 16 << 20

// SignatureSet is a validated, compiled list of signatures. It is immutable
// and safe for concurrent use.
type SignatureSet struct {
	sigs []compiledSignature
}

type compiledSignature struct {
	Signature
	re *regexp.Regexp
}

// Len is the number of signatures in the set.
func (s *SignatureSet) Len() int {
	if s == nil {
		return 0
	}
	return len(s.sigs)
}

// Matches returns the ids of the signatures that match text, in order.
func (s *SignatureSet) Matches(text string) []string {
	var ids []string
	s.each(text, func(sig *compiledSignature) { ids = append(ids, sig.ID) })
	return ids
}

func (s *SignatureSet) each(text string, fn func(*compiledSignature)) {
	if s == nil {
		return
	}
	trimmed := strings.TrimSpace(text)
	for i := range s.sigs {
		sig := &s.sigs[i]
		var hit bool
		switch sig.Match {
		case MatchExact:
			hit = trimmed == sig.Pattern
		case MatchPrefix:
			hit = strings.HasPrefix(trimmed, sig.Pattern)
		case MatchContains:
			hit = strings.Contains(text, sig.Pattern)
		case MatchRegex:
			hit = sig.re.MatchString(text)
		}
		if hit {
			fn(sig)
		}
	}
}

// CompileSignatures validates and compiles signatures. The error lists every
// invalid entry (empty or duplicate id, unknown match kind or severity,
// empty pattern, bad regex).
func CompileSignatures(sigs []Signature) (*SignatureSet, error) {
	set, errs := compileSignatures(sigs)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return set, nil
}

// compileSignatures compiles the valid entries and reports the others.
func compileSignatures(sigs []Signature) (*SignatureSet, []error) {
	set := &SignatureSet{}
	var errs []error
	ids := map[string]int{}
	for i, sig := range sigs {
		sig = normalizeSignature(sig)
		re, err := checkSignature(sig)
		if err == nil {
			if first, dup := ids[sig.ID]; dup {
				err = fmt.Errorf("duplicate id, first used by signatures[%d]", first)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", entryName(i, sig.ID), err))
			continue
		}
		ids[sig.ID] = i
		set.sigs = append(set.sigs, compiledSignature{Signature: sig, re: re})
	}
	return set, errs
}

func normalizeSignature(s Signature) Signature {
	s.ID = strings.TrimSpace(s.ID)
	s.Match = strings.ToLower(strings.TrimSpace(s.Match))
	s.Severity = strings.ToLower(strings.TrimSpace(s.Severity))
	if s.Match != MatchRegex {
		s.Pattern = strings.TrimSpace(s.Pattern)
	}
	return s
}

// checkSignature validates one normalized signature and compiles its regex.
func checkSignature(s Signature) (*regexp.Regexp, error) {
	if s.ID == "" {
		return nil, errors.New("id is empty")
	}
	if strings.IndexFunc(s.ID, unicode.IsSpace) >= 0 {
		return nil, errors.New("id must not contain whitespace")
	}
	switch s.Match {
	case MatchExact, MatchContains, MatchPrefix, MatchRegex:
	case "":
		return nil, errors.New("match is empty (want exact, contains, prefix or regex)")
	default:
		return nil, fmt.Errorf("unknown match kind %q (want exact, contains, prefix or regex)", s.Match)
	}
	if s.Pattern == "" {
		return nil, errors.New("pattern is empty")
	}
	if s.Severity != "" && !validSeverity(s.Severity) {
		return nil, fmt.Errorf("severity %q is not info, warning or critical", s.Severity)
	}
	if s.Match != MatchRegex {
		return nil, nil
	}
	re, err := regexp.Compile(s.Pattern)
	if err != nil {
		return nil, fmt.Errorf("bad regex: %v", err)
	}
	return re, nil
}

func entryName(i int, id string) string {
	if id == "" {
		return fmt.Sprintf("signatures[%d]", i)
	}
	return fmt.Sprintf("signatures[%d] (id %q)", i, id)
}

// LoadSignatures reads signature files, YAML or JSON (chosen by a .json
// extension), each of the form
//
//	signatures:
//	  - {id: no-kb, match: contains, pattern: "knowledge base unavailable", severity: critical, message: "..."}
//
// and validates every entry; ids must be unique across all files. The error
// names the file and entry of every problem; nothing is returned on error.
func LoadSignatures(paths ...string) ([]Signature, error) {
	var all []Signature
	var errs []error
	firstSeen := map[string]string{}
	for _, path := range paths {
		sigs, err := readSignatureFile(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for i, sig := range sigs {
			sig = normalizeSignature(sig)
			where := path + ": " + entryName(i, sig.ID)
			if _, err := checkSignature(sig); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", where, err))
				continue
			}
			if first, dup := firstSeen[sig.ID]; dup {
				errs = append(errs, fmt.Errorf("%s: duplicate id, first defined in %s", where, first))
				continue
			}
			firstSeen[sig.ID] = where
			all = append(all, sig)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return all, nil
}

func readSignatureFile(path string) ([]Signature, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("signatures: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSignatureFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("signatures: %s: %w", path, err)
	}
	if len(data) > maxSignatureFileBytes {
		return nil, fmt.Errorf("signatures: %s: file is larger than %d MiB", path, maxSignatureFileBytes>>20)
	}
	var doc signatureFile
	if strings.EqualFold(filepath.Ext(path), ".json") {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		err = dec.Decode(&doc)
		var syn *json.SyntaxError
		switch {
		case errors.As(err, &syn):
			err = fmt.Errorf("line %d: %w", 1+bytes.Count(data[:min(int(syn.Offset), len(data))], []byte("\n")), err)
		case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
			err = errors.New("the JSON document is incomplete or empty")
		case err == nil && dec.More():
			err = errors.New("trailing data after the JSON document")
		}
	} else {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		err = dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			err = errors.New("file is empty")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("signatures: %s: %w", path, err)
	}
	if doc.Signatures == nil {
		return nil, fmt.Errorf("signatures: %s: no top-level \"signatures\" list", path)
	}
	return *doc.Signatures, nil
}

// signaturesFor returns the compiled set for cfg.Signatures, compiling each
// distinct list once. Invalid entries (never present after LoadSignatures)
// are skipped rather than failing detection.
func signaturesFor(sigs []Signature) *SignatureSet {
	if len(sigs) == 0 {
		return nil
	}
	var key strings.Builder
	for _, s := range sigs {
		fmt.Fprintf(&key, "%q|%q|%q|%q|%q\n", s.ID, s.Match, s.Pattern, s.Severity, s.Message)
	}
	k := key.String()
	sigCache.Lock()
	set, ok := sigCache.sets[k]
	sigCache.Unlock()
	if ok {
		return set
	}
	set, _ = compileSignatures(sigs)
	sigCache.Lock()
	if len(sigCache.sets) >= 32 {
		clear(sigCache.sets) // a handful of configs at most; a reset is simpler than LRU
	}
	sigCache.sets[k] = set
	sigCache.Unlock()
	return set
}

// signatureFile is the layout of a signature file.
type signatureFile struct {
	Signatures *[]Signature `yaml:"signatures" json:"signatures"`
}

var sigCache = struct {
	sync.Mutex
	sets map[string]*SignatureSet
}{sets: map[string]*SignatureSet{}}
