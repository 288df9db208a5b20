// Package argusexporter writes pipeline runs (traces annotated by the
// argusdetector processor, or plain agent traces) and audit log records
// into the Argus schema in SQLite or PostgreSQL.
package argusexporter

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/arguslabs/argus-otel/exporter/argusexporter/internal/metadata"
	"github.com/arguslabs/argus-otel/internal/redact"
)

// NewFactory creates the factory of the `argus` exporter.
func NewFactory() exporter.Factory {
	return exporter.NewFactory(
		metadata.Type,
		createDefaultConfig,
		exporter.WithTraces(createTraces, metadata.TracesStability),
		exporter.WithLogs(createLogs, metadata.LogsStability),
	)
}

func createTraces(ctx context.Context, set exporter.Settings, c component.Config) (exporter.Traces, error) {
	cfg := c.(*Config)
	e, err := newExporter(cfg, set)
	if err != nil {
		return nil, err
	}
	// pushTraces applies the timeout itself, scaled to the request (see
	// writeTimeout): exporterhelper's would be the same for every size.
	te, err := exporterhelper.NewTraces(ctx, helperSettings(set), cfg, e.consumeTraces, helperOptions(cfg, e, exporterhelper.TimeoutConfig{})...)
	if err != nil || !persistentQueue(cfg) {
		return te, err
	}
	return redactingTraces{Traces: te, keys: redact.New(cfg.RedactKeys)}, nil
}

func createLogs(ctx context.Context, set exporter.Settings, c component.Config) (exporter.Logs, error) {
	cfg := c.(*Config)
	e, err := newExporter(cfg, set)
	if err != nil {
		return nil, err
	}
	le, err := exporterhelper.NewLogs(ctx, helperSettings(set), cfg, e.consumeLogs, helperOptions(cfg, e, cfg.TimeoutConfig)...)
	if err != nil || !persistentQueue(cfg) {
		return le, err
	}
	return redactingLogs{Logs: le, keys: redact.New(cfg.RedactKeys)}, nil
}

// Each distinct log line of exporterhelper is written at most
// helperLogFirst times per helperLogTick; the rest are dropped.
const (
	helperLogTick  = time.Minute
	helperLogFirst = 3
)

// helperSettings gives exporterhelper a sampled logger. It logs once per
// failed request ("Exporting failed. Dropping data.", "Will retry the
// request"): during a database outage that is a line per batch per retry.
// The exporter's own drop reports are rate-limited already (dropLog);
// what was dropped is counted in the exporter's metrics either way.
func helperSettings(set exporter.Settings) exporter.Settings {
	set.Logger = set.Logger.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewSamplerWithOptions(c, helperLogTick, helperLogFirst, 0)
	}))
	return set
}

func helperOptions(cfg *Config, e *argusExporter, timeout exporterhelper.TimeoutConfig) []exporterhelper.Option {
	return []exporterhelper.Option{
		exporterhelper.WithTimeout(timeout),
		exporterhelper.WithRetry(cfg.RetryConfig),
		exporterhelper.WithQueue(cfg.QueueConfig),
		exporterhelper.WithStart(e.start),
		exporterhelper.WithShutdown(e.shutdown),
		// Rows are built from the data; it is never modified.
		exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
	}
}
