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

// Reasons of otelcol_argusexporter_items_dropped.
const (
	dropPermanent    = "permanent_error" // the store refused the batch for good
	dropPanic        = "panic"           // mapping or row building panicked
	dropInvalidAudit = "invalid_audit"   // an audit record missing required fields
	dropUnmapped     = "unmapped"        // a span without trace id, part of no run
)

// telemetry is the exporter's own metrics, through the component's MeterProvider.
type telemetry struct {
	rowsWritten     metric.Int64Counter
	itemsDropped    metric.Int64Counter
	recordsIgnored  metric.Int64Counter
	tracesPurged    metric.Int64Counter
	quarantinedRows metric.Int64Counter
}

func newTelemetry(set component.TelemetrySettings) (*telemetry, error) {
	m := set.MeterProvider.Meter(metadata.ScopeName)
	var t telemetry
	var err error
	if t.rowsWritten, err = m.Int64Counter("otelcol_argusexporter_rows_written",
		metric.WithDescription("Rows written to the store, by table."),
		metric.WithUnit("{rows}")); err != nil {
		return nil, err
	}
	if t.itemsDropped, err = m.Int64Counter("otelcol_argusexporter_items_dropped",
		metric.WithDescription("Spans or log records that will never be written, by reason."),
		metric.WithUnit("{items}")); err != nil {
		return nil, err
	}
	if t.recordsIgnored, err = m.Int64Counter("otelcol_argusexporter_log_records_ignored",
		metric.WithDescription("Log records without audit.* attributes, which are not audit records."),
		metric.WithUnit("{records}")); err != nil {
		return nil, err
	}
	if t.tracesPurged, err = m.Int64Counter("otelcol_argusexporter_traces_purged",
		metric.WithDescription("Traces deleted by the retention loop."),
		metric.WithUnit("{traces}")); err != nil {
		return nil, err
	}
	if t.quarantinedRows, err = m.Int64Counter("otelcol_argusexporter_rows_quarantined",
		metric.WithDescription("Rows the database refused for their content, kept in the quarantine table, by table."),
		metric.WithUnit("{rows}")); err != nil {
		return nil, err
	}
	return &t, nil
}

func (t *telemetry) rows(ctx context.Context, table string, n int) {
	if n > 0 {
		t.rowsWritten.Add(ctx, int64(n), metric.WithAttributes(attribute.String("table", table)))
	}
}

func (t *telemetry) quarantined(ctx context.Context, table string, n int) {
	if n > 0 {
		t.quarantinedRows.Add(ctx, int64(n), metric.WithAttributes(attribute.String("table", table)))
	}
}

func (t *telemetry) dropped(ctx context.Context, reason string, n int) {
	if n > 0 {
		t.itemsDropped.Add(ctx, int64(n), metric.WithAttributes(attribute.String("reason", reason)))
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
