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
	"github.com/arguslabs/argus-otel/internal/redact"
	"github.com/arguslabs/argus-otel/internal/writehealth"
	"github.com/arguslabs/argus-otel/store"
)

// argusExporter writes one signal (traces or logs) to the store. The traces
// and logs exporters of one configured component share the store.
type argusExporter struct {
	cfg    *Config
	logger *zap.Logger
	tel    *telemetry
	drops  *dropLog
	// quarantines reports rows the store refused and quarantined.
	quarantines *dropLog
	rowOpt      rowOptions
	mapOpt      agentrun.Options

	shared *sharedStore
	store  store.Store
	status *writeStatus
}

// mapTraces is the one mapping; a variable only so a test can make it panic.
var mapTraces = agentrun.MapTraces

var (
	errNotStarted = errors.New("argus exporter: store is not open (exporter not started)")
	errUnmapped   = errors.New("spans with an all-zero trace id belong to no run and cannot be stored")
)

func newExporter(cfg *Config, set exporter.Settings) (*argusExporter, error) {
	tel, err := newTelemetry(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return &argusExporter{
		cfg:    cfg,
		logger: set.Logger,
		tel:    tel,
		drops:  newDropLog(set.Logger, time.Minute, msgDropped, "dropped_"),
		quarantines: newDropLog(set.Logger, time.Minute,
			"argus exporter: the database refused rows (for their content, or for an unknown reason while it stored others); they are in the quarantine table", "quarantined_"),
		rowOpt: rowOptions{
			redact:        redact.New(cfg.RedactKeys),
			maxFieldBytes: cfg.MaxFieldBytes,
			toolAudit:     cfg.Audit.ToolCalls,
			actorType:     cfg.Audit.ActorType,
		},
		// The exporter only stores the states: they stay JSON text where
		// that stores the same value (see agentrun.Options.RawStates).
		mapOpt: agentrun.Options{RedactKeys: cfg.RedactKeys, MaxFieldBytes: cfg.MaxFieldBytes, RawStates: true},
		status: &writeStatus{db: writehealth.For(cfg.Key())},
	}, nil
}

func (e *argusExporter) start(ctx context.Context, host component.Host) error {
	s, err := acquireStore(ctx, e.cfg, e.logger, e.tel)
	if err != nil {
		return err
	}
	e.status.start(host)
	e.shared, e.store = s, s.store
	return nil
}

// shutdown runs after exporterhelper drained the queue, so no push is in flight.
func (e *argusExporter) shutdown(context.Context) error {
	e.drops.flush()
	e.quarantines.flush()
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
	if d := e.writeTimeout(spans); d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	defer func() {
		if r := recover(); r != nil {
			err = e.permanent(ctx, dropPanic, spans, fmt.Errorf("argus exporter: panic on input (%d spans): %v", spans, r))
		}
	}()
	runs := mapTraces(td, e.mapOpt)
	rows := buildRows(td, runs, e.rowOpt, time.Now())
	if rows.unmapped > 0 {
		// Behind the argusdetector these were refused already; without it
		// they reach here, are counted and logged (rate-limited).
		e.tel.dropped(ctx, dropUnmapped, rows.unmapped)
		e.drops.add(dropUnmapped, rows.unmapped, errUnmapped)
	}
	b := rows.batch
	if len(b.Traces) > 0 {
		sv, err := store.WriteSalvaging(ctx, e.store, b)
		if err != nil {
			// Never permanent: the moment, or the database's state (a
			// missing table, a damaged file). exporterhelper retries it,
			// then the detector holds the spans until the database is
			// fixed; dropping them would lose acknowledged runs.
			return err
		}
		e.countRows(ctx, b, sv)
		e.salvaged(ctx, td, sv)
	}
	if len(rows.audit) > 0 {
		// The traces are stored; on a transient error the retry rewrites
		// them idempotently.
		return e.insertAudit(ctx, rows.audit)
	}
	return nil
}

// countRows counts the rows of b that were stored: all but the refused.
func (e *argusExporter) countRows(ctx context.Context, b store.TraceBatch, sv store.Salvaged) {
	n := map[string]int{store.TableTraces: len(b.Traces), store.TableSteps: len(b.Steps),
		store.TableDetections: len(b.Detections), store.TableForensics: len(b.Forensics)}
	for _, r := range sv.Refused {
		n[r.Table]--
	}
	for table, k := range n {
		e.tel.rows(ctx, table, k)
	}
}

// salvaged counts and logs (rate-limited) what the store refused for its
// content: rows in the quarantine table, and the spans of traces of which
// nothing could be stored (or all of it when the quarantine refused too).
func (e *argusExporter) salvaged(ctx context.Context, td ptrace.Traces, sv store.Salvaged) {
	if len(sv.Refused) == 0 {
		return
	}
	if sv.QuarantineErr != nil {
		e.permanentRows(ctx, sv.Refused, sv.QuarantineErr)
		return
	}
	e.status.db.Refused(len(sv.Refused), sv.Refused[0].Err)
	for _, r := range sv.Refused {
		e.tel.quarantined(ctx, r.Table, 1)
		e.quarantines.add(r.Table, 1, fmt.Errorf("%s %q of trace %q: %w", r.Table, r.RecordID, r.TraceID, r.Err))
	}
	if len(sv.Unstored) > 0 {
		spansOf := spansByTrace(td)
		for _, id := range sv.Unstored {
			_ = e.permanent(ctx, dropPermanent, spansOf[id], fmt.Errorf("trace %s: no row of it can be stored; see the quarantine table", id))
		}
	}
}

// permanentRows counts refused rows that the quarantine did not take.
func (e *argusExporter) permanentRows(ctx context.Context, refused []store.Refused, qerr error) {
	e.tel.dropped(ctx, dropPermanent, len(refused))
	e.drops.add(dropPermanent, len(refused), fmt.Errorf("%w (and the quarantine refused them: %v)", refused[0].Err, qerr))
}

// spansByTrace counts the spans of each trace id, for drop accounting.
func spansByTrace(td ptrace.Traces) map[string]int {
	n := map[string]int{}
	for span := range agentrun.Spans(td) {
		n[span.TraceID().String()]++
	}
	return n
}

func (e *argusExporter) permanent(ctx context.Context, reason string, items int, err error) error {
	e.tel.dropped(ctx, reason, items)
	e.drops.add(reason, items, err)
	return consumererror.NewPermanent(err)
}
