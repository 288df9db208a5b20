package argusexporter

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/store"
)

// argusExporter writes one signal (traces or logs) to the store. The traces
// and logs exporters of one configured component share the store.
type argusExporter struct {
	cfg    *Config
	logger *zap.Logger
	tel    *telemetry
	drops  *dropLog
	rowOpt rowOptions
	mapOpt agentrun.Options

	shared *sharedStore
	store  store.Store
}

// mapTraces is the one mapping; a variable only so a test can make it panic.
var mapTraces = agentrun.MapTraces

var errNotStarted = errors.New("argus exporter: store is not open (exporter not started)")

func newExporter(cfg *Config, set exporter.Settings) (*argusExporter, error) {
	tel, err := newTelemetry(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return &argusExporter{
		cfg:    cfg,
		logger: set.Logger,
		tel:    tel,
		drops:  newDropLog(set.Logger, time.Minute),
		rowOpt: rowOptions{
			redact:        newRedactor(cfg.RedactKeys),
			maxFieldBytes: cfg.MaxFieldBytes,
			toolAudit:     cfg.Audit.ToolCalls,
			actorType:     cfg.Audit.ActorType,
		},
		// The exporter only stores the states: they stay JSON text where
		// that stores the same value (see agentrun.Options.RawStates).
		mapOpt: agentrun.Options{RedactKeys: cfg.RedactKeys, MaxFieldBytes: cfg.MaxFieldBytes, RawStates: true},
	}, nil
}

func (e *argusExporter) start(ctx context.Context, _ component.Host) error {
	s, err := acquireStore(ctx, e.cfg, e.logger, e.tel)
	if err != nil {
		return err
	}
	e.shared, e.store = s, s.store
	return nil
}

// shutdown runs after exporterhelper drained the queue, so no push is in flight.
func (e *argusExporter) shutdown(context.Context) error {
	e.drops.flush()
	if e.shared == nil {
		return nil
	}
	s := e.shared
	e.shared = nil
	return releaseStore(e.cfg, s)
}

// pushTraces maps the spans to runs and writes them in one transaction;
// traces the processor forwarded as no run are left out.
func (e *argusExporter) pushTraces(ctx context.Context, td ptrace.Traces) (err error) {
	if e.store == nil {
		return errNotStarted
	}
	if td = withoutSkipped(td); td.ResourceSpans().Len() == 0 {
		return nil
	}
	spans := td.SpanCount()
	defer func() {
		if r := recover(); r != nil {
			err = e.permanent(ctx, dropPanic, spans, fmt.Errorf("argus exporter: panic on input (%d spans): %v", spans, r))
		}
	}()
	runs := mapTraces(td, e.mapOpt)
	rows := buildRows(td, runs, e.rowOpt, time.Now())
	if rows.unmapped > 0 {
		e.tel.dropped(ctx, dropUnmapped, rows.unmapped)
	}
	b := rows.batch
	if len(b.Traces) > 0 {
		if err := e.store.WriteBatch(ctx, b); err != nil {
			if !store.IsPermanent(err) || len(b.Traces) == 1 {
				return e.classify(ctx, err, spans)
			}
			// One trace that can never be written must not take its
			// neighbours with it: write trace by trace, drop only the bad.
			if err := e.writeEach(ctx, td, b); err != nil {
				return err
			}
		} else {
			e.countRows(ctx, b)
		}
	}
	if len(rows.audit) > 0 {
		// The traces are stored; on a transient error the retry rewrites
		// them idempotently.
		return e.insertAudit(ctx, rows.audit)
	}
	return nil
}

func (e *argusExporter) countRows(ctx context.Context, b store.TraceBatch) {
	e.tel.rows(ctx, "traces", len(b.Traces))
	e.tel.rows(ctx, "trace_steps", len(b.Steps))
	e.tel.rows(ctx, "detections", len(b.Detections))
	e.tel.rows(ctx, "forensics", len(b.Forensics))
}

// writeEach writes a batch one trace per transaction after the whole batch
// failed permanently. Traces that fail permanently again are dropped and
// counted; a transient error is returned so the retry rewrites the batch
// (idempotently: the traces already written are upserted again).
func (e *argusExporter) writeEach(ctx context.Context, td ptrace.Traces, b store.TraceBatch) error {
	spansOf := spansByTrace(td)
	for _, one := range splitByTrace(b) {
		id := one.Traces[0].Trace.ID
		if err := e.store.WriteBatch(ctx, one); err != nil {
			if !store.IsPermanent(err) {
				return err
			}
			_ = e.permanent(ctx, dropPermanent, spansOf[id], fmt.Errorf("trace %s: %w", id, err))
			continue
		}
		e.countRows(ctx, one)
	}
	return nil
}

// splitByTrace cuts a batch into one batch per trace, in batch order.
func splitByTrace(b store.TraceBatch) []store.TraceBatch {
	idx := make(map[string]int, len(b.Traces))
	out := make([]store.TraceBatch, len(b.Traces))
	for i, u := range b.Traces {
		idx[u.Trace.ID] = i
		out[i].Traces = []store.TraceUpdate{u}
	}
	for _, s := range b.Steps {
		if i, ok := idx[s.TraceID]; ok {
			out[i].Steps = append(out[i].Steps, s)
		}
	}
	for _, d := range b.Detections {
		if i, ok := idx[d.TraceID]; ok {
			out[i].Detections = append(out[i].Detections, d)
		}
	}
	for _, f := range b.Forensics {
		if i, ok := idx[f.TraceID]; ok {
			out[i].Forensics = append(out[i].Forensics, f)
		}
	}
	return out
}

// spansByTrace counts the spans of each trace id, for drop accounting.
func spansByTrace(td ptrace.Traces) map[string]int {
	n := map[string]int{}
	for span := range agentrun.Spans(td) {
		n[span.TraceID().String()]++
	}
	return n
}

// classify turns a store error into what exporterhelper expects: permanent
// errors are dropped by the queue (counted and reported), anything else is
// returned as is so the retry sender tries again.
func (e *argusExporter) classify(ctx context.Context, err error, items int) error {
	if store.IsPermanent(err) {
		return e.permanent(ctx, dropPermanent, items, err)
	}
	return err
}

func (e *argusExporter) permanent(ctx context.Context, reason string, items int, err error) error {
	e.tel.dropped(ctx, reason, items)
	e.drops.add(reason, items, err)
	return consumererror.NewPermanent(err)
}
