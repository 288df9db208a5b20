package argusapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/arguslabs/argus-otel/report"
	"github.com/arguslabs/argus-otel/report/reporttest"
	"github.com/arguslabs/argus-otel/store"
)

// seedLong writes reporttest.Long in one batch, as the exporter writes a
// run released whole.
func (s *server) seedLong(n, stateBytes int) {
	s.t.Helper()
	start := time.Now()
	require.NoError(s.t, s.store.WriteBatch(context.Background(), reporttest.Long(n, stateBytes)))
	s.t.Logf("seeded a %d-step run in %s", n, time.Since(start).Round(time.Millisecond))
}

type pagedReport struct {
	Steps     []report.Step     `json:"steps"`
	Summary   report.Summary    `json:"summary"`
	StepsPage *report.StepsPage `json:"steps_page"`
}

func TestTraceStepPages(t *testing.T) {
	eachBackend(t, func(t *testing.T, cfg *Config) {
		s := start(t, cfg)
		const n = 450
		s.seedLong(n, 10)
		s.seedRuns()

		// Following stepsAfter from the first page reads every step once.
		var numbers []int
		path := "/api/traces/" + reporttest.LongID
		for after := 0; ; {
			var pr pagedReport
			s.getJSON(path+q("stepsAfter", fmt.Sprint(after)), &pr)
			require.NotNil(t, pr.StepsPage)
			assert.Equal(t, n, pr.StepsPage.TotalSteps)
			assert.Equal(t, n, pr.Summary.StepCount, "the summary is the whole run's")
			assert.LessOrEqual(t, len(pr.Steps), store.DefaultStepPage)
			for _, st := range pr.Steps {
				numbers = append(numbers, st.StepNumber)
			}
			if !pr.StepsPage.More {
				break
			}
			after = pr.StepsPage.LastStep
		}
		require.Len(t, numbers, n)
		for i, num := range numbers {
			require.Equal(t, i+1, num)
		}

		// stepsLimit; the HTML report links its neighbours.
		var pr pagedReport
		s.getJSON(path+q("stepsAfter", "100", "stepsLimit", "50"), &pr)
		assert.Equal(t, report.StepsPage{FirstStep: 101, LastStep: 150, TotalSteps: n, After: 100, More: true}, *pr.StepsPage)
		res := s.get(path + "/report" + q("stepsAfter", "100", "stepsLimit", "50"))
		require.Equal(t, http.StatusOK, res.status)
		assert.Contains(t, string(res.body), `href="/api/traces/`+reporttest.LongID+`/report?stepsAfter=50&amp;stepsLimit=50"`)
		assert.Contains(t, string(res.body), `href="/api/traces/`+reporttest.LongID+`/report?stepsAfter=150&amp;stepsLimit=50"`)
		assert.Contains(t, string(res.body), "Steps 101–150 of 450")
		md := s.get(path + "/report" + q("format", "markdown", "stepsAfter", "400"))
		require.Equal(t, http.StatusOK, md.status)

		// A run that fits on a page has no steps_page.
		var small map[string]any
		s.getJSON("/api/traces/t2", &small)
		assert.NotContains(t, small, "steps_page")

		for _, bad := range []string{q("stepsAfter", "-1"), q("stepsAfter", "x"), q("stepsLimit", "0"),
			q("stepsLimit", fmt.Sprint(store.MaxStepPage+1)), q("steps", "1")} {
			s.get(path+bad).errBody(t, http.StatusBadRequest)
		}
	})
}

func TestHeavyReadsAreBounded(t *testing.T) {
	h := newHeavyReads(ReadsConfig{MaxConcurrent: 2, MaxWait: 20 * time.Millisecond}, zap.NewNop())
	ctx := context.Background()
	r1, err := h.acquire(ctx)
	require.NoError(t, err)
	r2, err := h.acquire(ctx)
	require.NoError(t, err)
	_, err = h.acquire(ctx)
	var ae *apiError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusServiceUnavailable, ae.status)
	assert.Contains(t, ae.details, "1 refused")
	assert.EqualValues(t, 1, h.refused.Load())
	r1()
	r3, err := h.acquire(ctx) // a released slot is taken again
	require.NoError(t, err)
	r2()
	r3()
	// A cancelled request stops waiting at once.
	full := newHeavyReads(ReadsConfig{MaxConcurrent: 1, MaxWait: time.Hour}, zap.NewNop())
	rel, _ := full.acquire(ctx)
	defer rel()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = full.acquire(cctx)
	assert.ErrorIs(t, err, context.Canceled)
}

// TestConcurrentReadsOfTheLargestRun: issue #16's read, a run of 100,000
// steps (~81 MB as one JSON report before paging), read by six clients at
// once as JSON, HTML and Markdown, first and last pages (the last page
// folds every output before it into the merged state). Every answer is a
// page or a 503 (too many at once: retry), never a dropped connection;
// the heap (live and not yet collected, sampled every 2 ms) grows by less
// than readBudget, where reading the run whole took 2.4 GB for six readers.
func TestConcurrentReadsOfTheLargestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds a 100,000-step run")
	}
	const steps, readers = 100_000, 6
	const readBudget = 128 << 20
	paths := []string{"", "/report", "/report?format=markdown&stepsAfter=99900", "?stepsAfter=99900&stepsLimit=1000"}
	eachBackend(t, func(t *testing.T, cfg *Config) {
		cfg.Reads.MaxWait = 25 * time.Second // below the server's 30 s write timeout
		s := start(t, cfg)
		s.seedLong(steps, 600)

		runtime.GC()
		base := heapBytes()
		var peak uint64
		stop := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			for {
				peak = max(peak, heapBytes())
				select {
				case <-stop:
					return
				case <-time.After(2 * time.Millisecond):
				}
			}
		}()
		var mu sync.Mutex
		ok, refused := map[string]int{}, 0
		var wg sync.WaitGroup
		for i := range readers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range paths {
					p := paths[(i+j)%len(paths)]
					start := time.Now()
					res, err := http.Get(s.base + "/api/traces/" + reporttest.LongID + p)
					if err != nil {
						t.Errorf("GET %s: %v after %s", p, err, time.Since(start))
						continue
					}
					n, _ := io.Copy(io.Discard, res.Body)
					res.Body.Close()
					mu.Lock()
					switch {
					case res.StatusCode == http.StatusOK && n <= 32<<20:
						ok[p]++
					case res.StatusCode == http.StatusServiceUnavailable:
						refused++
					default:
						t.Errorf("GET %s: %d, %d bytes", p, res.StatusCode, n)
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		close(stop)
		<-sampled
		added := int64(peak) - int64(base)
		t.Logf("%s: %d readers: answered %v, refused %d; heap %d MiB before, peak %d MiB (+%d MiB)",
			cfg.Driver, readers, ok, refused, base>>20, peak>>20, added>>20)
		// Under load some reads are refused (retryable); the first and the
		// last page must each have been read.
		assert.Positive(t, ok[paths[0]]+ok[paths[1]], "no first page read")
		assert.Positive(t, ok[paths[2]]+ok[paths[3]], "no last page read")
		assert.Less(t, added, int64(readBudget), "concurrent reads of a %d-step run added %d MiB to the heap", steps, added>>20)
	})
}

func heapBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestSlowReadIsA503: a read that cannot finish before the server's write
// timeout answers 503 to retry instead of having its connection dropped.
// Here it waits for the only read slot, held by the test, past 90% of the
// write timeout.
func TestSlowReadIsA503(t *testing.T) {
	cfg := backends[0].config(t)
	cfg.WriteTimeout = 2 * time.Second
	cfg.Reads.MaxConcurrent, cfg.Reads.MaxWait = 1, time.Hour
	s := start(t, cfg)
	s.seedRuns()
	release, err := s.api.reads.acquire(context.Background())
	require.NoError(t, err)
	defer release()
	begin := time.Now()
	res, err := http.Get(s.base + "/api/traces/t2")
	require.NoError(t, err, "the connection was dropped")
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, res.StatusCode, "%s", b)
	assert.Contains(t, string(b), "read took too long")
	assert.Less(t, time.Since(begin), cfg.WriteTimeout)
}
