package metadata

import (
	"errors"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/metric"
)

// Metric names, as listed in metadata.yaml.
const (
	MetricRowsWritten       = "otelcol_argusexporter_rows_written"
	MetricItemsDropped      = "otelcol_argusexporter_items_dropped"
	MetricLogRecordsIgnored = "otelcol_argusexporter_log_records_ignored"
	MetricTracesPurged      = "otelcol_argusexporter_traces_purged"
	MetricRowsQuarantined   = "otelcol_argusexporter_rows_quarantined"
)

// TelemetryBuilder holds the exporter's instruments, created from the
// component's MeterProvider so they carry the collector's resource and
// component attributes.
type TelemetryBuilder struct {
	RowsWritten       metric.Int64Counter
	ItemsDropped      metric.Int64Counter
	LogRecordsIgnored metric.Int64Counter
	TracesPurged      metric.Int64Counter
	RowsQuarantined   metric.Int64Counter
}

// NewTelemetryBuilder creates every instrument; errors are joined.
func NewTelemetryBuilder(settings component.TelemetrySettings) (*TelemetryBuilder, error) {
	m := settings.MeterProvider.Meter(ScopeName)
	var b TelemetryBuilder
	var errs error
	counter := func(name, desc, unit string) metric.Int64Counter {
		c, err := m.Int64Counter(name, metric.WithDescription(desc), metric.WithUnit(unit))
		errs = errors.Join(errs, err)
		return c
	}
	b.RowsWritten = counter(MetricRowsWritten, "Rows written to the store, by table (traces, trace_steps, detections, forensics, audit_logs). [Alpha]", "{rows}")
	b.ItemsDropped = counter(MetricItemsDropped, "Spans or log records that will never be written, by reason (permanent_error, panic, invalid_audit, unmapped). [Alpha]", "{items}")
	b.LogRecordsIgnored = counter(MetricLogRecordsIgnored, "Log records without audit.* attributes, which are not audit records. [Alpha]", "{records}")
	b.TracesPurged = counter(MetricTracesPurged, "Traces deleted by the retention loop. [Alpha]", "{traces}")
	b.RowsQuarantined = counter(MetricRowsQuarantined, "Rows the database refused while it stored others (for their content, or for a reason a probe showed was theirs), kept in the quarantine table, by table. [Alpha]", "{rows}")
	return &b, errs
}
