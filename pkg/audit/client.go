package audit

import (
	"bytes"
	"context"
	"encoding/json"
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
	DefaultBatchSize     = 100
	DefaultFlushInterval = time.Second
	DefaultWorkers       = 2
	DefaultMaxAttempts   = 5
	DefaultTimeout       = 10 * time.Second
	// MaxBatchSize is the server's limit on one bulk request.
	MaxBatchSize = 1000
)

// bulkPath is the endpoint batches are posted to.
const bulkPath = "/api/audit-logs/bulk"

// maxAnswer bounds what is read of an answer.
const maxAnswer = 4 << 20

// Client sends audit events to the Argus API in the background: LogEvent
// puts them in a bounded queue, workers post batches to
// POST /api/audit-logs/bulk, retrying transient failures (network errors,
// 5xx, 429) with exponential backoff and jitter. Events the server refuses
// as invalid (400) are dropped and logged, never retried.
type Client struct {
	enabled  bool
	endpoint string
	o        options

	mu     sync.RWMutex // guards closed and the closing of queue
	closed bool
	queue  chan *AuditLogRequest

	ctx    context.Context // delivery; cancelled when Close gives up
	cancel context.CancelFunc
	wg     sync.WaitGroup

	delivered, dropped, rejected, failed atomic.Uint64

	logMu   sync.Mutex
	logNext time.Time
	logSkip int
}

var _ Auditor = (*Client)(nil)

// Stats counts what became of the events given to LogEvent.
type Stats struct {
	Delivered uint64 // stored by the server (or found already stored: a retry)
	Dropped   uint64 // not queued: queue full or client closed
	Rejected  uint64 // refused by the server as invalid or unauthorized
	Failed    uint64 // given up after MaxAttempts, or unsent when Close's ctx ended
}

type options struct {
	queueSize, batchSize, workers, maxAttempts int
	flushInterval, minBackoff, maxBackoff      time.Duration
	httpClient                                 *http.Client
	token                                      string
	logger                                     *slog.Logger
}

// Option configures a Client.
type Option func(*options)

// WithQueueSize bounds the events waiting to be sent (default 10000);
// LogEvent drops events beyond it.
func WithQueueSize(n int) Option { return func(o *options) { o.queueSize = n } }

// WithBatchSize sets the most events per request (default 100, at most 1000).
func WithBatchSize(n int) Option { return func(o *options) { o.batchSize = n } }

// WithFlushInterval is how long a partial batch waits for more events (default 1s).
func WithFlushInterval(d time.Duration) Option { return func(o *options) { o.flushInterval = d } }

// WithWorkers sets how many batches are sent at once (default 2).
func WithWorkers(n int) Option { return func(o *options) { o.workers = n } }

// WithRetry sets the attempts per batch (default 5) and the backoff
// between them, doubling from min up to max (default 200ms to 10s), each
// wait jittered.
func WithRetry(maxAttempts int, min, max time.Duration) Option {
	return func(o *options) { o.maxAttempts, o.minBackoff, o.maxBackoff = maxAttempts, min, max }
}

// WithHTTPClient replaces the HTTP client (default: 10s timeout), e.g. for TLS.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.httpClient = c } }

// WithAuthToken sends "Authorization: Bearer <token>" with every request.
func WithAuthToken(token string) Option { return func(o *options) { o.token = token } }

// WithLogger receives the client's few log lines: refused events (with
// the server's reason) and batches given up. Default: none.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// NewClient returns a client posting to the Argus API at baseURL (e.g.
// "http://localhost:8889"). An empty baseURL gives a disabled client whose
// LogEvent does nothing and returns false, so a service can run without an
// audit service configured. A baseURL that is not an http(s) URL also
// gives a disabled client, and the reason is logged.
func NewClient(baseURL string, opts ...Option) *Client {
	o := options{
		queueSize: DefaultQueueSize, batchSize: DefaultBatchSize, workers: DefaultWorkers,
		maxAttempts: DefaultMaxAttempts, flushInterval: DefaultFlushInterval,
		minBackoff: 200 * time.Millisecond, maxBackoff: 10 * time.Second,
		logger: slog.New(slog.DiscardHandler),
	}
	for _, opt := range opts {
		opt(&o)
	}
	o.queueSize = max(o.queueSize, 1)
	o.batchSize = min(max(o.batchSize, 1), MaxBatchSize)
	o.workers = max(o.workers, 1)
	o.maxAttempts = max(o.maxAttempts, 1)
	o.minBackoff = max(o.minBackoff, time.Millisecond)
	o.maxBackoff = max(o.maxBackoff, o.minBackoff)
	if o.flushInterval <= 0 {
		o.flushInterval = DefaultFlushInterval
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
	c.queue = make(chan *AuditLogRequest, o.queueSize)
	c.ctx, c.cancel = context.WithCancel(context.Background())
	for range o.workers {
		c.wg.Add(1)
		go c.worker()
	}
	return c
}

// IsEnabled reports whether the client delivers events.
func (c *Client) IsEnabled() bool { return c.enabled }

// LogEvent queues a copy of event and returns at once: true when it was
// queued, false when the client is disabled or closed, or the queue is
// full (counted in Dropped). An empty Timestamp becomes now, an empty ID a
// random UUID, and an empty TraceID the trace of the span in ctx, if any.
// ctx is not used for delivery, which outlives the caller's request.
func (c *Client) LogEvent(ctx context.Context, event *AuditLogRequest) bool {
	if !c.enabled || event == nil {
		return false
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
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		c.dropped.Add(1)
		return false
	}
	select {
	case c.queue <- &e:
		return true
	default:
		c.dropped.Add(1)
		return false
	}
}

// Dropped is how many events LogEvent could not queue.
func (c *Client) Dropped() uint64 { return c.dropped.Load() }

// Stats counts what became of the events so far.
func (c *Client) Stats() Stats {
	return Stats{Delivered: c.delivered.Load(), Dropped: c.dropped.Load(),
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
	batch := make([]*AuditLogRequest, 0, c.o.batchSize)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	flush := func() {
		if len(batch) > 0 {
			c.send(batch)
			batch = make([]*AuditLogRequest, 0, c.o.batchSize)
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

// send delivers one batch, retrying what may pass.
func (c *Client) send(batch []*AuditLogRequest) {
	pending := batch
	for attempt := 1; ; attempt++ {
		if c.ctx.Err() != nil {
			c.failed.Add(uint64(len(pending)))
			return
		}
		retry, err := c.post(pending)
		if len(retry) == 0 {
			return
		}
		if attempt >= c.o.maxAttempts || c.ctx.Err() != nil {
			c.failed.Add(uint64(len(retry)))
			c.logf("audit: events not delivered after retries", "events", len(retry), "attempts", attempt, "error", err)
			return
		}
		pending = retry
		if !c.sleep(c.backoff(attempt)) {
			c.failed.Add(uint64(len(pending)))
			return
		}
	}
}

// post sends one request and sorts the answer: what is stored counts as
// delivered, what is refused as rejected; it returns what to try again.
func (c *Client) post(batch []*AuditLogRequest) (retry []*AuditLogRequest, err error) {
	body, err := json.Marshal(batch)
	if err != nil { // a Metadata value that cannot be encoded
		c.reject(batch, "cannot encode: "+err.Error())
		return nil, nil
	}
	req, err := http.NewRequestWithContext(c.ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		c.reject(batch, err.Error())
		return nil, nil
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "argus-audit-go/1")
	if c.o.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.o.token)
	}
	res, err := c.o.httpClient.Do(req)
	if err != nil {
		return batch, err // network: the request may or may not have been stored; ids make a retry safe
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	var ans BulkAuditLogResponse
	hasItems := json.Unmarshal(raw, &ans) == nil && (ans.Failed != nil || ans.Logs != nil)

	switch {
	case res.StatusCode == http.StatusCreated:
		c.delivered.Add(uint64(len(batch)))
		return nil, nil
	case hasItems && (res.StatusCode == http.StatusMultiStatus || res.StatusCode == http.StatusBadRequest ||
		res.StatusCode == http.StatusConflict || res.StatusCode == http.StatusServiceUnavailable):
		return c.sortItems(batch, ans), fmt.Errorf("HTTP %d: %s", res.StatusCode, ans.Details)
	case res.StatusCode == http.StatusRequestEntityTooLarge && len(batch) > 1:
		// Too large for the server's max_request_body_size: halve it.
		half := len(batch) / 2
		c.send(batch[:half])
		c.send(batch[half:])
		return nil, nil
	case res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500:
		return batch, fmt.Errorf("HTTP %d: %s", res.StatusCode, reason(raw))
	}
	c.reject(batch, fmt.Sprintf("HTTP %d: %s", res.StatusCode, reason(raw)))
	return nil, nil
}

// sortItems reads a bulk answer's per-item results.
func (c *Client) sortItems(batch []*AuditLogRequest, ans BulkAuditLogResponse) []*AuditLogRequest {
	var retry []*AuditLogRequest
	ok := len(batch)
	rejected, first := 0, ""
	for _, f := range ans.Failed {
		if f.Index < 0 || f.Index >= len(batch) {
			continue
		}
		switch {
		case f.Status == http.StatusConflict: // stored by an earlier attempt
		case f.Status >= 500 || f.Status == http.StatusTooManyRequests:
			retry = append(retry, batch[f.Index])
			ok--
		default:
			rejected++
			ok--
			if first == "" {
				first = fmt.Sprintf("event %d (%s %s): %s", f.Index, batch[f.Index].EventType, batch[f.Index].ID, f.Error)
			}
		}
	}
	c.delivered.Add(uint64(ok))
	if rejected > 0 {
		c.rejected.Add(uint64(rejected))
		c.logf("audit: events refused by the server", "events", rejected, "reason", first)
	}
	return retry
}

func (c *Client) reject(batch []*AuditLogRequest, why string) {
	c.rejected.Add(uint64(len(batch)))
	c.logf("audit: events refused by the server", "events", len(batch), "reason", why)
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
