package argusapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/arguslabs/argus-otel/store"
)

// heavyReads bounds the reads whose cost grows with the run read (a run's
// JSON, report or page): at most cap(slots) at once, each holding at most
// one page of steps, so concurrent reads of the largest run stay inside a
// known memory budget. Others wait up to wait, then get a 503.
type heavyReads struct {
	slots   chan struct{}
	wait    time.Duration
	refused atomic.Int64
	logged  atomic.Int64 // unix seconds of the last "refused" log line
	logger  *zap.Logger
}

func newHeavyReads(cfg ReadsConfig, logger *zap.Logger) *heavyReads {
	return &heavyReads{slots: make(chan struct{}, cfg.MaxConcurrent), wait: cfg.MaxWait, logger: logger}
}

// acquire takes a slot; release it when the answer is written.
func (h *heavyReads) acquire(ctx context.Context) (release func(), err error) {
	timer := time.NewTimer(h.wait)
	defer timer.Stop()
	select {
	case h.slots <- struct{}{}:
		return func() { <-h.slots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-timer.C:
	}
	n := h.refused.Add(1)
	// At most one line a minute, with the running count.
	if now := time.Now().Unix(); h.logged.Load() <= now-60 {
		h.logged.Store(now)
		h.logger.Warn("argusapi: run reads refused: too many at once", zap.Int("max_concurrent", cap(h.slots)),
			zap.Int64("refused_total", n))
	}
	return nil, &apiError{status: http.StatusServiceUnavailable, msg: "too many concurrent reads",
		details: fmt.Sprintf("%d reads of runs are in progress (reads::max_concurrent); %d refused since start; retry", cap(h.slots), n)}
}

// readTimeout turns a read cut short by its deadline into a 503 to retry.
func readTimeout(ctx context.Context, err error) error {
	if ctx.Err() == context.DeadlineExceeded {
		return &apiError{status: http.StatusServiceUnavailable, msg: "read took too long",
			details: "the run could not be read before the server's write_timeout; retry (fewer steps: stepsLimit)"}
	}
	return err
}

// stepWindow reads the step paging parameters: stepsAfter (a step
// number, default 0) and stepsLimit (1 to store.MaxStepPage, default
// store.DefaultStepPage).
func (p *params) stepWindow(maxBytes int) (store.StepWindow, error) {
	w := store.StepWindow{MaxBytes: maxBytes}
	if v := p.str("stepsAfter"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return w, badParam("stepsAfter", "%q is not a non-negative step number", v)
		}
		w.After = n
	}
	if v := p.str("stepsLimit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > store.MaxStepPage {
			return w, badParam("stepsLimit", "%q is not an integer from 1 to %d", v, store.MaxStepPage)
		}
		w.Limit = n
	}
	return w, nil
}
