package detect

import (
	"sort"
	"strings"

	"github.com/arguslabs/argus-otel/internal/agentrun"
)

// The structural layer checks every step's update against the merged state
// around it (state_view.go): fields emptied, dropped, retyped or misspelled,
// empty retrievals, broken contracts, unexpected transitions, crashes on
// missing data. Its rules are the files structural_*.go.

// fieldUses records, for each field, the step indexes whose input holds it,
// whose output writes it and whose crash names it (ascending). They tell
// key_typo and crash_missing_data which fields later steps need.
type fieldUses struct {
	inputs, writes, crashes map[string][]int
}

// fieldUses is built once for the rules that need it.
func (a *analysis) fieldUses() *fieldUses {
	if a.uses != nil {
		return a.uses
	}
	u := &fieldUses{inputs: map[string][]int{}, writes: map[string][]int{}, crashes: map[string][]int{}}
	for i := range a.run.Steps {
		s := &a.run.Steps[i]
		if m, ok := s.Input.(map[string]any); ok && !isTruncationMarker(m) {
			for k := range m {
				u.inputs[k] = append(u.inputs[k], i)
			}
		}
		if m, ok := outputMap(s); ok {
			for k := range m {
				u.writes[k] = append(u.writes[k], i)
			}
		}
		if crashed(s) {
			for _, f := range namedFields(crashText(s), crashStackTail(s)) {
				u.crashes[f] = append(u.crashes[f], i)
			}
		}
	}
	a.uses = u
	return u
}

// neededLater reports whether a step after i uses the field (users: the
// steps whose input holds it, or whose crash names it) before any step
// after i writes it.
func (u *fieldUses) neededLater(field string, users []int, i int) bool {
	next := sort.SearchInts(users, i+1)
	if next == len(users) {
		return false
	}
	user := users[next]
	w := u.writes[field]
	firstWrite := sort.SearchInts(w, i+1)
	return firstWrite == len(w) || w[firstWrite] >= user
}

// retrievalFields are the output keys whose emptiness means "the retrieval
// found nothing".
var retrievalFields = map[string]bool{
	"documents": true, "docs": true, "results": true, "hits": true, "items": true,
	"passages": true, "chunks": true, "context": true, "sources": true, "search_results": true,
}

func isRetrieverKind(kind string) bool {
	switch strings.ToLower(kind) {
	case "retriever", "retrieval":
		return true
	}
	return false
}

// crashed: the node span itself errored or recorded an exception (a failed
// nested call alone is not a crash of the node).
func crashed(s *agentrun.Step) bool {
	return s.Status == agentrun.StatusError || len(s.Exceptions) > 0
}
