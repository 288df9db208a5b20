package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/arguslabs/argus-otel/report/reporttest"
	"github.com/arguslabs/argus-otel/store"
)

// fixedNow is the clock of every in-process run: the golden reports were
// generated at this time.
var fixedNow = time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)

type result struct {
	code           int
	stdout, stderr string
}

// argus runs the command in-process with a fixed clock and the given
// environment (nothing from the real one).
func argus(t *testing.T, vars map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	e := env{now: func() time.Time { return fixedNow }, getenv: func(k string) string { return vars[k] }}
	code := runEnv(e, args, &out, &errb)
	return result{code, out.String(), errb.String()}
}

// seededSQLite is a SQLite file holding every fixture run.
func seededSQLite(t *testing.T) string {
	t.Helper()
	st, path := reporttest.SQLite(t)
	reporttest.Seed(t, st)
	return path
}

// seededPostgres is a PostgreSQL database holding every fixture run.
func seededPostgres(t *testing.T) string {
	t.Helper()
	st, dsn := reporttest.Postgres(t)
	reporttest.Seed(t, st)
	return dsn
}

func golden(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "report", "testdata", "golden", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// wantError checks an operational failure: exit 3, nothing on stdout, one
// clear line on stderr mentioning what went wrong.
func wantError(t *testing.T, r result, mention string) {
	t.Helper()
	if r.code != exitError {
		t.Errorf("exit %d, want %d (stderr %q)", r.code, exitError, r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("stdout %q, want nothing", r.stdout)
	}
	if strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "argus: ") {
		t.Errorf("stderr %q, want one line starting with 'argus: '", r.stderr)
	}
	if !strings.Contains(r.stderr, mention) {
		t.Errorf("stderr %q does not mention %q", r.stderr, mention)
	}
}

func wantUsage(t *testing.T, r result, mention string) {
	t.Helper()
	if r.code != exitUsage {
		t.Errorf("exit %d, want %d (stderr %q)", r.code, exitUsage, r.stderr)
	}
	if !strings.Contains(r.stderr, mention) {
		t.Errorf("stderr %q does not mention %q", r.stderr, mention)
	}
}

// TestReportMatchesGoldens: the CLI writes exactly the report package's
// golden files, from SQLite (--db) and PostgreSQL (--dsn and $ARGUS_DSN).
func TestReportMatchesGoldens(t *testing.T) {
	dbs := []struct {
		name string
		args func(t *testing.T) ([]string, map[string]string)
	}{
		{"sqlite", func(t *testing.T) ([]string, map[string]string) { return []string{"--db", seededSQLite(t)}, nil }},
		{"postgres-flag", func(t *testing.T) ([]string, map[string]string) { return []string{"--dsn", seededPostgres(t)}, nil }},
		{"postgres-env", func(t *testing.T) ([]string, map[string]string) {
			return nil, map[string]string{"ARGUS_DSN": seededPostgres(t)}
		}},
	}
	for _, db := range dbs {
		t.Run(db.name, func(t *testing.T) {
			dbArgs, vars := db.args(t)
			for _, f := range []struct{ format, ext string }{{"json", "json"}, {"html", "html"}, {"markdown", "md"}, {"md", "md"}} {
				r := argus(t, vars, append([]string{"report", "--trace", reporttest.FailedID, "--format", f.format}, dbArgs...)...)
				if r.code != 0 || r.stdout != golden(t, "failed."+f.ext) {
					t.Errorf("report --format %s: exit %d, stderr %q, output matches golden: %v", f.format, r.code, r.stderr, r.stdout == golden(t, "failed."+f.ext))
				}
			}
			// --last --pipeline picks the newest run of that pipeline; the
			// database flags may also come before the command.
			r := argus(t, vars, append(append([]string{}, dbArgs...), "report", "--last", "--pipeline", "rag-answer", "--format", "markdown")...)
			if r.code != 0 || r.stdout != golden(t, "failed.md") {
				t.Errorf("report --last --pipeline rag-answer: exit %d, stderr %q\n%s", r.code, r.stderr, r.stdout)
			}
			r = argus(t, vars, append([]string{"report", "--last"}, dbArgs...)...)
			if r.code != 0 || r.stdout != golden(t, "warning.json") {
				t.Errorf("report --last (default json) is not the newest run: exit %d, stderr %q", r.code, r.stderr)
			}
		})
	}
}

func TestReportOutputFile(t *testing.T) {
	db := seededSQLite(t)
	out := filepath.Join(t.TempDir(), "run.html")
	r := argus(t, nil, "report", "--db", db, "--trace", reporttest.FailedID, "--format", "html", "--output", out)
	if r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "wrote html report") {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil || string(b) != golden(t, "failed.html") {
		t.Errorf("written file differs from the golden (err %v)", err)
	}
	// A directory that does not exist: exit 3, and no stray temporary file.
	bad := filepath.Join(t.TempDir(), "missing", "run.html")
	wantError(t, argus(t, nil, "report", "--db", db, "--last", "--output", bad), "cannot write")
}

func TestCheckExitCodes(t *testing.T) {
	db := seededSQLite(t)
	cases := []struct {
		args     []string
		code     int
		firstTok string
	}{
		{[]string{reporttest.OKID}, exitOK, "OK"},
		{[]string{reporttest.WarningID}, exitWarning, "WARNING"},
		{[]string{reporttest.FailedID}, exitFailed, "FAILED"},
		{[]string{"--trace", reporttest.FailedID}, exitFailed, "FAILED"},
		{[]string{"--last"}, exitWarning, "WARNING"}, // triage is the newest run
		{[]string{"--last", "--pipeline", "rag-answer"}, exitFailed, "FAILED"},
	}
	for _, c := range cases {
		r := argus(t, nil, append([]string{"check", "--db", db}, c.args...)...)
		if r.code != c.code || !strings.HasPrefix(r.stdout, c.firstTok+" ") || strings.Count(r.stdout, "\n") != 1 || r.stderr != "" {
			t.Errorf("check %v: exit %d (want %d), stdout %q, stderr %q", c.args, r.code, c.code, r.stdout, r.stderr)
		}
	}
	r := argus(t, nil, "check", "--db", db, reporttest.FailedID)
	if !strings.Contains(r.stdout, "root cause rerank: rerank set 'documents' to null") {
		t.Errorf("check of a failed run should name the root cause: %q", r.stdout)
	}
	// The hostile run's terminal escapes never reach the CI log.
	r = argus(t, nil, "check", "--db", db, reporttest.HostileID)
	if r.code != exitFailed || strings.ContainsAny(r.stdout, "\x1b\x07") {
		t.Errorf("hostile check: exit %d, output %q", r.code, r.stdout)
	}
}

func TestShow(t *testing.T) {
	db := seededSQLite(t)
	r := argus(t, nil, "show", reporttest.FailedID, "--db", db) // flags after the id
	if r.code != 0 || r.stdout != golden(t, "failed.txt") {
		t.Errorf("show: exit %d, stderr %q\n%s", r.code, r.stderr, r.stdout)
	}
	for _, want := range []string{"FAILED  rag-answer", "rerank      warning", "<- root cause", "CRITICAL 5.respond", "rerank --field_drop documents (92%)--> synthesize"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("show output lacks %q", want)
		}
	}
	r = argus(t, nil, "show", "--db", db, "--last")
	if r.code != 0 || r.stdout != golden(t, "warning.txt") {
		t.Errorf("show --last: exit %d, stderr %q\n%s", r.code, r.stderr, r.stdout)
	}
}

func TestList(t *testing.T) {
	db := seededSQLite(t)
	ids := func(out string) []string {
		var got []string
		for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
			got = append(got, strings.Fields(line)[0])
		}
		return got
	}
	cases := []struct {
		args []string
		want []string
	}{
		{nil, []string{reporttest.WarningID, reporttest.FailedID, reporttest.OKID, reporttest.HostileID}},
		{[]string{"--pipeline", "rag-answer"}, []string{reporttest.FailedID, reporttest.OKID}},
		{[]string{"--status", "failed"}, []string{reporttest.FailedID, reporttest.HostileID}},
		{[]string{"--status", "failed", "--pipeline", "rag-answer"}, []string{reporttest.FailedID}},
		// fixedNow is 12:00; the runs started 10:02, 09:26, 08:00 and 06:56.
		{[]string{"--since", "3h"}, []string{reporttest.WarningID, reporttest.FailedID}},
		{[]string{"--since", "2026-03-14T09:00:00Z"}, []string{reporttest.WarningID, reporttest.FailedID}},
		{[]string{"--since", "2026-03-14"}, []string{reporttest.WarningID, reporttest.FailedID, reporttest.OKID, reporttest.HostileID}},
		{[]string{"--since", "1d"}, []string{reporttest.WarningID, reporttest.FailedID, reporttest.OKID, reporttest.HostileID}},
		{[]string{"--limit", "2"}, []string{reporttest.WarningID, reporttest.FailedID}},
	}
	for _, c := range cases {
		r := argus(t, nil, append([]string{"list", "--db", db}, c.args...)...)
		if r.code != 0 {
			t.Errorf("list %v: exit %d, stderr %q", c.args, r.code, r.stderr)
			continue
		}
		if got := ids(r.stdout); strings.Join(got, ",") != strings.Join(c.want, ",") {
			t.Errorf("list %v: runs %v, want %v\n%s", c.args, got, c.want, r.stdout)
		}
	}
	r := argus(t, nil, "list", "--db", db, "--limit", "2")
	if !strings.Contains(r.stderr, "showing 2 of 4 matching runs") {
		t.Errorf("a cut listing must say so on stderr, got %q", r.stderr)
	}
	want := "TRACE ID                          STARTED (UTC)        PIPELINE    STATUS  DURATION  STEPS  DETECTIONS\n" +
		reporttest.FailedID + "  2026-03-14 09:26:53  rag-answer  failed    2.41 s      5           5\n"
	if r := argus(t, nil, "list", "--db", db, "--pipeline", "rag-answer", "--status", "failed"); r.stdout != want {
		t.Errorf("list table:\n%s\nwant:\n%s", r.stdout, want)
	}
	if r := argus(t, nil, "list", "--db", db, "--pipeline", "nope"); r.code != 0 || !strings.HasPrefix(r.stdout, "no runs match") {
		t.Errorf("an empty listing is an answer, not an error: exit %d, %q", r.code, r.stdout)
	}

	r = argus(t, nil, "list", "--db", db, "--format", "json", "--status", "warning")
	var doc struct {
		Runs []struct {
			ID       string          `json:"id"`
			Status   string          `json:"status"`
			Metadata json.RawMessage `json:"metadata"`
		} `json:"runs"`
		Total int `json:"total"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || doc.Total != 1 || len(doc.Runs) != 1 || doc.Runs[0].ID != reporttest.WarningID {
		t.Errorf("list --format json: %v\n%s", err, r.stdout)
	}
}

func TestOperationalErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nowhere", "traces.db")
	for _, cmd := range [][]string{{"list"}, {"show", "--last"}, {"check", "--last"}, {"report", "--last"}} {
		wantError(t, argus(t, nil, append(cmd, "--db", missing)...), "no database at "+missing)
	}
	if _, err := os.Stat(filepath.Dir(missing)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("reading a missing database created %s", filepath.Dir(missing))
	}

	// The default path, relative to the working directory.
	t.Chdir(t.TempDir())
	wantError(t, argus(t, nil, "check", "--last"), "no database at .argus/traces.db")
	if _, err := os.Stat(".argus"); !errors.Is(err, os.ErrNotExist) {
		t.Error("reading the default database created .argus/")
	}

	wantError(t, argus(t, nil, "show", "--last", "--db", dir), "is a directory")
	notDB := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notDB, []byte("this is not a database, just text that is long enough to have a header page"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := argus(t, nil, "list", "--db", notDB); r.code != exitError || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("a file that is not a database: exit %d, stderr %q", r.code, r.stderr)
	}

	db := seededSQLite(t)
	wantError(t, argus(t, nil, "show", "--db", db, "0123456789abcdef0123456789abcdef"), `no run with trace id "0123456789abcdef0123456789abcdef"`)
	wantError(t, argus(t, nil, "check", "--db", db, "x\x1b[2Jy"), `no run with trace id "x\x1b[2Jy"`)
	wantError(t, argus(t, nil, "check", "--db", db, "--last", "--pipeline", "nope"), `no runs of pipeline "nope"`)

	// An empty store: migrated, no runs.
	st, empty := reporttest.SQLite(t)
	_ = st
	for _, cmd := range [][]string{{"show", "--last"}, {"check", "--last"}, {"report", "--last"}} {
		wantError(t, argus(t, nil, append(cmd, "--db", empty)...), "no runs recorded in "+empty)
	}

	// PostgreSQL that does not answer: one line, quickly.
	start := time.Now()
	wantError(t, argus(t, nil, "check", "--last", "--dsn", "postgres://argus:secret@127.0.0.1:1/argus?sslmode=disable&connect_timeout=5"), "cannot open the PostgreSQL database")
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("an unreachable server took %s to report", d)
	}
	r := argus(t, map[string]string{"ARGUS_DSN": "postgres://argus:secret@127.0.0.1:1/argus?sslmode=disable"}, "list")
	if strings.Contains(r.stderr, "secret") {
		t.Errorf("the error line leaks the password: %q", r.stderr)
	}
}

func TestEmptyPostgresStore(t *testing.T) {
	_, dsn := reporttest.Postgres(t)
	wantError(t, argus(t, nil, "report", "--last", "--dsn", dsn), "no runs recorded in the PostgreSQL database")
	wantError(t, argus(t, nil, "show", "--dsn", dsn, reporttest.FailedID), "no run with trace id")
}

func TestUsageErrors(t *testing.T) {
	db := seededSQLite(t)
	cases := []struct {
		args    []string
		mention string
	}{
		{nil, "missing command"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"report", "--db", db}, "give a trace id or --last"},
		{[]string{"report", "--db", db, "--last", "--trace", "abc"}, "not both"},
		{[]string{"report", "--db", db, "--last", "--format", "pdf"}, `unknown --format "pdf"`},
		{[]string{"report", "--db", db, "--last", "--format", "text"}, `unknown --format "text"`},
		{[]string{"report", "--db", db, "--trace", "abc", "--pipeline", "p"}, "use it with --last"},
		{[]string{"show", "--db", db, "a", "b"}, "one run at a time"},
		{[]string{"check", "--db", db, "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"check", "--last", "--db", db, "--dsn", "postgres://x"}, "--db and --dsn are exclusive"},
		{[]string{"check", "--last", "--db", ""}, "empty path"},
		{[]string{"list", "--db", db, "--status", "fine"}, `unknown --status "fine"`},
		{[]string{"list", "--db", db, "--limit", "0"}, "--limit must be between 1 and 1000"},
		{[]string{"list", "--db", db, "--limit", "5000"}, "--limit must be between 1 and 1000"},
		{[]string{"list", "--db", db, "--limit", "ten"}, "invalid value"},
		{[]string{"list", "--db", db, "--since", "yesterday"}, `"yesterday" is not a duration`},
		{[]string{"list", "--db", db, "--since", "-3h"}, "must be positive"},
		{[]string{"list", "--db", db, "--format", "xml"}, `unknown --format "xml"`},
		{[]string{"list", "--db", db, "extra"}, `unexpected argument "extra"`},
	}
	for _, c := range cases {
		wantUsage(t, argus(t, nil, c.args...), c.mention)
	}
	for _, help := range [][]string{{"help"}, {"-h"}, {"--help"}, {"report", "-h"}} {
		if r := argus(t, nil, help...); r.code != 0 || !strings.Contains(r.stdout, "Exit codes:") {
			t.Errorf("%v: exit %d, stdout %q", help, r.code, r.stdout)
		}
	}
}

// TestBinary builds the real command and runs it once, checking that main
// turns the verdict into the process exit code.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	db := seededSQLite(t)
	bin := filepath.Join(t.TempDir(), "argus")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.CommandContext(ctx, bin, "check", "--last", "--pipeline", "rag-answer", "--db", db)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err := cmd.Output()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitFailed {
		t.Fatalf("argus check: %v, want exit status %d", err, exitFailed)
	}
	if !strings.HasPrefix(string(out), "FAILED rag-answer run "+reporttest.FailedID) {
		t.Errorf("output %q", out)
	}
}

// The JSON report is the CI contract: decode it into the documented shape.
func TestJSONReportContract(t *testing.T) {
	db := seededSQLite(t)
	r := argus(t, nil, "report", "--db", db, "--trace", reporttest.FailedID)
	var doc struct {
		SchemaVersion int `json:"schema_version"`
		Trace         struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"trace"`
		Summary struct {
			Status    string `json:"status"`
			RootCause struct {
				NodeName    string `json:"node_name"`
				Explanation string `json:"explanation"`
			} `json:"root_cause"`
		} `json:"summary"`
		Steps []struct {
			NodeName     string `json:"node_name"`
			Status       string `json:"status"`
			StateChanges []struct {
				Field string `json:"field"`
				Kind  string `json:"kind"`
			} `json:"state_changes"`
		} `json:"steps"`
		Detections []struct {
			Severity string `json:"severity"`
			Rule     string `json:"rule"`
		} `json:"detections"`
		Forensics []struct {
			CausalChain []struct {
				From, To, Type string
				Confidence     float64
			} `json:"causal_chain"`
		} `json:"forensics"`
	}
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.SchemaVersion != 1 || doc.Trace.ID != reporttest.FailedID || doc.Summary.Status != "failed" ||
		doc.Summary.RootCause.NodeName != "rerank" || len(doc.Steps) != 5 || len(doc.Detections) != 5 ||
		len(doc.Forensics) != 1 || len(doc.Forensics[0].CausalChain) != 2 || doc.Forensics[0].CausalChain[0].Confidence != 0.92 {
		t.Errorf("json report: %+v", doc)
	}
	if s := doc.Steps[2]; s.NodeName != "rerank" || s.Status != "warning" || len(s.StateChanges) != 2 || s.StateChanges[0].Kind != "dropped" {
		t.Errorf("rerank step: %+v", s)
	}
}

// A run that has started but not completed is listed, shown and checked as
// in progress with its steps so far: never with a verdict it does not have.
func TestRunInProgress(t *testing.T) {
	st, db := reporttest.SQLite(t)
	const id = "11112222333344445555666677778888"
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	if err := st.WriteBatch(context.Background(), store.TraceBatch{
		Traces: []store.TraceUpdate{{Trace: store.Trace{ID: id, CreatedAt: start, PipelineName: "research",
			Status: "ok", Metadata: json.RawMessage(`{"analysis":"in_progress"}`)}}},
		Steps: []store.Step{{ID: id + "-a", TraceID: id, StepNumber: 1, NodeName: "plan", Timestamp: start,
			InputState: json.RawMessage(`{}`), OutputState: json.RawMessage(`{"plan":"search"}`), Metadata: json.RawMessage(`{}`)}},
	}); err != nil {
		t.Fatal(err)
	}
	r := argus(t, nil, "list", "--db", db)
	if r.code != 0 || !strings.Contains(r.stdout, "in progress") {
		t.Errorf("list: exit %d, %q", r.code, r.stdout)
	}
	r = argus(t, nil, "show", id, "--db", db)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "IN PROGRESS  research") || !strings.Contains(r.stdout, "plan") {
		t.Errorf("show: exit %d, %q", r.code, r.stdout)
	}
	r = argus(t, nil, "check", id, "--db", db)
	if r.code != exitInProgress || !strings.HasPrefix(r.stdout, "IN_PROGRESS research run "+id+": 1 steps so far") {
		t.Errorf("check: exit %d (want %d), %q", r.code, exitInProgress, r.stdout)
	}
	r = argus(t, nil, "list", "--db", db, "--format", "json")
	if !strings.Contains(r.stdout, `"in_progress": true`) || !strings.Contains(r.stdout, `"analysis": "in_progress"`) {
		t.Errorf("list json: %q", r.stdout)
	}
}
