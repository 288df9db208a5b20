package argusexporter

import (
	"context"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/arguslabs/argus-otel/internal/writehealth"
)

// writeStatus tells the collector and the argusapi /health how writes go:
// each push is recorded for its database (writehealth), and the component
// status turns RecoverableError when a write fails and OK again when one
// works (only on a change, not per push), so the health_check extension
// (with component status) and status watchers see a failing write path.
type writeStatus struct {
	db *writehealth.Database

	mu      sync.Mutex
	host    component.Host
	failing bool
}

func (w *writeStatus) start(host component.Host) {
	w.mu.Lock()
	w.host = host
	w.mu.Unlock()
}

// record notes the outcome of one push.
func (w *writeStatus) record(err error) {
	if err == nil {
		w.db.Wrote()
	} else {
		w.db.Failed(err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.host == nil || (err != nil) == w.failing {
		return
	}
	w.failing = err != nil
	if err != nil {
		componentstatus.ReportStatus(w.host, componentstatus.NewRecoverableErrorEvent(err))
	} else {
		componentstatus.ReportStatus(w.host, componentstatus.NewEvent(componentstatus.StatusOK))
	}
}

// The functions exporterhelper calls: the pushes, recorded.
func (e *argusExporter) consumeTraces(ctx context.Context, td ptrace.Traces) error {
	err := e.pushTraces(ctx, td)
	e.status.record(err)
	return err
}

func (e *argusExporter) consumeLogs(ctx context.Context, ld plog.Logs) error {
	err := e.pushLogs(ctx, ld)
	e.status.record(err)
	return err
}
