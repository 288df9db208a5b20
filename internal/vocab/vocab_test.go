package vocab

import "testing"

// The ranks list exactly the words of the lists, in their order.
func TestRanksFollowTheLists(t *testing.T) {
	for _, tc := range []struct {
		words []string
		rank  map[string]int
		first int
	}{{Severities, SeverityRank, 1}, {Statuses, StatusRank, 0}} {
		if len(tc.rank) != len(tc.words) {
			t.Fatalf("%v ranks %d words", tc.words, len(tc.rank))
		}
		for i, w := range tc.words {
			if r, ok := tc.rank[w]; !ok || r != tc.first+i {
				t.Errorf("rank of %q = %d, %v; want %d", w, r, ok, tc.first+i)
			}
		}
	}
}
