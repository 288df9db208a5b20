package argusexporter

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/arguslabs/argus-otel/exporter/argusexporter/internal/metadata"
)

// Reasons of otelcol_argusexporter_items_dropped (the reason attribute).
const (
	dropPermanent    = "permanent_error" // rows refused for their content that the quarantine did not take, or a trace none of whose rows can be stored
	dropPanic        = "panic"           // mapping or row building panicked
	dropInvalidAudit = "invalid_audit"   // an audit record missing required fields
	dropUnmapped     = "unmapped"        // a span without trace id, part of no run
)

// telemetry is the exporter's own metrics (internal/metadata), with the
// attribute each counter takes.
type telemetry struct {
	*metadata.TelemetryBuilder
}

func newTelemetry(set component.TelemetrySettings) (*telemetry, error) {
	tb, err := metadata.NewTelemetryBuilder(set)
	if err != nil {
		return nil, err
	}
	return &telemetry{tb}, nil
}

func (t *telemetry) rows(ctx context.Context, table string, n int) {
	if n > 0 {
		t.RowsWritten.Add(ctx, int64(n), metric.WithAttributes(attribute.String("table", table)))
	}
}

func (t *telemetry) quarantined(ctx context.Context, table string, n int) {
	if n > 0 {
		t.RowsQuarantined.Add(ctx, int64(n), metric.WithAttributes(attribute.String("table", table)))
	}
}

func (t *telemetry) dropped(ctx context.Context, reason string, n int) {
	if n > 0 {
		t.ItemsDropped.Add(ctx, int64(n), metric.WithAttributes(attribute.String("reason", reason)))
	}
}

// msgDropped is the line of the exporter's dropLog.
const msgDropped = "argus exporter dropped items that can never be written"

// dropLog reports dropped (or quarantined) items at most once per
// interval, with the count since the last report, so a broken store or a
// stream of bad records cannot flood the log.
type dropLog struct {
	logger   *zap.Logger
	msg      string
	prefix   string // of each count's field: "dropped_" + reason
	interval time.Duration
	now      func() time.Time

	mu      sync.Mutex
	last    time.Time
	pending map[string]int
	lastErr error
}

func newDropLog(logger *zap.Logger, interval time.Duration, msg, prefix string) *dropLog {
	return &dropLog{logger: logger, msg: msg, prefix: prefix, interval: interval, now: time.Now, pending: map[string]int{}}
}

func (d *dropLog) add(reason string, n int, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pending[reason] += n
	if err != nil {
		d.lastErr = err
	}
	now := d.now()
	if !d.last.IsZero() && now.Sub(d.last) < d.interval {
		return
	}
	d.flushLocked(now)
}

// flush logs what is pending regardless of the interval (on shutdown).
func (d *dropLog) flush() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.flushLocked(d.now())
}

func (d *dropLog) flushLocked(now time.Time) {
	if len(d.pending) == 0 {
		return
	}
	fields := make([]zap.Field, 0, len(d.pending)+1)
	for reason, n := range d.pending {
		fields = append(fields, zap.Int(d.prefix+reason, n))
	}
	if d.lastErr != nil {
		fields = append(fields, zap.NamedError("last_error", d.lastErr))
	}
	d.logger.Warn(d.msg, fields...)
	d.pending = map[string]int{}
	d.lastErr = nil
	d.last = now
}
