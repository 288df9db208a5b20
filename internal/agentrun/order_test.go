package agentrun_test

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/internal/testutil"
)

// The same spans map to the same run in whatever order they arrive: as
// sent at once, in end-time order (one request per span, as SDKs export
// them over a long run: children before parents, the root last),
// reversed, shuffled. Every fixture of every convention, the broken ones
// included (duplicate ids, parent cycles, no root).
func TestMappingDoesNotDependOnSpanOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 42))
	for _, name := range testutil.FixtureNames(t) {
		t.Run(name, func(t *testing.T) {
			td := testutil.LoadTraces(t, name)
			for _, opts := range []agentrun.Options{{}, {RawStates: true, MaxFieldBytes: 65536, RedactKeys: []string{"api_key"}}} {
				want := agentrun.MapTraces(td, opts)
				parts := testutil.SpanRequests(td)
				orders := map[string][]testutil.SpanRequest{
					"end time": testutil.InEndTimeOrder(td),
					"reversed": slices.Clone(parts),
				}
				slices.Reverse(orders["reversed"])
				if name == "duplicate_ids.json" {
					// Two different spans under one span id: the copy that
					// arrived first is kept (TestDuplicateIDsFixture), so
					// only orders that keep the copies' order apply.
					delete(orders, "reversed")
					orders["root first"] = append(slices.Clone(parts[len(parts)-1:]), parts[:len(parts)-1]...)
				} else {
					for i := range 5 {
						p := slices.Clone(parts)
						rng.Shuffle(len(p), func(a, b int) { p[a], p[b] = p[b], p[a] })
						orders["shuffled "+string(rune('a'+i))] = p
					}
				}
				for name, order := range orders {
					got := agentrun.MapTraces(testutil.Joined(order), opts)
					if len(got) != len(want) {
						t.Fatalf("%s: %d runs, want %d", name, len(got), len(want))
					}
					for i := range want {
						if !reflect.DeepEqual(want[i], got[i]) {
							t.Errorf("%s (raw states %v): the run differs from the spans in their original order\n got %+v\nwant %+v",
								name, opts.RawStates, got[i], want[i])
						}
					}
				}
			}
		})
	}
}
