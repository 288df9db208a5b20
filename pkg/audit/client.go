package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"
)

// Defaults of the options.
const (
	DefaultQueueSize     = 10000
	DefaultMaxQueueBytes = 64 << 20
	DefaultBatchSize     = 100
	DefaultFlushInterval = time.Second
	DefaultWorkers       = 2
	// DefaultMaxAttempts 0 is no limit on attempts: retries end when the
	// retry window ends, so an outage of minutes loses nothing.
	DefaultMaxAttempts = 0
	DefaultRetryWindow = 15 * time.Minute
	DefaultTimeout     = 10 * time.Second
	// MaxBatchSize is the server's limit on one bulk request.
	MaxBatchSize = 1000
)

// Why Enqueue refused an event (LogEvent returns false for each).
var (
	ErrDisabled     = errors.New("audit: client disabled")
	ErrClosed       = errors.New("audit: client closed")
	ErrQueueFull    = errors.New("audit: queue full")
	ErrInvalidEvent = errors.New("audit: invalid event")
)

// bulkPath is the endpoint batches are posted to.
const bulkPath = "/api/audit-logs/bulk"

// maxAnswer bounds what is read of an answer. Batches ask for the compact
// answer (no stored records), which is far below it; a longer answer from
// a server that ignores the ask makes the batch split (see post).
const maxAnswer = 4 << 20

// Client sends audit events to the Argus API in the background: LogEvent
// encodes each event and puts it in a bounded queue, workers post batches
// to POST /api/audit-logs/bulk, retrying transient failures (network
// errors, 5xx, 429) with exponential backoff and jitter for the retry
// window. Events the server refuses as invalid (400) are dropped and
// logged, never retried.
type Client struct {
	enabled  bool
	endpoint string
	o        options

	mu     sync.RWMutex // guards closed and the closing of queue
	closed bool
	queue  chan queued
	held   atomic.Int64 // bytes of the accepted events not yet settled

	ctx    context.Context // delivery; cancelled when Close gives up
	cancel context.CancelFunc
	wg     sync.WaitGroup

	delivered, dropped, invalid, rejected, failed atomic.Uint64

	logMu   sync.Mutex
	logNext time.Time
	logSkip int
}

var _ Auditor = (*Client)(nil)

// queued is one accepted event, encoded when LogEvent took it: nothing
// of the caller's is shared after the call.
type queued struct {
	json     []byte    // the event as the server takes it
	id, kind string    // ID and EventType, for log lines
	accepted time.Time // retries end a retry window after this
}

// Stats counts what became of the events given to LogEvent. Every call
// on an enabled client ends in exactly one of them (an accepted event
// once it is settled).
type Stats struct {
	Delivered uint64 // stored by the server (or found already stored: a retry)
	Dropped   uint64 // not queued: queue full or client closed
	Invalid   uint64 // not queued: nil, or cannot be encoded as JSON (NaN, ±Inf, a func...)
	Rejected  uint64 // refused by the server as invalid or unauthorized
	Failed    uint64 // given up after the retry window or attempts, or unsent when Close's ctx ended
}

type options struct {
	queueSize, maxQueueBytes, batchSize, workers, maxAttempts int
	flushInterval, minBackoff, maxBackoff, retryWindow        time.Duration
	httpClient                                                *http.Client
	token                                                     string
	logger                                                    *slog.Logger
}

// Option configures a Client.
type Option func(*options)

// WithQueueSize bounds the events waiting to be sent (default 10000);
// LogEvent drops events beyond it.
func WithQueueSize(n int) Option { return func(o *options) { o.queueSize = n } }

// WithMaxQueueBytes bounds the memory of the accepted events not yet
// delivered, as encoded JSON (default 64 MiB); LogEvent drops events
// beyond it.
func WithMaxQueueBytes(n int) Option { return func(o *options) { o.maxQueueBytes = n } }

// WithBatchSize sets the most events per request (default 100, at most 1000).
func WithBatchSize(n int) Option { return func(o *options) { o.batchSize = n } }

// WithFlushInterval is how long a partial batch waits for more events (default 1s).
func WithFlushInterval(d time.Duration) Option { return func(o *options) { o.flushInterval = d } }

// WithWorkers sets how many batches are sent at once (default 2).
func WithWorkers(n int) Option { return func(o *options) { o.workers = n } }

// WithRetry sets the attempts per batch (default 0: no limit, only the
// retry window) and the backoff between them, doubling from min up to max
// (default 200ms to 10s), each wait jittered.
func WithRetry(maxAttempts int, min, max time.Duration) Option {
	return func(o *options) { o.maxAttempts, o.minBackoff, o.maxBackoff = maxAttempts, min, max }
}

// WithRetryWindow is how long after LogEvent accepted an event the client
// keeps retrying it (default 15 minutes); then it is counted Failed.
func WithRetryWindow(d time.Duration) Option { return func(o *options) { o.retryWindow = d } }

// WithHTTPClient replaces the HTTP client (default: 10s timeout), e.g. for TLS.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.httpClient = c } }

// WithAuthToken sends "Authorization: Bearer <token>" with every request.
func WithAuthToken(token string) Option { return func(o *options) { o.token = token } }

// WithLogger receives the client's few log lines, at most one per 10 s:
// invalid events, events refused (with the server's reason) and events
// given up. Default: none.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// NewClient returns a client posting to the Argus API at baseURL (e.g.
// "http://localhost:8889"). An empty baseURL gives a disabled client whose
// LogEvent does nothing and returns false, so a service can run without an
// audit service configured. A baseURL that is not an http(s) URL also
// gives a disabled client, and the reason is logged.
func NewClient(baseURL string, opts ...Option) *Client {
	o := options{
		queueSize: DefaultQueueSize, maxQueueBytes: DefaultMaxQueueBytes, batchSize: DefaultBatchSize,
		workers: DefaultWorkers, maxAttempts: DefaultMaxAttempts, retryWindow: DefaultRetryWindow,
		flushInterval: DefaultFlushInterval, minBackoff: 200 * time.Millisecond, maxBackoff: 10 * time.Second,
		logger: slog.New(slog.DiscardHandler),
	}
	for _, opt := range opts {
		opt(&o)
	}
	o.queueSize = max(o.queueSize, 1)
	o.maxQueueBytes = max(o.maxQueueBytes, 1)
	o.batchSize = min(max(o.batchSize, 1), MaxBatchSize)
	o.workers = max(o.workers, 1)
	o.maxAttempts = max(o.maxAttempts, 0)
	o.minBackoff = max(o.minBackoff, time.Millisecond)
	o.maxBackoff = max(o.maxBackoff, o.minBackoff)
	if o.flushInterval <= 0 {
		o.flushInterval = DefaultFlushInterval
	}
	if o.retryWindow <= 0 {
		o.retryWindow = DefaultRetryWindow
	}
	if o.httpClient == nil {
		o.httpClient = &http.Client{Timeout: DefaultTimeout}
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	c := &Client{o: o}
	if baseURL == "" {
		return c
	}
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		o.logger.Error("audit: disabled: the base URL is not an http(s) URL", "url", baseURL)
		return c
	}
	c.enabled = true
	c.endpoint = strings.TrimRight(baseURL, "/") + bulkPath
	c.queue = make(chan queued, o.queueSize)
	c.ctx, c.cancel = context.WithCancel(context.Background())
	for range o.workers {
		c.wg.Add(1)
		go c.worker()
	}
	return c
}

// IsEnabled reports whether the client delivers events.
func (c *Client) IsEnabled() bool { return c.enabled }

// LogEvent queues event and returns at once: true when it was queued,
// false when Enqueue returns an error (the reason). It never blocks.
func (c *Client) LogEvent(ctx context.Context, event *AuditLogRequest) bool {
	return c.Enqueue(ctx, event) == nil
}

// Enqueue encodes event as JSON and queues the bytes, so the caller may
// change or reuse event and its Metadata as soon as it returns. It never
// blocks. It returns nil when the event was queued, or why not:
// ErrDisabled; ErrInvalidEvent (wrapped with the reason: nil, or a value
// JSON cannot hold, such as NaN, ±Inf, a func or a channel), counted in
// Invalid; ErrClosed or ErrQueueFull, counted in Dropped. An empty
// Timestamp becomes now, an empty ID a random UUID, and an empty TraceID
// the trace of the span in ctx, if any. ctx is not used for delivery,
// which outlives the caller's request.
func (c *Client) Enqueue(ctx context.Context, event *AuditLogRequest) error {
	if !c.enabled {
		return ErrDisabled
	}
	if event == nil {
		return c.refuseInvalid("", errors.New("nil event"))
	}
	e := *event
	if e.Timestamp.IsZero() {
		e.Timestamp = time.Now().UTC()
	}
	if e.ID == "" {
		e.ID = uuid.NewString()
	}
	if e.TraceID == "" && ctx != nil {
		if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
			e.TraceID = sc.TraceID().String()
		}
	}
	raw, err := json.Marshal(&e)
	switch {
	case err != nil:
		return c.refuseInvalid(e.ID, fmt.Errorf("cannot encode as JSON: %w", err))
	case len(raw) > c.o.maxQueueBytes:
		return c.refuseInvalid(e.ID, fmt.Errorf("%d bytes as JSON, over the queue's %d bytes", len(raw), c.o.maxQueueBytes))
	}
	q := queued{json: raw, id: e.ID, kind: e.EventType, accepted: time.Now()}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		c.dropped.Add(1)
		return ErrClosed
	}
	if c.held.Add(int64(len(raw))) > int64(c.o.maxQueueBytes) {
		c.held.Add(-int64(len(raw)))
		c.dropped.Add(1)
		return ErrQueueFull
	}
	select {
	case c.queue <- q:
		return nil
	default:
		c.held.Add(-int64(len(raw)))
		c.dropped.Add(1)
		return ErrQueueFull
	}
}

// refuseInvalid counts an event Enqueue cannot take and says why.
func (c *Client) refuseInvalid(id string, why error) error {
	c.invalid.Add(1)
	c.logf("audit: event refused: invalid", "id", id, "reason", why.Error())
	return fmt.Errorf("%w: %w", ErrInvalidEvent, why)
}

// Dropped is how many events LogEvent could not queue because the queue
// was full or the client closed (invalid events are counted in Stats.Invalid).
func (c *Client) Dropped() uint64 { return c.dropped.Load() }

// Stats counts what became of the events so far.
func (c *Client) Stats() Stats {
	return Stats{Delivered: c.delivered.Load(), Dropped: c.dropped.Load(), Invalid: c.invalid.Load(),
		Rejected: c.rejected.Load(), Failed: c.failed.Load()}
}

// Close stops accepting events and delivers those queued, retrying as
// usual, until ctx ends; then it abandons the rest (counted in Failed)
// and returns ctx's error. Later calls return nil at once.
func (c *Client) Close(ctx context.Context) error {
	if !c.enabled {
		return nil
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.queue)
	c.mu.Unlock()
	failedBefore := c.failed.Load()

	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	select {
	case <-done:
		c.cancel()
		return nil
	case <-ctx.Done():
		c.cancel() // in-flight requests and backoffs end; workers count the rest as failed
		<-done
		return fmt.Errorf("audit: close: %d events abandoned: %w", c.failed.Load()-failedBefore, ctx.Err())
	}
}

// worker collects batches from the queue: a batch goes out when full, or
// flushInterval after its first event, or when the queue is closed.
func (c *Client) worker() {
	defer c.wg.Done()
	batch := make([]queued, 0, c.o.batchSize)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	flush := func() {
		if len(batch) > 0 {
			c.send(batch)
			batch = make([]queued, 0, c.o.batchSize)
		}
	}
	for {
		select {
		case e, ok := <-c.queue:
			if !ok {
				flush()
				return
			}
			batch = append(batch, e)
			if len(batch) == 1 {
				timer.Reset(c.o.flushInterval)
			}
			if len(batch) >= c.o.batchSize {
				timer.Stop()
				flush()
			}
		case <-timer.C:
			flush()
		}
	}
}

// send delivers one batch, retrying what may pass until each event's
// retry window (or the attempts) ends.
func (c *Client) send(batch []queued) {
	pending := batch
	for attempt := 1; ; attempt++ {
		if c.ctx.Err() != nil {
			c.settle(pending, &c.failed)
			return
		}
		retry, err := c.post(pending)
		now := time.Now()
		keep := retry[:0] // retry may be pending itself: filter in place
		var expired []queued
		for _, q := range retry {
			if (c.o.maxAttempts > 0 && attempt >= c.o.maxAttempts) || now.Sub(q.accepted) >= c.o.retryWindow {
				expired = append(expired, q)
			} else {
				keep = append(keep, q)
			}
		}
		if len(expired) > 0 {
			c.settle(expired, &c.failed)
			c.logf("audit: events not delivered after retries", "events", len(expired), "attempts", attempt, "error", err)
		}
		if len(keep) == 0 {
			return
		}
		pending = keep
		if !c.sleep(c.backoff(attempt)) {
			c.settle(pending, &c.failed)
			return
		}
	}
}

// bulkAnswer is what the client reads of a bulk answer: the failures
// only, so the stored records a server may repeat are never decoded.
type bulkAnswer struct {
	Error   string        `json:"error"`
	Details string        `json:"details"`
	Failed  []BulkFailure `json:"failed"`
}

// post sends one request and sorts the answer: what is stored counts as
// delivered, what is refused as rejected; it returns what to try again.
func (c *Client) post(batch []queued) (retry []queued, err error) {
	req, err := http.NewRequestWithContext(c.ctx, http.MethodPost, c.endpoint, bytes.NewReader(encodeBatch(batch)))
	if err != nil {
		c.reject(batch, err.Error())
		return nil, nil
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "argus-audit-go/1")
	req.Header.Set("Prefer", "return=minimal") // failures only, not every stored record
	if c.o.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.o.token)
	}
	res, err := c.o.httpClient.Do(req)
	if err != nil {
		return batch, err // network: the request may or may not have been stored; ids make a retry safe
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxAnswer)) // reuse the connection
		res.Body.Close()
	}()
	if res.StatusCode == http.StatusCreated {
		c.settle(batch, &c.delivered)
		return nil, nil
	}
	raw, _ := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	var ans bulkAnswer
	hasItems := json.Unmarshal(raw, &ans) == nil && ans.Failed != nil

	switch {
	case hasItems && (res.StatusCode == http.StatusMultiStatus || res.StatusCode == http.StatusBadRequest ||
		res.StatusCode == http.StatusConflict || res.StatusCode == http.StatusServiceUnavailable):
		return c.sortItems(batch, ans), fmt.Errorf("HTTP %d: %s", res.StatusCode, ans.Details)
	case (res.StatusCode == http.StatusRequestEntityTooLarge || res.StatusCode == http.StatusMultiStatus) && len(batch) > 1:
		// 413: too large for the server's max_request_body_size. A 207
		// not read whole (over maxAnswer): some are stored, which is not
		// known. Halves, resent, have shorter answers; what is already
		// stored comes back 409, counted delivered.
		half := len(batch) / 2
		c.send(batch[:half])
		c.send(batch[half:])
		return nil, nil
	case res.StatusCode == http.StatusMultiStatus || res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500:
		return batch, fmt.Errorf("HTTP %d: %s", res.StatusCode, reason(raw))
	}
	c.reject(batch, fmt.Sprintf("HTTP %d: %s", res.StatusCode, reason(raw)))
	return nil, nil
}

// encodeBatch is the JSON array of the events, as the bulk endpoint takes it.
func encodeBatch(batch []queued) []byte {
	n := 2 + len(batch)
	for _, q := range batch {
		n += len(q.json)
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	for i, q := range batch {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, q.json...)
	}
	return append(b, ']')
}

// sortItems reads a bulk answer's per-item results: an item not listed
// as failed is stored, and so is one already stored (409: an earlier
// attempt stored it).
func (c *Client) sortItems(batch []queued, ans bulkAnswer) (retry []queued) {
	const (
		stored = iota
		again
		refused
	)
	fate := make([]uint8, len(batch))
	first := ""
	for _, f := range ans.Failed {
		if f.Index < 0 || f.Index >= len(batch) {
			continue
		}
		switch {
		case f.Status == http.StatusConflict:
		case f.Status >= 500 || f.Status == http.StatusTooManyRequests:
			fate[f.Index] = again
		default:
			fate[f.Index] = refused
			if first == "" {
				first = fmt.Sprintf("event %d (%s %s): %s", f.Index, batch[f.Index].kind, batch[f.Index].id, f.Error)
			}
		}
	}
	var ok, bad []queued
	for i, q := range batch {
		switch fate[i] {
		case stored:
			ok = append(ok, q)
		case again:
			retry = append(retry, q)
		default:
			bad = append(bad, q)
		}
	}
	c.settle(ok, &c.delivered)
	if len(bad) > 0 {
		c.settle(bad, &c.rejected)
		c.logf("audit: events refused by the server", "events", len(bad), "reason", first)
	}
	return retry
}

func (c *Client) reject(batch []queued, why string) {
	c.settle(batch, &c.rejected)
	c.logf("audit: events refused by the server", "events", len(batch), "reason", why)
}

// settle counts events whose fate is known and frees their bytes.
func (c *Client) settle(events []queued, counter *atomic.Uint64) {
	counter.Add(uint64(len(events)))
	n := 0
	for _, q := range events {
		n += len(q.json)
	}
	c.held.Add(-int64(n))
}

// logf logs at most once every 10 seconds, so a misconfigured client never
// floods its service's log; the lines skipped meanwhile are counted.
func (c *Client) logf(msg string, args ...any) {
	c.logMu.Lock()
	now := time.Now()
	if now.Before(c.logNext) {
		c.logSkip++
		c.logMu.Unlock()
		return
	}
	skipped := c.logSkip
	c.logNext, c.logSkip = now.Add(10*time.Second), 0
	c.logMu.Unlock()
	if skipped > 0 {
		args = append(args, "similar_lines_skipped", skipped)
	}
	c.o.logger.Warn(msg, args...)
}

// backoff is the wait before attempt+1: doubling from minBackoff, capped,
// with "equal jitter" (half fixed, half random) so clients spread out.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.o.minBackoff
	for i := 1; i < attempt && d < c.o.maxBackoff; i++ {
		d *= 2
	}
	d = min(d, c.o.maxBackoff)
	return d/2 + rand.N(d/2+1)
}

func (c *Client) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.ctx.Done():
		return false
	}
}

// reason is the server's error text, or the start of the body.
func reason(raw []byte) string {
	var e ErrorResponse
	if json.Unmarshal(raw, &e) == nil && e.Error != "" {
		if e.Details != "" {
			return e.Error + ": " + e.Details
		}
		return e.Error
	}
	s := strings.TrimSpace(string(raw))
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
