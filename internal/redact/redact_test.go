package redact

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

func TestValue(t *testing.T) {
	k := New([]string{"api_key", "Password"})
	v := map[string]any{
		"API-KEY": "x", "apiKey": "y", "user": "ada", "openai_api_key": "z",
		"list": []any{map[string]any{"password": "p", "ok": 1}},
	}
	assert.True(t, k.Value(v))
	assert.Equal(t, map[string]any{
		"API-KEY": Redacted, "apiKey": Redacted, "user": "ada", "openai_api_key": Redacted,
		"list": []any{map[string]any{"password": Redacted, "ok": 1}},
	}, v)
	assert.False(t, k.Value(v), "already redacted: nothing changes")
	assert.False(t, New(nil).Value(map[string]any{"password": "p"}), "no keys: nothing matches")
}

func TestText(t *testing.T) {
	k := New(DefaultKeys)
	for _, c := range []struct{ in, want string }{
		{`{"user":"ada","password":"hunter2"}`, `{"password":"[REDACTED]","user":"ada"}`},
		{`[{"headers":{"Authorization":"Bearer x"}}]`, `[{"headers":{"Authorization":"[REDACTED]"}}]`},
		{`{"pass\u0077ord":"hunter2"}`, `{"password":"[REDACTED]"}`},         // an escaped key is decoded first
		{`{"note":"my password is here"}`, `{"note":"my password is here"}`}, // a value, not a key
		{`password: hunter2`, `password: hunter2`},                           // not JSON: no keys
		{`{"broken": "password":`, `{"broken": "password":`},                 // does not parse
		// counts are kept, as in Attributes; a token text is not
		{`{"input_tokens":27400,"token":"t-1","tokenUsage":{"promptTokens":5}}`, `{"input_tokens":27400,"token":"[REDACTED]","tokenUsage":"[REDACTED]"}`},
		{`{"usage_metadata":{"total_tokens":27710,"cached":true,"reasoning_tokens":null}}`, `{"usage_metadata":{"total_tokens":27710,"cached":true,"reasoning_tokens":null}}`},
	} {
		got, _ := k.Text(c.in)
		assert.Equal(t, c.want, got, c.in)
	}
}

// TestPdata: every place of a span or log record that carries keys.
func TestPdata(t *testing.T) {
	k := New(DefaultKeys)
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.api_key", "res-secret")
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.Attributes().PutStr("input.value", `{"question":"hi","password":"state-secret"}`)
	sp.Attributes().PutStr("http.request.header.authorization", "Bearer attr-secret")
	sp.Attributes().PutInt("gen_ai.usage.input_tokens", 42)
	sp.Attributes().PutEmptyMap("db").PutStr("client_secret", "map-secret")
	sp.Events().AppendEmpty().Attributes().PutStr("tool.args", `{"token":"event-secret"}`)
	n := k.Traces(td)
	assert.Equal(t, 5, n)
	var b ptrace.JSONMarshaler
	out, err := b.MarshalTraces(td)
	require.NoError(t, err)
	for _, s := range []string{"res-secret", "state-secret", "attr-secret", "map-secret", "event-secret"} {
		assert.NotContains(t, string(out), s)
	}
	v, _ := sp.Attributes().Get("gen_ai.usage.input_tokens")
	assert.EqualValues(t, 42, v.Int(), "numbers are kept: token counts are not secrets")
	q, _ := sp.Attributes().Get("input.value")
	assert.True(t, strings.Contains(q.Str(), `"question":"hi"`))

	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.Attributes().PutStr("audit.metadata", `{"headers":{"Authorization":"log-secret"}}`)
	lr.Body().SetEmptyMap().PutStr("cookie", "body-secret")
	assert.Equal(t, 2, k.Logs(ld))
	var lm plog.JSONMarshaler
	lout, err := lm.MarshalLogs(ld)
	require.NoError(t, err)
	assert.NotContains(t, string(lout), "log-secret")
	assert.NotContains(t, string(lout), "body-secret")
}

// BenchmarkText: the common case, a state with no key to redact, is one
// scan without decoding.
func BenchmarkText(b *testing.B) {
	k := New(DefaultKeys)
	s := `{"messages":[{"role":"user","content":"` + strings.Repeat("what is the weather like ", 200) + `"}],"documents":["a","b","c"],"step":3}`
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		if _, ok := k.Text(s); ok {
			b.Fatal("redacted")
		}
	}
}

func TestMatch(t *testing.T) {
	k := New(DefaultKeys)
	for key, want := range map[string]bool{
		"password": true, "DB_PASSWORD": true, "x-api-key": true, "openai.api_key": true, "Authorization": true,
		"refresh_token": true, "session.cookie": true, "user": false, "input.value": false, "pass": false, "": false,
		"gen_ai.usage.input_tokens": true, // a number there is kept (Attributes)
	} {
		assert.Equal(t, want, k.Match(key), key)
	}
	assert.Len(t, k.keys, 8, "access_token, refresh_token, client_secret and apikey are covered by token, secret and api_key")
	assert.False(t, (*Keys)(nil).Match("password"))
}
