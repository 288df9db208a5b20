package testutil

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// ModuleRoot returns the directory holding go.mod, found by walking up from
// the test's working directory (its package directory).
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("getwd: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// FixturePath is the path of testdata/otlp/<name> in the module.
func FixturePath(t testing.TB, name string) string {
	t.Helper()
	return filepath.Join(ModuleRoot(t), "testdata", "otlp", name)
}

// FixtureNames lists the OTLP JSON fixtures of testdata/otlp: every
// convention, and the broken inputs (no root, duplicate ids, cycles).
func FixtureNames(t testing.TB) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(ModuleRoot(t), "testdata", "otlp"))
	if err != nil {
		t.Fatalf("list fixtures: %v", err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		t.Fatal("no fixtures in testdata/otlp")
	}
	return names
}

// LoadTraces reads an OTLP JSON fixture from testdata/otlp/<name>.
func LoadTraces(t testing.TB, name string) ptrace.Traces {
	t.Helper()
	return loadOTLPJSON(t, FixturePath(t, name))
}

func loadOTLPJSON(t testing.TB, path string) ptrace.Traces {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	var u ptrace.JSONUnmarshaler
	td, err := u.UnmarshalTraces(b)
	if err != nil {
		t.Fatalf("parse fixture %s: %v", path, err)
	}
	return td
}

// Recording is one run recorded from a real SDK (testdata/sdks/<sdk>/<name>.json).
type Recording struct {
	Name   string
	Traces ptrace.Traces
}

// LoadRecordings reads every recording of testdata/sdks/<sdk> (made by
// make record-sdks), in name order.
func LoadRecordings(t testing.TB, sdk string) []Recording {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(ModuleRoot(t), "testdata", "sdks", sdk, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no recordings of %s (make record-sdks): %v", sdk, err)
	}
	sort.Strings(files)
	out := make([]Recording, 0, len(files))
	for _, f := range files {
		out = append(out, Recording{Name: strings.TrimSuffix(filepath.Base(f), ".json"), Traces: loadOTLPJSON(t, f)})
	}
	return out
}

// Span describes one span for BuildTraces. Ids are hex strings; an empty
// ParentID makes a root. Attribute values may be string, bool, int, int64,
// float64, []string, []any or map[string]any.
type Span struct {
	TraceID  string
	SpanID   string
	ParentID string
	Name     string
	Kind     ptrace.SpanKind
	Start    time.Time
	End      time.Time
	Attrs    map[string]any
	Status   ptrace.StatusCode
	Message  string
	Events   []Event
	// Resource groups spans: spans with different Resource values land in
	// different ResourceSpans (same order as first seen).
	Resource string
}

// Event is one span event (e.g. "exception").
type Event struct {
	Name  string
	Time  time.Time
	Attrs map[string]any
}

// BuildTraces builds ptrace.Traces from span descriptions. Each distinct
// Span.Resource gets its own ResourceSpans with service.name set to it
// (or "test" when empty). It fails the test on a bad id or attribute.
func BuildTraces(t testing.TB, spans ...Span) ptrace.Traces {
	t.Helper()
	td := ptrace.NewTraces()
	scopes := map[string]ptrace.SpanSlice{}
	for _, s := range spans {
		ss, ok := scopes[s.Resource]
		if !ok {
			rs := td.ResourceSpans().AppendEmpty()
			svc := s.Resource
			if svc == "" {
				svc = "test"
			}
			rs.Resource().Attributes().PutStr("service.name", svc)
			sc := rs.ScopeSpans().AppendEmpty()
			sc.Scope().SetName("argus.test")
			ss = sc.Spans()
			scopes[s.Resource] = ss
		}
		sp := ss.AppendEmpty()
		sp.SetTraceID(TraceID(t, s.TraceID))
		sp.SetSpanID(SpanID(t, s.SpanID))
		if s.ParentID != "" {
			sp.SetParentSpanID(SpanID(t, s.ParentID))
		}
		sp.SetName(s.Name)
		sp.SetKind(s.Kind)
		if !s.Start.IsZero() {
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(s.Start))
		}
		if !s.End.IsZero() {
			sp.SetEndTimestamp(pcommon.NewTimestampFromTime(s.End))
		}
		if err := sp.Attributes().FromRaw(normalizeRaw(s.Attrs)); err != nil {
			t.Fatalf("span %s attributes: %v", s.Name, err)
		}
		sp.Status().SetCode(s.Status)
		sp.Status().SetMessage(s.Message)
		for _, e := range s.Events {
			ev := sp.Events().AppendEmpty()
			ev.SetName(e.Name)
			if !e.Time.IsZero() {
				ev.SetTimestamp(pcommon.NewTimestampFromTime(e.Time))
			}
			if err := ev.Attributes().FromRaw(normalizeRaw(e.Attrs)); err != nil {
				t.Fatalf("event %s attributes: %v", e.Name, err)
			}
		}
	}
	return td
}

// normalizeRaw converts the convenience types FromRaw does not take.
func normalizeRaw(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch x := v.(type) {
		case int:
			out[k] = int64(x)
		case []string:
			s := make([]any, len(x))
			for i := range x {
				s[i] = x[i]
			}
			out[k] = s
		default:
			out[k] = v
		}
	}
	return out
}

// TraceID parses a 32-hex-digit trace id.
func TraceID(t testing.TB, s string) pcommon.TraceID {
	t.Helper()
	var id pcommon.TraceID
	decodeID(t, s, id[:])
	return id
}

// SpanID parses a 16-hex-digit span id.
func SpanID(t testing.TB, s string) pcommon.SpanID {
	t.Helper()
	var id pcommon.SpanID
	decodeID(t, s, id[:])
	return id
}

func decodeID(t testing.TB, s string, dst []byte) {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(dst) {
		t.Fatalf("bad id %q: want %d hex bytes", s, len(dst))
	}
	copy(dst, b)
}
