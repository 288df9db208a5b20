// Package argusdetector is a traces processor that buffers spans until their
// trace is complete, maps the trace to a pipeline run, runs the detection
// layers and forensics over it, writes the findings back onto the spans as
// argus.* events and attributes, and forwards the whole trace.
package argusdetector

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"

	"github.com/arguslabs/argus-otel/processor/argusdetector/internal/metadata"
)

// NewFactory returns the factory of the argusdetector processor.
func NewFactory() processor.Factory {
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithTraces(createTraces, metadata.TracesStability),
	)
}

func createTraces(_ context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
	return newProcessor(set, cfg.(*Config), next)
}
