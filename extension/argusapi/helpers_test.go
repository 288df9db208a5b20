package argusapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensionauth"
	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/arguslabs/argus-otel/extension/argusapi/internal/metadata"
	"github.com/arguslabs/argus-otel/internal/testutil"
	"github.com/arguslabs/argus-otel/store"
)

// backend is one database the API is tested against.
type backend struct {
	name   string
	config func(t *testing.T) *Config
}

var backends = []backend{
	{store.DriverSQLite, func(t *testing.T) *Config {
		cfg := testConfig()
		cfg.Path = filepath.Join(t.TempDir(), "argus", "traces.db")
		return cfg
	}},
	{store.DriverPostgres, func(t *testing.T) *Config {
		cfg := testConfig()
		cfg.Driver, cfg.Path, cfg.DSN = store.DriverPostgres, "", configopaque.String(testutil.PostgresDSN(t))
		return cfg
	}},
}

// eachBackend runs fn as a subtest on a fresh database of each driver.
func eachBackend(t *testing.T, fn func(t *testing.T, cfg *Config)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b.config(t)) })
	}
}

// testConfig listens on a free loopback port chosen by the kernel.
func testConfig() *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = "127.0.0.1:0"
	return cfg
}

// testHost is a componenttest host that also holds extensions (an
// authenticator) for confighttp to find.
type testHost struct {
	component.Host
	exts map[component.ID]component.Component
}

func (h testHost) GetExtensions() map[component.ID]component.Component { return h.exts }

func newHost(exts map[component.ID]component.Component) component.Host {
	return testHost{Host: componenttest.NewNopHost(), exts: exts}
}

// tokenAuth is a real extensionauth.Server: a bearer token check, standing
// in for the contrib bearertokenauth extension (not a module dependency).
type tokenAuth struct {
	component.StartFunc
	component.ShutdownFunc
	token string
}

var _ extensionauth.Server = (*tokenAuth)(nil)

func (a *tokenAuth) Authenticate(ctx context.Context, sources map[string][]string) (context.Context, error) {
	for k, vals := range sources {
		if !strings.EqualFold(k, "Authorization") {
			continue
		}
		for _, v := range vals {
			if v == "Bearer "+a.token {
				return ctx, nil
			}
		}
		return ctx, errors.New("invalid bearer token")
	}
	return ctx, errors.New("missing bearer token")
}

// server is a started extension and a client for it.
type server struct {
	t     testing.TB
	api   *api
	base  string
	store store.Store // a second handle on the same database, to seed rows
}

func start(t *testing.T, cfg *Config) *server {
	return startWithHost(t, cfg, newHost(nil))
}

// startWithHost creates the extension through its factory and starts it
// as the collector would.
func startWithHost(t *testing.T, cfg *Config, host component.Host) *server {
	t.Helper()
	return startWith(t, cfg, host, extensiontest.NewNopSettings(metadata.Type))
}

func startWith(t testing.TB, cfg *Config, host component.Host, set extension.Settings) *server {
	t.Helper()
	ctx := context.Background()
	set.BuildInfo.Version = "9.9.9-test"
	ext, err := NewFactory().Create(ctx, set, cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(ctx, host))
	a := ext.(*api)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, ext.Shutdown(ctx))
	})
	st, err := store.Open(ctx, cfg.Storage())
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return &server{t: t, api: a, base: "http://" + a.addr.String(), store: st}
}

// resp is an answer read in full.
type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t testing.TB, v any) {
	t.Helper()
	require.Equal(t, "application/json", r.header.Get("Content-Type"), "body: %s", r.body)
	require.NoError(t, json.Unmarshal(r.body, v), "body: %s", r.body)
}

// errBody checks an error answer: its status, JSON shape, and that error +
// details mention each of want.
func (r resp) errBody(t *testing.T, status int, want ...string) errorBody {
	t.Helper()
	require.Equal(t, status, r.status, "body: %s", r.body)
	var e errorBody
	r.json(t, &e)
	require.NotEmpty(t, e.Error, "body: %s", r.body)
	for _, w := range want {
		require.Contains(t, e.Error+" "+e.Details, w, "body: %s", r.body)
	}
	return e
}

func (s *server) do(method, path string, body io.Reader, header ...string) resp {
	s.t.Helper()
	req, err := http.NewRequest(method, s.base+path, body)
	require.NoError(s.t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(s.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(s.t, err)
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

func (s *server) get(path string, header ...string) resp {
	return s.do(http.MethodGet, path, nil, header...)
}

func (s *server) post(path string, v any, header ...string) resp {
	var body []byte
	switch b := v.(type) {
	case string:
		body = []byte(b)
	case []byte:
		body = b
	default:
		var err error
		body, err = json.Marshal(v)
		require.NoError(s.t, err)
	}
	return s.do(http.MethodPost, path, bytes.NewReader(body), append([]string{"Content-Type", "application/json"}, header...)...)
}

// getJSON GETs path, requires a 200 and decodes the answer.
func (s *server) getJSON(path string, v any) {
	s.t.Helper()
	r := s.get(path)
	require.Equal(s.t, http.StatusOK, r.status, "GET %s: %s", path, r.body)
	r.json(s.t, v)
}

func q(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return "?" + v.Encode()
}

var t0 = time.Date(2026, 3, 14, 9, 26, 53, 589_000_000, time.UTC)

// seedRun stores one run with n steps, a warning detection on the first
// step (when any) and a run-level detection of sev.
func (s *server) seedRun(id, pipeline, status string, at time.Time, steps int, sev string) {
	s.t.Helper()
	end := at.Add(time.Duration(steps*10+5) * time.Millisecond)
	b := store.TraceBatch{Traces: []store.TraceUpdate{{
		Trace: store.Trace{ID: id, CreatedAt: at, PipelineName: pipeline, Status: status,
			Metadata: json.RawMessage(`{"service.name":"svc"}`)},
		End: end, HasRoot: true, BatchKey: "k-" + id,
	}}}
	for i := 0; i < steps; i++ {
		b.Steps = append(b.Steps, store.Step{
			ID: fmt.Sprintf("%s-s%d", id, i), TraceID: id, StepNumber: i + 1, NodeName: fmt.Sprintf("node%d", i),
			InputState: json.RawMessage(`{"q":"x"}`), OutputState: json.RawMessage(fmt.Sprintf(`{"o%d":1}`, i)),
			DurationMs: 9, Timestamp: at.Add(time.Duration(i*10) * time.Millisecond), Metadata: json.RawMessage(`{}`),
		})
	}
	if steps > 0 {
		b.Detections = append(b.Detections, store.Detection{
			ID: id + "-d1", TraceID: id, StepID: id + "-s0", Layer: "semantic", Severity: "warning",
			Message: "placeholder output", Details: json.RawMessage(`{"rule":"semantic.placeholder","node":"node0"}`),
			CreatedAt: end,
		})
	}
	if sev != "" {
		b.Detections = append(b.Detections, store.Detection{
			ID: id + "-d2", TraceID: id, Layer: "structural", Severity: sev,
			Message: "run-level", Details: json.RawMessage(`{"rule":"structural.run","node":"run"}`),
			CreatedAt: end.Add(time.Millisecond),
		})
	}
	require.NoError(s.t, s.store.WriteBatch(context.Background(), b))
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// errBodyCheck checks that a failure answer has the API's error shape.
func (s *server) errBodyCheck(t *testing.T, r resp) {
	t.Helper()
	r.errBody(t, r.status)
}
