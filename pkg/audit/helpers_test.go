package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/arguslabs/argus-otel/extension/argusapi"
	"github.com/arguslabs/argus-otel/pkg/audit"
)

// freeAddr asks the kernel for a free loopback port.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

type host struct {
	component.Host
	exts map[component.ID]component.Component
}

func (h host) GetExtensions() map[component.ID]component.Component { return h.exts }

// tokenAuth is a real extensionauth.Server checking a bearer token.
type tokenAuth struct {
	component.StartFunc
	component.ShutdownFunc
	token string
}

func (a *tokenAuth) Authenticate(ctx context.Context, sources map[string][]string) (context.Context, error) {
	for _, v := range sources["Authorization"] {
		if v == "Bearer "+a.token {
			return ctx, nil
		}
	}
	return ctx, errors.New("bad or missing bearer token")
}

var authID = component.MustNewID("testauth")

// startAPI starts the real argusapi extension on a temporary SQLite store
// and returns its base URL. token != "" turns bearer auth on.
func startAPI(t testing.TB, token string) string {
	t.Helper()
	return startAPIWith(t, token, nil)
}

func startAPIWith(t testing.TB, token string, tune func(*argusapi.Config)) string {
	t.Helper()
	f := argusapi.NewFactory()
	cfg := f.CreateDefaultConfig().(*argusapi.Config)
	cfg.NetAddr.Endpoint = freeAddr(t)
	cfg.Path = filepath.Join(t.TempDir(), "audit.db")
	h := host{Host: componenttest.NewNopHost()}
	if token != "" {
		cfg.Auth = configoptional.Some(confighttp.AuthConfig{Config: configauth.Config{AuthenticatorID: authID}})
		h.exts = map[component.ID]component.Component{authID: &tokenAuth{token: token}}
	}
	if tune != nil {
		tune(cfg)
	}
	ext, err := f.Create(context.Background(), extensiontest.NewNopSettings(f.Type()), cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background(), h))
	t.Cleanup(func() { require.NoError(t, ext.Shutdown(context.Background())) })
	return "http://" + cfg.NetAddr.Endpoint
}

// query reads the stored audit logs of a trace through the API.
func query(t *testing.T, base, traceID string, header ...string) audit.GetAuditLogsResponse {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/api/audit-logs?limit=1000&traceId="+url.QueryEscape(traceID), nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	var out audit.GetAuditLogsResponse
	require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
	return out
}

// proxy sits between the client and the real API to count requests and
// to inject failures: 503s, lost answers, a handler that blocks.
type proxy struct {
	*httptest.Server
	rp *httputil.ReverseProxy

	mu         sync.Mutex
	batches    []int // events per request, in arrival order
	ids        [][]string
	fail       int           // answer the next fail requests 503 without forwarding
	lose       int           // forward the next lose requests but answer 502 (the answer is lost)
	block      chan struct{} // when set, requests wait until it is closed
	arrived    chan struct{} // signalled when a request arrives
	auth       []string
	down       time.Time // until then, connections are cut without an answer (an outage)
	cut        int       // requests cut so
	dropPrefer bool      // forward without the Prefer header, as a server that ignores it
}

func newProxy(t testing.TB, target string) *proxy {
	u, err := url.Parse(target)
	require.NoError(t, err)
	p := &proxy{rp: httputil.NewSingleHostReverseProxy(u), arrived: make(chan struct{}, 1000)}
	p.rp.ErrorLog = log.New(io.Discard, "", 0) // cancelled requests are expected
	p.Server = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.Close)
	return p
}

func (p *proxy) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	var items []struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(body, &items)
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	p.mu.Lock()
	if time.Now().Before(p.down) {
		p.cut++
		p.mu.Unlock()
		cutConnection(w)
		return
	}
	p.batches = append(p.batches, len(items))
	p.ids = append(p.ids, ids)
	p.auth = append(p.auth, r.Header.Get("Authorization"))
	block, fail, lose := p.block, p.fail > 0, p.lose > 0
	if p.dropPrefer {
		r.Header.Del("Prefer")
	}
	if fail {
		p.fail--
	} else if lose {
		p.lose--
	}
	p.mu.Unlock()
	select {
	case p.arrived <- struct{}{}:
	default: // nobody waits for that many
	}
	if block != nil {
		<-block
	}
	switch {
	case fail:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"error":"database unavailable","details":"injected"}`)
	case lose:
		rec := httptest.NewRecorder()
		p.rp.ServeHTTP(rec, r)
		w.WriteHeader(http.StatusBadGateway)
	default:
		p.rp.ServeHTTP(w, r)
	}
}

// downFor starts an outage of d: the client sees network errors.
func (p *proxy) downFor(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = time.Now().Add(d)
}

// refused is how many requests the outage cut.
func (p *proxy) refused() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cut
}

// cutConnection closes the connection without an answer, as a server
// that went away does.
func cutConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	_ = conn.Close()
}

func (p *proxy) sizes() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int(nil), p.batches...)
}

// logBuffer is a concurrency-safe slog sink.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }

func (b *logBuffer) lines() int { return strings.Count(b.String(), "\n") }

var t0 = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

// ev is a valid event for the default enums.
func ev(traceID, actor string) *audit.AuditLogRequest {
	return &audit.AuditLogRequest{Timestamp: t0, TraceID: traceID, Status: audit.StatusSuccess,
		EventType: "MANAGEMENT_EVENT", Action: "CREATE", ActorType: "SERVICE", ActorID: actor,
		TargetType: "RESOURCE", TargetID: "r-1", Metadata: map[string]any{"n": 1}}
}

func closeNow(t testing.TB, c *audit.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, c.Close(ctx))
}

// fast retries keep the tests short.
var fast = audit.WithRetry(4, time.Millisecond, 5*time.Millisecond)
