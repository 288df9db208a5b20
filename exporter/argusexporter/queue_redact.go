package argusexporter

import (
	"context"

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/arguslabs/argus-otel/internal/redact"
)

// A persistent sending queue (sending_queue.storage) writes each request
// to disk before the exporter sees it, so redact_keys must apply before
// the queue: these wrappers redact the data in place, then hand it to
// exporterhelper. With the queue in memory nothing is written before the
// exporter, which redacts as it builds the rows.

// persistentQueue reports whether cfg's sending queue writes to disk.
func persistentQueue(cfg *Config) bool {
	return cfg.QueueConfig.HasValue() && cfg.QueueConfig.Get().StorageID != nil
}

type redactingLogs struct {
	exporter.Logs
	keys *redact.Keys
}

func (r redactingLogs) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	r.keys.Logs(ld)
	return r.Logs.ConsumeLogs(ctx, ld)
}

func (r redactingLogs) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: true}
}

type redactingTraces struct {
	exporter.Traces
	keys *redact.Keys
}

func (r redactingTraces) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	r.keys.Traces(td)
	return r.Traces.ConsumeTraces(ctx, td)
}

func (r redactingTraces) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: true}
}
