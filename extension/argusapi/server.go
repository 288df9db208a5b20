package argusapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/extension"
	"go.uber.org/zap"

	"github.com/arguslabs/argus-otel/internal/redact"
	"github.com/arguslabs/argus-otel/internal/writehealth"
	"github.com/arguslabs/argus-otel/store"
)

// api is the extension: one store and one HTTP server.
type api struct {
	cfg    *Config
	set    extension.Settings
	enums  Enums
	redact *redact.Keys
	// writes and statuses are what /health reports of the write path.
	writes   *writehealth.Database
	statuses statuses

	store  store.Store
	reads  *heavyReads
	server *http.Server
	addr   net.Addr
	done   chan struct{}
}

func newAPI(cfg *Config, set extension.Settings) *api {
	return &api{cfg: cfg, set: set, redact: redact.New(cfg.RedactKeys), writes: writehealth.For(cfg.Key())}
}

// Start opens the store (creating the schema when asked), then listens.
// A listener error (port in use) fails Start; a later serve error is
// reported to the host as a fatal status.
func (a *api) Start(ctx context.Context, host component.Host) (err error) {
	if a.enums, err = a.cfg.Audit.enums(); err != nil {
		return fmt.Errorf("argusapi: %w", err)
	}
	st, err := a.cfg.Open(ctx, store.Open)
	if err != nil {
		return fmt.Errorf("argusapi: %w", err)
	}
	defer func() {
		if err != nil {
			_ = st.Close()
		}
	}()
	ln, err := a.cfg.ToListener(ctx)
	if err != nil {
		return fmt.Errorf("argusapi: listen on %q: %w", a.cfg.NetAddr.Endpoint, err)
	}
	srv, err := a.cfg.ToServer(ctx, host.GetExtensions(), a.set.TelemetrySettings, a.routes(),
		confighttp.WithErrorHandler(confighttpError))
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("argusapi: %w", err)
	}
	a.store, a.server, a.addr, a.done = st, srv, ln.Addr(), make(chan struct{})
	a.reads = newHeavyReads(a.cfg.Reads, a.set.Logger)
	go func() {
		defer close(a.done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(err))
		}
	}()
	a.set.Logger.Info("Argus API listening", zap.String("endpoint", ln.Addr().String()), zap.String("driver", st.Driver()))
	a.set.Logger.Info("Argus web UI: open "+uiURL(ln.Addr(), a.cfg.TLS.HasValue()), zap.String("url", uiURL(ln.Addr(), a.cfg.TLS.HasValue())))
	return nil
}

// Shutdown stops accepting requests, waits for those in flight (within
// ctx), then closes the store.
func (a *api) Shutdown(ctx context.Context) error {
	if a.server == nil {
		return nil
	}
	err := a.server.Shutdown(ctx)
	if err != nil {
		_ = a.server.Close()
	}
	<-a.done
	if cerr := a.store.Close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	a.server = nil
	return err
}

// routes is the API. Every answer, errors included, is JSON (reports
// aside); unknown paths are 404 and wrong methods 405, both in JSON.
func (a *api) routes() http.Handler {
	mux := http.NewServeMux()
	a.handle(mux, "/api/traces", methods{http.MethodGet: a.listTraces})
	a.handle(mux, "/api/traces/{id}", methods{http.MethodGet: a.getTrace})
	a.handle(mux, "/api/traces/{id}/report", methods{http.MethodGet: a.traceReport})
	a.handle(mux, "/api/detections", methods{http.MethodGet: a.listDetections})
	a.handle(mux, "/api/audit-logs", methods{http.MethodGet: a.listAuditLogs, http.MethodPost: a.createAuditLog})
	a.handle(mux, "/api/audit-logs/bulk", methods{http.MethodPost: a.bulkAuditLogs})
	a.handle(mux, "/health", methods{http.MethodGet: a.health})
	a.handle(mux, "/version", methods{http.MethodGet: a.version})
	a.uiRoutes(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{status: http.StatusNotFound, msg: "not found",
			details: fmt.Sprintf("no endpoint at %s", r.URL.Path)})
	})
	return a.recoverer(commonHeaders(mux))
}

// handle registers an endpoint served by dispatch.
func (a *api) handle(mux *http.ServeMux, pattern string, m methods) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) { a.dispatch(w, r, m) })
}

// handler is an endpoint; a returned error becomes the JSON error answer.
type handler func(w http.ResponseWriter, r *http.Request) error

// methods maps the request methods of one path to their handlers.
type methods map[string]handler

// dispatch runs the handler of the request's method (HEAD is served as
// GET), or answers 405 with an Allow header. Server-side failures (5xx)
// are logged too, as the client may never report them.
func (a *api) dispatch(w http.ResponseWriter, r *http.Request, m methods) {
	h, ok := m[r.Method]
	if !ok && r.Method == http.MethodHead {
		h, ok = m[http.MethodGet]
	}
	if !ok {
		allowed := make([]string, 0, len(m)+1)
		for k := range m {
			allowed = append(allowed, k)
			if k == http.MethodGet {
				allowed = append(allowed, http.MethodHead)
			}
		}
		sort.Strings(allowed)
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeError(w, &apiError{status: http.StatusMethodNotAllowed, msg: "method not allowed",
			details: fmt.Sprintf("%s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, strings.Join(allowed, ", "))})
		return
	}
	err := h(w, r)
	if err == nil {
		return
	}
	if status := writeError(w, err); status >= 500 {
		a.set.Logger.Warn("argusapi: request failed", zap.String("method", r.Method),
			zap.String("path", r.URL.Path), zap.Int("status", status), zap.Error(err))
	}
}

// commonHeaders are sent with every answer: nothing is to be sniffed or
// cached (audit data and runs may be sensitive).
func commonHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// recoverer turns a handler panic into a 500 (when nothing was written
// yet) instead of a dropped connection.
func (a *api) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				a.set.Logger.Error("argusapi: handler panic", zap.String("path", r.URL.Path), zap.Any("panic", v))
				writeError(w, &apiError{status: http.StatusInternalServerError, msg: "internal error"})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// apiError is an answer other than success.
type apiError struct {
	status  int
	msg     string
	details string
}

func (e *apiError) Error() string { return e.msg + ": " + e.details }

func badParam(name, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, msg: fmt.Sprintf("invalid parameter %q", name),
		details: fmt.Sprintf(format, args...)}
}

// errorBody is the shape of every error answer.
type errorBody struct {
	Error   string `json:"error"`
	Details string `json:"details,omitempty"`
}

// writeError answers err and returns the status sent.
func writeError(w http.ResponseWriter, err error) int {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = storeError(err)
	}
	if ae.status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, ae.status, errorBody{Error: ae.msg, Details: ae.details})
	return ae.status
}

// storeError maps a store error to an answer: a bad filter is the client's
// (400), an unknown id 404, a database that needs someone (no such table,
// corruption: store.ClassStatement) or refuses a value 500, an error that
// may pass (connection refused, lock timeout) 503 so clients retry.
func storeError(err error) *apiError {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return &apiError{status: http.StatusNotFound, msg: "not found", details: err.Error()}
	case errors.Is(err, store.ErrInvalidArgument):
		return &apiError{status: http.StatusBadRequest, msg: "invalid request", details: err.Error()}
	case store.IsDuplicate(err):
		return &apiError{status: http.StatusConflict, msg: "already exists", details: err.Error()}
	case store.IsPermanent(err), store.Classify(err) == store.ClassStatement:
		return &apiError{status: http.StatusInternalServerError, msg: "database error", details: err.Error()}
	}
	return &apiError{status: http.StatusServiceUnavailable, msg: "database unavailable", details: err.Error()}
}

// confighttpError renders the errors raised before a handler runs
// (authentication, body decompression) in the API's JSON shape.
func confighttpError(w http.ResponseWriter, _ *http.Request, msg string, status int) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	writeJSON(w, status, errorBody{Error: strings.ToLower(http.StatusText(status)), Details: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(errorBody{Error: "internal error", Details: "encode answer: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
