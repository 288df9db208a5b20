package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/arguslabs/argus-otel/store"
)

func raw(s string) json.RawMessage { return json.RawMessage(s) }

func TestStateChangesFollowMergedState(t *testing.T) {
	steps := []store.Step{
		{StepNumber: 1, InputState: raw(`{"q":"hi","docs":[1]}`), OutputState: raw(`{"plan":"x","q":"hi"}`)},
		{StepNumber: 2, InputState: raw(`{"ignored":"only the first input seeds the state"}`), OutputState: raw(`{"docs":null,"plan":"y"}`)},
		{StepNumber: 3, OutputState: raw(`"not an object"`)},
		{StepNumber: 4, OutputState: raw(`{"docs":[2],"new":null}`)},
		{StepNumber: 5, OutputState: raw(`{broken`)},
	}
	got := stateChanges(nil, steps)
	want := [][]string{
		{"plan added"},                   // q re-emitted unchanged: no change
		{"docs dropped", "plan changed"}, // set to null = dropped
		{},                               // non-object output changes nothing
		{"docs changed", "new added"},    // null -> value is a change
		{},                               // malformed output changes nothing
	}
	for i := range steps {
		var kinds []string
		for _, c := range got[i] {
			kinds = append(kinds, c.Field+" "+c.Kind)
		}
		if fmt.Sprint(kinds) != fmt.Sprint(want[i]) && !(len(kinds) == 0 && len(want[i]) == 0) {
			t.Errorf("step %d: changes %v, want %v", i+1, kinds, want[i])
		}
	}
	if b := string(got[1][0].Before); b != "[1]" {
		t.Errorf("dropped docs: before %s, want [1]", b)
	}
}

func TestBuildIsRobustToBadRows(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	full := &store.Full{
		Trace: store.Trace{ID: "t1", Status: "exploded", CreatedAt: now, Metadata: raw(`{"_argus_batches":["k"],"b":1,"a":2}`)},
		Steps: []store.Step{
			{ID: "s2", StepNumber: 2, NodeName: "second", Timestamp: now.Add(-time.Second), InputState: raw(`not json`), Metadata: raw(`{"status":"error"}`)},
			{ID: "s1", StepNumber: 1, NodeName: "first", Timestamp: now.Add(time.Second), InputState: raw("\"caf\xe9\"")},
		},
		Detections: []store.Detection{
			{ID: "d-orphan", StepID: "missing-step", Severity: "critical", Details: raw(`{"rule":"x.y","node":"ghost"}`)},
			{ID: "d-run", Severity: "info", Details: raw(`[]`)},
			{ID: "d-1", StepID: "s1", Severity: "warning", Details: raw(`{"rule":7}`)},
		},
		Forensics: []store.Forensics{{ID: "f", RootCauseStep: "s1", CausalChain: raw(`[{"from":"first","to":"second","type":"field_drop","confidence":0.5}, 42, {"nonsense":true}]`), DetectionIDs: nil}},
	}
	r := Build(full, Options{})
	if r.Trace.Status != StatusFailed {
		t.Errorf("unknown stored status shown as %q, want failed (never hidden as ok)", r.Trace.Status)
	}
	if m := string(r.Trace.Metadata); m != `{"a":2,"b":1}` {
		t.Errorf("trace metadata %s: bookkeeping keys must be hidden and keys sorted", m)
	}
	if r.Steps[0].ID != "s1" || r.Steps[1].ID != "s2" {
		t.Errorf("steps not ordered by step number: %s, %s", r.Steps[0].ID, r.Steps[1].ID)
	}
	if s := string(r.Steps[1].InputState); s != `"not json"` {
		t.Errorf("invalid JSON column rendered as %s, want it kept as a string", s)
	}
	if s := string(r.Steps[0].InputState); s != `"caf\ufffd"` && s != "\"caf\uFFFD\"" {
		t.Errorf("invalid UTF-8 rendered as %q", s)
	}
	if r.Steps[1].OffsetMs != 0 {
		t.Errorf("a step starting before the run has offset %d, want 0", r.Steps[1].OffsetMs)
	}
	if r.Steps[1].Status != StatusFailed || r.Steps[0].Status != StatusWarning {
		t.Errorf("step statuses %s/%s, want warning (detection) / failed (span error)", r.Steps[0].Status, r.Steps[1].Status)
	}
	if got := r.Detections[0].ID; got != "d-orphan" && got != "d-run" {
		t.Errorf("run-level and unlinked detections must come first, got %s", got)
	}
	for _, d := range r.Detections {
		if d.ID == "d-orphan" && (d.NodeName != "ghost" || d.Rule != "x.y" || d.StepNumber != 0) {
			t.Errorf("unlinked detection: %+v", d)
		}
		if d.ID == "d-1" && d.Rule != "" {
			t.Errorf("non-string rule should be left out, got %q", d.Rule)
		}
	}
	f := r.Forensics[0]
	if string(f.DetectionIDs) != "[]" || len(f.Links) != 1 || f.RootCauseNode != "first" {
		t.Errorf("forensics: ids %s, links %d, root %q", f.DetectionIDs, len(f.Links), f.RootCauseNode)
	}
	if !strings.Contains(string(f.CausalChain), "nonsense") {
		t.Errorf("the stored chain must be kept whole in JSON, got %s", f.CausalChain)
	}
	for _, format := range []Format{FormatJSON, FormatHTML, FormatMarkdown, FormatText} {
		var buf bytes.Buffer
		if err := Render(&buf, full, format, Options{}); err != nil {
			t.Errorf("%s: %v", format, err)
		}
	}
}

func TestJSONIsValidAndVersioned(t *testing.T) {
	var buf bytes.Buffer
	full := &store.Full{Trace: store.Trace{ID: "t", Status: "ok"}}
	if err := Render(&buf, full, FormatJSON, Options{}); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("json report does not parse: %v", err)
	}
	if doc["schema_version"] != float64(SchemaVersion) {
		t.Errorf("schema_version = %v", doc["schema_version"])
	}
	if _, ok := doc["generated_at"]; ok {
		t.Error("generated_at must be absent when no clock is given")
	}
	for _, k := range []string{"steps", "detections", "forensics"} {
		if _, ok := doc[k].([]any); !ok {
			t.Errorf("%s must be an array even when empty, got %v", k, doc[k])
		}
	}
}

// The inline style sheet is allowed by hash only: the hash in the CSP must
// match the bytes of the <style> element exactly, or the page is unstyled.
func TestHTMLPolicyHashesItsStyle(t *testing.T) {
	var buf bytes.Buffer
	if err := Render(&buf, &store.Full{Trace: store.Trace{ID: "t", Status: "failed"}}, FormatHTML, Options{}); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	m := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindAllStringSubmatch(page, -1)
	if len(m) != 1 {
		t.Fatalf("%d style elements", len(m))
	}
	h := sha256.Sum256([]byte(m[0][1]))
	want := "'sha256-" + base64.StdEncoding.EncodeToString(h[:]) + "'"
	csp := regexp.MustCompile(`<meta http-equiv="Content-Security-Policy" content="([^"]*)">`).FindStringSubmatch(page)
	if csp == nil {
		t.Fatal("no CSP meta element")
	}
	policy := html.UnescapeString(csp[1])
	if !strings.Contains(policy, want) || !strings.Contains(policy, "default-src 'none'") {
		t.Errorf("policy %q does not allow exactly the style %s", policy, want)
	}
	if strings.Contains(strings.ToLower(page), "<script") || strings.Contains(page, "http://") || strings.Contains(page, "https://") {
		t.Error("the page must be self-contained: no script, no external resource")
	}
}

func TestHTMLShowsBidiControlsVisibly(t *testing.T) {
	var buf bytes.Buffer
	full := &store.Full{Trace: store.Trace{ID: "t", Status: "ok", PipelineName: "pay\u202Egnp.exe"}}
	if err := Render(&buf, full, FormatHTML, Options{}); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsRune(buf.String(), '\u202E') || !strings.Contains(buf.String(), "pay[U+202E]gnp.exe") {
		t.Error("a right-to-left override from the data must be shown, not applied")
	}
}

func TestMarkdownEscapesAndCaps(t *testing.T) {
	full := &store.Full{Trace: store.Trace{ID: "t", Status: "warning", PipelineName: "a|b`c<d>&*e*"}}
	for i := 0; i < 45; i++ {
		full.Steps = append(full.Steps, store.Step{ID: fmt.Sprint("s", i), StepNumber: i + 1, NodeName: fmt.Sprintf("n%d|x", i)})
		full.Detections = append(full.Detections, store.Detection{
			ID: fmt.Sprint("d", i), StepID: fmt.Sprint("s", i), Severity: map[bool]string{true: "warning", false: "info"}[i%9 == 0],
			Message: "line one\nline two | `tick` <img src=x>",
		})
	}
	var buf bytes.Buffer
	if err := Render(&buf, full, FormatMarkdown, Options{}); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	if !strings.HasPrefix(md, "### ⚠️ Argus: WARNING · a\\|b\\`c&lt;d&gt;&amp;\\*e\\*\n") {
		t.Errorf("verdict line not first or not escaped:\n%s", strings.SplitN(md, "\n", 2)[0])
	}
	for _, bad := range []string{"<img", "line one\nline two", " | `tick`"} {
		if strings.Contains(md, bad) {
			t.Errorf("unescaped %q in markdown", bad)
		}
	}
	if !strings.Contains(md, "- … and 25 more\n") {
		t.Error("detections must be capped at 20 with a count of the rest")
	}
	if !strings.Contains(md, "_40 more steps without findings are not shown._") {
		t.Errorf("a long run must show only its flagged steps:\n%s", md)
	}
	// Every table row keeps its 5 cells: escaped pipes do not split cells.
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "| ") {
			if n := len(regexp.MustCompile(`(^|[^\\])\|`).FindAllString(line, -1)); n != 6 {
				t.Errorf("row has %d cell separators: %s", n, line)
			}
		}
	}
	if len(md) > 10_000 {
		t.Errorf("markdown for a pull-request comment is %d bytes", len(md))
	}
}

func TestTextRemovesTerminalControls(t *testing.T) {
	full := &store.Full{
		Trace: store.Trace{ID: "t\x1b[2J", Status: "failed", PipelineName: "p\x1b]0;title\x07"},
		Steps: []store.Step{{ID: "s", StepNumber: 1, NodeName: "n\r\nfake line"}},
	}
	var buf bytes.Buffer
	if err := Render(&buf, full, FormatText, Options{}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.ContainsAny(out, "\x1b\x07\r") || strings.Contains(out, "\nfake line") {
		t.Errorf("control characters reach the terminal: %q", out)
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{"json": FormatJSON, "HTML": FormatHTML, "md": FormatMarkdown, "markdown": FormatMarkdown, "text": FormatText} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseFormat("pdf"); err == nil {
		t.Error("pdf accepted")
	}
}

func TestFormatDuration(t *testing.T) {
	for ms, want := range map[int64]string{0: "0 ms", 999: "999 ms", 1000: "1.00 s", 1234: "1.23 s", 65_000: "1m05s", 3_723_000: "1h02m03s"} {
		if got := FormatDuration(ms); got != want {
			t.Errorf("FormatDuration(%d) = %q, want %q", ms, got, want)
		}
	}
}

func BenchmarkRenderHTML(b *testing.B) {
	full := bigRun(200)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var buf bytes.Buffer
		if err := Render(&buf, full, FormatHTML, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderJSON(b *testing.B) {
	full := bigRun(200)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var buf bytes.Buffer
		if err := Render(&buf, full, FormatJSON, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// bigRun is a run of n steps with 2 KB states and a detection every 5 steps.
func bigRun(n int) *store.Full {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	full := &store.Full{Trace: store.Trace{ID: "big", Status: "failed", CreatedAt: start, DurationMs: int64(n) * 10}}
	text := strings.Repeat("lorem ipsum ", 170)
	for i := 0; i < n; i++ {
		id := fmt.Sprint("s", i)
		st, _ := json.Marshal(map[string]any{fmt.Sprint("f", i): text, "i": i})
		full.Steps = append(full.Steps, store.Step{ID: id, StepNumber: i + 1, NodeName: fmt.Sprint("node", i%7),
			InputState: st, OutputState: st, DurationMs: 9, Timestamp: start.Add(time.Duration(i*10) * time.Millisecond)})
		if i%5 == 0 {
			full.Detections = append(full.Detections, store.Detection{ID: fmt.Sprint("d", i), StepID: id, Severity: "warning", Message: "m"})
		}
	}
	return full
}

// A run still going is shown as in progress, with its steps so far, never
// with a verdict it does not have yet.
func TestInProgressRun(t *testing.T) {
	full := &store.Full{
		Trace: store.Trace{ID: "t-long", Status: "ok", PipelineName: "research",
			Metadata: json.RawMessage(`{"analysis":"in_progress","span_count":2}`)},
		Steps: []store.Step{{ID: "t-long-a", TraceID: "t-long", StepNumber: 1, NodeName: "plan",
			InputState: json.RawMessage(`{}`), OutputState: json.RawMessage(`{"plan":"x"}`), Metadata: json.RawMessage(`{}`)}},
	}
	want := map[Format]string{
		FormatText:     "IN PROGRESS  research",
		FormatMarkdown: "⏳ Argus: IN PROGRESS",
		FormatHTML:     "In progress",
	}
	for f, w := range want {
		var buf bytes.Buffer
		if err := Render(&buf, full, f, Options{}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), w) {
			t.Errorf("%s: want %q in\n%s", f, w, buf.String())
		}
		if strings.Contains(buf.String(), "PASSED") || strings.Contains(buf.String(), "Passed") {
			t.Errorf("%s: a run in progress shown as passed", f)
		}
	}
	var buf bytes.Buffer
	if err := Render(&buf, full, FormatJSON, Options{}); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Trace struct {
			Analysis   string `json:"analysis"`
			InProgress bool   `json:"in_progress"`
		} `json:"trace"`
		Steps []any `json:"steps"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Trace.Analysis != "in_progress" || !doc.Trace.InProgress || len(doc.Steps) != 1 {
		t.Errorf("json: %+v", doc)
	}
}
