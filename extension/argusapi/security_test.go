package argusapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/arguslabs/argus-otel/extension/argusapi/internal/metadata"
	"github.com/arguslabs/argus-otel/internal/redact"
)

var hostile = []string{
	`'; DROP TABLE audit_logs; --`,
	`" OR 1=1 --`,
	`%' OR '1'='1`,
	`Robert'); DROP TABLE traces;--`,
	`1; DELETE FROM detections`,
	`$1`, `?`, `\`, `%`, `_`,
	`<script>alert(1)</script>`,
	`..%2F..%2Fetc/passwd`,
	"tab\there & new\nline",
	`😀 ünïcödé ‮reversed`,
}

// TestHostileValues: SQL and HTML in every parameter and field are data:
// matched, stored and returned verbatim, never executed.
func TestHostileValues(t *testing.T) {
	eachBackend(t, func(t *testing.T, cfg *Config) {
		s := start(t, cfg)
		s.seedRuns()
		for i, h := range hostile {
			id := "h" + string(rune('a'+i))
			s.seedRun(id+"-run", h, "ok", t0, 1, "critical")

			// Stored through the API, in every text field the enums allow.
			r := s.post("/api/audit-logs", event("id", h, "traceId", h, "action", h, "actorId", h, "targetId", h,
				"metadata", map[string]any{h: h}))
			require.Equal(t, http.StatusCreated, r.status, "%q: %s", h, r.body)

			var lp logsPage
			s.getJSON("/api/audit-logs"+q("traceId", h, "action", h, "actorId", h, "eventType", "MANAGEMENT_EVENT"), &lp)
			require.Equal(t, 1, lp.Total, "%q", h)
			l := lp.Logs[0]
			assert.Equal(t, []string{h, h, h, h, h}, []string{l.ID, l.TraceID, l.Action, l.ActorID, l.TargetID})
			want := h
			if redact.New(redact.DefaultKeys).Match(h) { // "..%2F..%2Fetc/passwd" is a passwd key
				want = redact.Redacted
			}
			assert.JSONEq(t, mustJSON(t, map[string]string{h: want}), string(l.Metadata))

			// Every filter of every list takes it as a value.
			var tp struct {
				Traces []struct {
					ID           string `json:"id"`
					PipelineName string `json:"pipeline_name"`
				} `json:"traces"`
				Total int `json:"total"`
			}
			s.getJSON("/api/traces"+q("pipeline", h), &tp)
			require.Equal(t, 1, tp.Total, "%q", h)
			assert.Equal(t, h, tp.Traces[0].PipelineName)
			s.getJSON("/api/traces"+q("traceId", h), &tp)
			assert.Equal(t, 0, tp.Total)
			var dp struct {
				Total int `json:"total"`
			}
			s.getJSON("/api/detections"+q("node", h, "traceId", h), &dp)
			assert.Equal(t, 0, dp.Total)
			s.getJSON("/api/audit-logs"+q("eventType", h, "status", "SUCCESS"), &lp)
			assert.Equal(t, 0, lp.Total)

			// In the path: an unknown id, named back in JSON.
			s.get("/api/traces/"+url.PathEscape(h)).errBody(t, http.StatusNotFound, "trace not found")
			s.get("/api/traces/"+url.PathEscape(h)+"/report").errBody(t, http.StatusNotFound)

			// The HTML report escapes it.
			r = s.get("/api/traces/" + id + "-run/report")
			require.Equal(t, http.StatusOK, r.status)
			assert.NotContains(t, string(r.body), "<script>alert(1)</script>")
		}
		// Every table is still there with every row.
		var tp struct {
			Total int `json:"total"`
		}
		s.getJSON("/api/traces", &tp)
		assert.Equal(t, 5+len(hostile), tp.Total)
		var dp struct {
			Total int `json:"total"`
		}
		s.getJSON("/api/detections", &dp)
		assert.Equal(t, 6+2*len(hostile), dp.Total)
		assert.Equal(t, len(hostile), s.auditTotal())
	})
}

func TestBodyLimits(t *testing.T) {
	cfg := backends[0].config(t)
	cfg.MaxRequestBodySize = 2048
	s := start(t, cfg)
	big := event("metadata", map[string]string{"k": strings.Repeat("y", 4096)})
	s.post("/api/audit-logs", big).errBody(t, http.StatusRequestEntityTooLarge, "too large", "2048", "max_request_body_size")
	s.post("/api/audit-logs/bulk", []any{big}).errBody(t, http.StatusRequestEntityTooLarge, "2048")

	// A small gzip body that inflates past the limit is refused the same way.
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	_, _ = zw.Write([]byte(mustJSON(t, event("metadata", map[string]string{"k": strings.Repeat("z", 100_000)}))))
	require.NoError(t, zw.Close())
	require.Less(t, zipped.Len(), 2048)
	s.do(http.MethodPost, "/api/audit-logs", bytes.NewReader(zipped.Bytes()), "Content-Type", "application/json", "Content-Encoding", "gzip").
		errBody(t, http.StatusRequestEntityTooLarge, "2048")
	// A broken gzip body is a JSON 400.
	s.do(http.MethodPost, "/api/audit-logs", strings.NewReader("not gzip"), "Content-Type", "application/json", "Content-Encoding", "gzip").
		errBody(t, http.StatusBadRequest)
	// A gzip body within the limit works.
	zipped.Reset()
	zw = gzip.NewWriter(&zipped)
	_, _ = zw.Write([]byte(mustJSON(t, event())))
	require.NoError(t, zw.Close())
	r := s.do(http.MethodPost, "/api/audit-logs", bytes.NewReader(zipped.Bytes()), "Content-Type", "application/json", "Content-Encoding", "gzip")
	assert.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	assert.Equal(t, 1, s.auditTotal())
}

var authID = component.MustNewID("testauth")

func authConfig(cfg *Config) {
	cfg.Auth = configoptional.Some(confighttp.AuthConfig{Config: configauth.Config{AuthenticatorID: authID}})
}

func TestAuth(t *testing.T) {
	eachBackend(t, func(t *testing.T, cfg *Config) {
		authConfig(cfg)
		host := newHost(map[component.ID]component.Component{authID: &tokenAuth{token: "s3cret"}})
		s := startWithHost(t, cfg, host)
		for _, path := range []string{"/api/traces", "/api/detections", "/api/audit-logs", "/health", "/version", "/nope"} {
			s.get(path).errBody(t, http.StatusUnauthorized, "unauthorized", "missing bearer token")
			s.get(path, "Authorization", "Bearer wrong").errBody(t, http.StatusUnauthorized, "invalid bearer token")
		}
		s.post("/api/audit-logs", event()).errBody(t, http.StatusUnauthorized)
		r := s.post("/api/audit-logs", event(), "Authorization", "Bearer s3cret")
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		var p logsPage
		r = s.get("/api/audit-logs", "Authorization", "Bearer s3cret")
		require.Equal(t, http.StatusOK, r.status)
		r.json(t, &p)
		assert.Equal(t, 1, p.Total, "only the authenticated POST was stored")
	})
	t.Run("off", func(t *testing.T) {
		s := start(t, backends[0].config(t))
		assert.Equal(t, http.StatusOK, s.get("/api/traces").status)
		assert.Equal(t, http.StatusOK, s.get("/api/traces", "Authorization", "Bearer anything").status)
	})
	t.Run("authenticator missing from the host", func(t *testing.T) {
		cfg := backends[0].config(t)
		authConfig(cfg)
		ext, err := NewFactory().Create(context.Background(), extensiontest.NewNopSettings(metadata.Type), cfg)
		require.NoError(t, err)
		err = ext.Start(context.Background(), newHost(map[component.ID]component.Component{}))
		require.ErrorContains(t, err, "testauth")
		require.NoError(t, ext.Shutdown(context.Background()))
	})
}

func TestCORS(t *testing.T) {
	cfg := backends[0].config(t)
	cfg.CORS = configoptional.Some(confighttp.CORSConfig{AllowedOrigins: []string{"https://ui.example"},
		AllowedHeaders: []string{"Authorization", "Content-Type"}, MaxAge: 600})
	authConfig(cfg)
	s := startWithHost(t, cfg, newHost(map[component.ID]component.Component{authID: &tokenAuth{token: "t"}}))

	// The preflight is answered before authentication (browsers send none).
	r := s.do(http.MethodOptions, "/api/audit-logs", nil, "Origin", "https://ui.example",
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type")
	assert.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
	assert.Equal(t, "https://ui.example", r.header.Get("Access-Control-Allow-Origin"))
	assert.Contains(t, r.header.Get("Access-Control-Allow-Methods"), "POST")
	assert.Equal(t, "600", r.header.Get("Access-Control-Max-Age"))
	assert.Contains(t, strings.ToLower(r.header.Get("Access-Control-Allow-Headers")), "authorization")

	r = s.do(http.MethodOptions, "/api/audit-logs", nil, "Origin", "https://evil.example", "Access-Control-Request-Method", "POST")
	assert.Empty(t, r.header.Get("Access-Control-Allow-Origin"))

	r = s.get("/api/traces", "Origin", "https://ui.example", "Authorization", "Bearer t")
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "https://ui.example", r.header.Get("Access-Control-Allow-Origin"))
	r = s.get("/api/traces", "Origin", "https://evil.example", "Authorization", "Bearer t")
	assert.Equal(t, http.StatusOK, r.status)
	assert.Empty(t, r.header.Get("Access-Control-Allow-Origin"))
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	return string(mustMarshal(t, v))
}
