// Package gocapture is the Go agents' side of the capture endpoint
// (../capture): a tracer provider exporting OTLP/HTTP to it, and the
// name-run-flush step that puts each run in its own file. The JS agents
// have the same in ../scenarios/capture.mjs.
package gocapture

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Recorder is a tracer provider whose spans go to the capture endpoint.
type Recorder struct {
	*sdktrace.TracerProvider
	base string
}

// New reads ARGUS_CAPTURE_URL (set by test/sdks/record.sh) and builds a
// batching tracer provider with res exporting to it.
func New(ctx context.Context, res *resource.Resource) (*Recorder, error) {
	base := os.Getenv("ARGUS_CAPTURE_URL")
	if base == "" {
		return nil, fmt.Errorf("ARGUS_CAPTURE_URL is not set: run this through test/sdks/record.sh")
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(u.Host), otlptracehttp.WithInsecure())
	if err != nil {
		return nil, err
	}
	return &Recorder{sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res)), base}, nil
}

// Record names the run at the endpoint, runs it, and flushes its spans.
func (r *Recorder) Record(ctx context.Context, name string, run func()) error {
	resp, err := http.Post(r.base+"/run?name="+name, "text/plain", nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("capture /run %s: %s", name, resp.Status)
	}
	run()
	return r.ForceFlush(ctx)
}

// MustJSON encodes what an agent writes into an attribute; the values are
// the agent's own, so a failure is a bug in the agent.
func MustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
