package metadata

import (
	"errors"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/metric"
)

// Metric names, as listed in metadata.yaml.
const (
	MetricSpansReceived     = "otelcol_argusdetector_spans_received"
	MetricSpansLate         = "otelcol_argusdetector_spans_late"
	MetricTracesReleased    = "otelcol_argusdetector_traces_released"
	MetricTracesInBuffer    = "otelcol_argusdetector_traces_in_buffer"
	MetricBytesInBuffer     = "otelcol_argusdetector_bytes_in_buffer"
	MetricDetections        = "otelcol_argusdetector_detections"
	MetricRuns              = "otelcol_argusdetector_runs"
	MetricTracesSkipped     = "otelcol_argusdetector_traces_skipped"
	MetricDetectionPanics   = "otelcol_argusdetector_detection_panics"
	MetricDetectionDuration = "otelcol_argusdetector_detection_duration"
	MetricForwardErrors     = "otelcol_argusdetector_forward_errors"
	MetricForwardRetries    = "otelcol_argusdetector_forward_retries"
	MetricRunsParked        = "otelcol_argusdetector_runs_parked"
	MetricBaselineErrors    = "otelcol_argusdetector_baseline_errors"
	MetricWALRecords        = "otelcol_argusdetector_wal_records"
	MetricWALBytes          = "otelcol_argusdetector_wal_bytes"
	MetricWALReplayed       = "otelcol_argusdetector_wal_replayed_records"
	MetricWALWriteErrors    = "otelcol_argusdetector_wal_write_errors"
	MetricWALReplayErrors   = "otelcol_argusdetector_wal_replay_errors"
	MetricWALReadErrors     = "otelcol_argusdetector_wal_read_errors"
	MetricSpansInProgress   = "otelcol_argusdetector_spans_in_progress"
	MetricRunsInProgress    = "otelcol_argusdetector_runs_in_progress"
	MetricBacklogBytes      = "otelcol_argusdetector_backlog_bytes"
	MetricSpansRefused      = "otelcol_argusdetector_spans_refused"
)

// TelemetryBuilder holds the processor's instruments, created from the
// component's MeterProvider so they carry the collector's resource and
// component attributes.
type TelemetryBuilder struct {
	SpansReceived     metric.Int64Counter
	SpansLate         metric.Int64Counter
	TracesReleased    metric.Int64Counter
	TracesInBuffer    metric.Int64UpDownCounter
	BytesInBuffer     metric.Int64UpDownCounter
	Detections        metric.Int64Counter
	Runs              metric.Int64Counter
	TracesSkipped     metric.Int64Counter
	DetectionPanics   metric.Int64Counter
	DetectionDuration metric.Float64Histogram
	ForwardErrors     metric.Int64Counter
	ForwardRetries    metric.Int64Counter
	RunsParked        metric.Int64Counter
	BaselineErrors    metric.Int64Counter

	WALRecords         metric.Int64UpDownCounter
	WALBytes           metric.Int64UpDownCounter
	WALReplayedRecords metric.Int64Counter
	WALWriteErrors     metric.Int64Counter
	WALReplayErrors    metric.Int64Counter
	WALReadErrors      metric.Int64Counter

	SpansInProgress metric.Int64Counter
	RunsInProgress  metric.Int64UpDownCounter
	BacklogBytes    metric.Int64UpDownCounter

	SpansRefused metric.Int64Counter
}

// NewTelemetryBuilder creates every instrument; errors are joined.
func NewTelemetryBuilder(settings component.TelemetrySettings) (*TelemetryBuilder, error) {
	m := settings.MeterProvider.Meter(ScopeName)
	var b TelemetryBuilder
	var err, errs error
	counter := func(name, desc, unit string) metric.Int64Counter {
		c, e := m.Int64Counter(name, metric.WithDescription(desc), metric.WithUnit(unit))
		errs = errors.Join(errs, e)
		return c
	}
	upDown := func(name, desc, unit string) metric.Int64UpDownCounter {
		c, e := m.Int64UpDownCounter(name, metric.WithDescription(desc), metric.WithUnit(unit))
		errs = errors.Join(errs, e)
		return c
	}
	b.SpansReceived = counter(MetricSpansReceived, "Spans received by the processor. [Alpha]", "{span}")
	b.SpansLate = counter(MetricSpansLate, "Spans that arrived after their trace was released; forwarded marked argus.late. [Alpha]", "{span}")
	b.TracesReleased = counter(MetricTracesReleased, "Runs released from the buffer, by reason (root_quiet, max_run_duration, evicted, shutdown). [Alpha]", "{trace}")
	b.Detections = counter(MetricDetections, "Findings written onto spans, by layer and severity. [Alpha]", "{detection}")
	b.Runs = counter(MetricRuns, "Runs analyzed, by status (ok, warning, failed). [Alpha]", "{run}")
	b.TracesSkipped = counter(MetricTracesSkipped, "Traces forwarded unanalysed and not stored as runs, by reason (not_agent_run). [Alpha]", "{trace}")
	b.DetectionPanics = counter(MetricDetectionPanics, "Traces whose mapping or detection panicked; forwarded unannotated. [Alpha]", "{trace}")
	b.ForwardErrors = counter(MetricForwardErrors, "Spans dropped because the next consumer refused them permanently, or still refused them at shutdown, or for forward_retry_limit without a write-ahead log. [Alpha]", "{span}")
	b.ForwardRetries = counter(MetricForwardRetries, "Forwards the next consumer refused for now (e.g. its queue was full); the spans are held and offered again. [Alpha]", "{request}")
	b.RunsParked = counter(MetricRunsParked, "Runs the next consumer refused for forward_retry_limit while it took others; kept in the write-ahead log and offered again every forward_retry_limit. [Alpha]", "{run}")
	b.BaselineErrors = counter(MetricBaselineErrors, "Failed baseline restores and saves, by operation (restore, save). [Alpha]", "{error}")
	b.WALReplayedRecords = counter(MetricWALReplayed, "Write-ahead log records replayed into the buffer at start. [Alpha]", "{record}")
	b.WALWriteErrors = counter(MetricWALWriteErrors, "Failed write-ahead log writes, by operation (append, delete). [Alpha]", "{error}")
	b.WALReplayErrors = counter(MetricWALReplayErrors, "Write-ahead log records that could not be decoded at start; deleted. [Alpha]", "{record}")
	b.WALReadErrors = counter(MetricWALReadErrors, "Write-ahead log records of runs in progress that could not be read back at completion; the run is analysed without them. [Alpha]", "{record}")
	b.SpansInProgress = counter(MetricSpansInProgress, "Spans forwarded unanalysed, marked argus.analysis=in_progress, because their run was still going after progress_interval. [Alpha]", "{span}")
	b.RunsInProgress = upDown(MetricRunsInProgress, "Runs forwarded in progress and not complete yet. [Alpha]", "{run}")
	b.BacklogBytes = upDown(MetricBacklogBytes, "Bytes of write-ahead log records kept for runs in progress (bounded by wal.max_backlog_bytes). [Alpha]", "By")
	b.SpansRefused = counter(MetricSpansRefused, "Spans refused with a permanent error the client sees, an all-zero trace id. [Alpha]", "{span}")
	b.WALRecords = upDown(MetricWALRecords, "Records held in the write-ahead log. [Alpha]", "{record}")
	b.WALBytes = upDown(MetricWALBytes, "Bytes of the records held in the write-ahead log. [Alpha]", "By")
	b.TracesInBuffer = upDown(MetricTracesInBuffer, "Traces held in the buffer. [Alpha]", "{trace}")
	b.BytesInBuffer = upDown(MetricBytesInBuffer, "Estimated (OTLP proto) size of the spans held in the buffer. [Alpha]", "By")
	b.DetectionDuration, err = m.Float64Histogram(MetricDetectionDuration,
		metric.WithDescription("Time to map, analyze and annotate one trace. [Alpha]"), metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1))
	errs = errors.Join(errs, err)
	return &b, errs
}
