package argusexporter

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestBatchKeyIgnoresOrder(t *testing.T) {
	a := batchKey([]string{"b", "a", "c"})
	assert.Equal(t, a, batchKey([]string{"c", "b", "a"}))
	assert.NotEqual(t, a, batchKey([]string{"a", "b"}))
	// The separator keeps ("ab","c") apart from ("a","bc").
	assert.NotEqual(t, hashID("ab", "c"), hashID("a", "bc"))
	assert.Len(t, a, 32)
}

func TestTruncateText(t *testing.T) {
	s, cut := truncateText("héllo", 2) // 'é' is two bytes: never split it
	assert.True(t, cut)
	assert.Equal(t, "h", s)
	s, cut = truncateText("hello", 0)
	assert.False(t, cut)
	assert.Equal(t, "hello", s)
}

func TestRedactor(t *testing.T) {
	r := newRedactor([]string{"api_key", "Password"})
	v := r.redact(map[string]any{
		"API-KEY": "x", "apiKey": "y", "user": "ada",
		"list": []any{map[string]any{"password": "p", "ok": 1}},
	})
	assert.Equal(t, map[string]any{
		"API-KEY": "[REDACTED]", "apiKey": "[REDACTED]", "user": "ada",
		"list": []any{map[string]any{"password": "[REDACTED]", "ok": 1}},
	}, v)
}

func TestDropLogIsRateLimited(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	d := newDropLog(zap.New(core), time.Minute)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d.now = func() time.Time { return now }

	d.add(dropPermanent, 10, errors.New("first"))
	require.Equal(t, 1, logs.Len(), "the first drop is reported at once")
	for i := 0; i < 100; i++ {
		now = now.Add(100 * time.Millisecond)
		d.add(dropPermanent, 1, errors.New("again"))
	}
	assert.Equal(t, 1, logs.Len(), "no more than one report per minute")
	now = now.Add(time.Minute)
	d.add(dropPanic, 2, errors.New("boom"))
	require.Equal(t, 2, logs.Len())
	f := logs.All()[1].ContextMap()
	assert.Equal(t, int64(100), f["dropped_permanent_error"])
	assert.Equal(t, int64(2), f["dropped_panic"])
	assert.Equal(t, "boom", f["last_error"])

	d.add(dropPermanent, 3, nil)
	d.flush()
	require.Equal(t, 3, logs.Len(), "shutdown reports what is pending")
	d.flush()
	assert.Equal(t, 3, logs.Len(), "nothing pending, nothing logged")
}

func TestNormalisers(t *testing.T) {
	assert.Equal(t, "failed", normStatus(" FAILED "))
	assert.Equal(t, "", normStatus("broken"))
	assert.Equal(t, "structural", normLayer("Structural"))
	assert.Equal(t, "behavioral", normLayer(strings.Repeat("x", 3)))
	assert.Equal(t, "info", normSeverity("INFO"))
	assert.Equal(t, "warning", normSeverity("fatal"))
}
