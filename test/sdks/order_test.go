package sdks_test

import (
	"reflect"
	"slices"
	"testing"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/internal/testutil"
	"github.com/arguslabs/argus-otel/test/sdks"
)

// TestRecordingsMapTheSameWhateverTheOrder: a real SDK sends a long run's
// spans as they end, over many requests. Every recording, its spans put one
// per request in end-time order (and reversed), maps to exactly the run of
// the recording as sent: the run the detector reads back from its
// write-ahead log at completion is the run sent at once.
func TestRecordingsMapTheSameWhateverTheOrder(t *testing.T) {
	for _, c := range sdks.Cases() {
		t.Run(c.SDK, func(t *testing.T) {
			for _, r := range sdks.Load(t, c.SDK) {
				want := agentrun.MapTraces(r.Traces, agentrun.Options{RawStates: true})
				byEnd := testutil.InEndTimeOrder(r.Traces)
				reversed := slices.Clone(byEnd)
				slices.Reverse(reversed)
				for name, order := range map[string][]testutil.SpanRequest{"end time": byEnd, "reversed": reversed} {
					got := agentrun.MapTraces(testutil.Joined(order), agentrun.Options{RawStates: true})
					if !reflect.DeepEqual(want, got) {
						t.Errorf("%s in %s order maps differently from the recording as sent", r.Name, name)
					}
				}
			}
		})
	}
}
