package e2e

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"golang.org/x/net/html"

	"github.com/arguslabs/argus-otel/internal/testutil"
)

// TestWebUIFindsTheFailingRun is issue #14's "done when", against the
// built collector, as the README tells a new user: the README's fixture is
// posted as it is (OTLP/JSON like its curl, its run of 2024-06-20 with its
// own times), the collector logs the UI's URL, and from that page a person
// finds the failing run in two clicks - the red bar of the pipeline's
// chart, then the run in the list - and reads why it failed. The page's
// last 24 h hold no run, so it shows the 24 h up to the newest one and
// says so. Then the README's first example: the argus CLI built next to the
// collector prints what the README shows. Then a pipeline running now: the
// home page charts it, and LangGraph, quiet since 2024, is still listed
// with a way to its chart. Last, the hostile OTLP corpus (testdata/hostile)
// through every page: no markup from the data.
func TestWebUIFindsTheFailingRun(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), ".argus", "traces.db")
	c := startCollector(t, sqliteExporter(dbPath), map[string]string{"api": "on"})
	readmeFixture, err := os.ReadFile(filepath.Join(testutil.ModuleRoot(t), "testdata", "otlp", "rag_silent_failure.json"))
	require.NoError(t, err)
	res, err := http.Post("http://"+c.httpAddr+"/v1/traces", "application/json", bytes.NewReader(readmeFixture))
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)

	m := regexp.MustCompile(`Argus web UI: open (http://\S+)`).FindStringSubmatch(c.logs.String())
	require.NotNil(t, m, "the collector did not log the web UI's URL; logs:\n%s", c.logs.String())
	home := m[1]
	require.Equal(t, "http://"+c.apiAddr+"/ui/", home)

	// The first page shows the pipeline's chart once the run is stored.
	var page, bar string
	require.Eventually(t, func() bool {
		page = get(t, home)
		bar = firstLink(page, func(n *html.Node) bool { return hasClass(firstChild(n, "rect"), "s-failed") })
		return bar != ""
	}, 60*time.Second, 250*time.Millisecond, "no failed bar on %s", home)
	require.Contains(t, page, "No runs in the last 24h: this is the 24h up to the newest run, 2024-06-20 16:13:20 UTC.")
	require.Contains(t, page, ">LangGraph</a></h2>")

	// Click 1: the red bar lists the failed runs of that time.
	list := get(t, resolve(home, bar))
	require.Contains(t, list, "failed")
	run := firstLink(list, func(n *html.Node) bool { return strings.HasPrefix(attr(n, "href"), "/ui/runs/") })
	require.NotEmpty(t, run, "the runs list behind the bar has no run:\n%s", list)

	// Click 2: the run page says that it failed and why.
	report := get(t, resolve(home, run))
	for _, want := range []string{`<span class="label">Failed</span>`, "Root cause: <span class=\"node\">retrieve</span>",
		"Causal chain", "KeyError: &#39;documents&#39;"} {
		require.Contains(t, report, want, "the run page does not say %q", want)
	}

	// The README's first example, with the CLI make build puts beside the
	// collector: every output line it shows is printed.
	cli := filepath.Join(filepath.Dir(testutil.CollectorBinary(t, "the CLI example")), "argus")
	if _, err := os.Stat(cli); err != nil {
		t.Fatalf("make build did not build the argus CLI: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, cli, "show", "--last", "--db", dbPath).CombinedOutput()
	require.NoError(t, err, "%s", out)
	readme, err := os.ReadFile(filepath.Join(testutil.ModuleRoot(t), "README.md"))
	require.NoError(t, err)
	example := readmeExample(t, string(readme), "$ _build/argus show --last")
	require.NotEmpty(t, example)
	for _, line := range example {
		require.Contains(t, string(out), line, "the README's first example shows a line argus show --last does not print")
	}

	// A pipeline running now: the home page is its last 24 h; LangGraph
	// is listed with its last run, and its link charts it again.
	sendOTLP(t, c, shiftedTo(testutil.LoadTraces(t, "genai_agent.json"), time.Now().Add(-2*time.Minute)))
	require.Eventually(t, func() bool {
		page = get(t, home)
		return !strings.Contains(page, `class="notice"`)
	}, 60*time.Second, 250*time.Millisecond, "the home page did not come back to the last 24 h")
	require.Contains(t, page, `>LangGraph</a></td><td>no runs in this window</td><td class="nowrap">2024-06-20 16:13:20 UTC</td>`)
	up := firstLink(page, func(n *html.Node) bool {
		return n.FirstChild != nil && n.FirstChild.Data == "the 24h up to its last run" && strings.Contains(attr(n, "href"), "pipeline=LangGraph")
	})
	require.NotEmpty(t, up, "no link to LangGraph's last runs:\n%s", page)
	require.NotEmpty(t, firstLink(get(t, resolve(home, up)), func(n *html.Node) bool { return hasClass(firstChild(n, "rect"), "s-failed") }),
		"LangGraph's chart up to its last run has no failed bar")

	// The hostile corpus through every page: the XSS one moved into the
	// window, the others as they are (their odd times included).
	for _, fx := range []string{"malformed_json_states.json", "deeply_nested_json.json", "parent_cycles.json", "timestamps.json"} {
		sendOTLP(t, c, loadHostile(t, fx))
	}
	// Its spans with an all-zero trace id are refused (400, the others
	// of the request are taken: issue #16).
	require.Equal(t, http.StatusBadRequest, otlpStatus(t, c, loadHostile(t, "duplicate_and_zero_ids.json")))
	sendOTLP(t, c, shiftedTo(loadHostile(t, "sql_and_html_everywhere.json"), time.Now().Add(-time.Minute)))
	require.Eventually(t, func() bool {
		return strings.Contains(get(t, resolve(home, "/ui/runs")), "/ui/runs/16000000000000000000000000000001")
	}, 60*time.Second, 250*time.Millisecond, "the hostile runs were not stored")
	pages := []string{"/ui/", "/ui/?window=30d", "/ui/runs", "/ui/detections?window=30d"}
	for _, m := range regexp.MustCompile(`href="(/ui/runs/[0-9a-f]+)"`).FindAllStringSubmatch(get(t, resolve(home, "/ui/runs")), -1) {
		pages = append(pages, m[1])
	}
	for _, p := range pages {
		testutil.CheckMarkup(t, p, []byte(get(t, resolve(home, p))), testutil.UIElements)
	}
}

// readmeExample is the output lines after the command line cmd in the
// README's first code block.
func readmeExample(t *testing.T, readme, cmd string) []string {
	t.Helper()
	i := strings.Index(readme, cmd)
	require.Positive(t, i, "the README's first example is not %q", cmd)
	rest := readme[i:]
	rest = rest[strings.Index(rest, "\n")+1:]
	var lines []string
	for _, l := range strings.Split(rest[:strings.Index(rest, "```")], "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// loadHostile reads testdata/hostile/<name> as OTLP JSON.
func loadHostile(t *testing.T, name string) ptrace.Traces {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testutil.ModuleRoot(t), "testdata", "hostile", name))
	require.NoError(t, err)
	var u ptrace.JSONUnmarshaler
	td, err := u.UnmarshalTraces(b)
	require.NoError(t, err, name)
	return td
}

// sendOTLP posts traces to the collector's OTLP/HTTP receiver as protobuf
// and requires a 200.
func sendOTLP(t *testing.T, c *collector, td ptrace.Traces) {
	t.Helper()
	require.Equal(t, http.StatusOK, otlpStatus(t, c, td))
}

// otlpStatus posts traces as protobuf and returns the answer's status.
func otlpStatus(t *testing.T, c *collector, td ptrace.Traces) int {
	t.Helper()
	var m ptrace.ProtoMarshaler
	body, err := m.MarshalTraces(td)
	require.NoError(t, err)
	res, err := http.Post("http://"+c.httpAddr+"/v1/traces", "application/x-protobuf", bytes.NewReader(body))
	require.NoError(t, err)
	defer res.Body.Close()
	return res.StatusCode
}

// shiftedTo moves every span and event of td so the earliest span starts at start.
func shiftedTo(td ptrace.Traces, start time.Time) ptrace.Traces {
	var first pcommon.Timestamp
	each := func(fn func(ptrace.Span)) {
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			ss := td.ResourceSpans().At(i).ScopeSpans()
			for j := 0; j < ss.Len(); j++ {
				spans := ss.At(j).Spans()
				for k := 0; k < spans.Len(); k++ {
					fn(spans.At(k))
				}
			}
		}
	}
	each(func(s ptrace.Span) {
		if first == 0 || s.StartTimestamp() < first {
			first = s.StartTimestamp()
		}
	})
	d := pcommon.Timestamp(start.UnixNano()) - first
	each(func(s ptrace.Span) {
		s.SetStartTimestamp(s.StartTimestamp() + d)
		s.SetEndTimestamp(s.EndTimestamp() + d)
		for e := 0; e < s.Events().Len(); e++ {
			ev := s.Events().At(e)
			ev.SetTimestamp(ev.Timestamp() + d)
		}
	})
	return td
}

func get(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode, "GET %s: %s", url, b)
	return string(b)
}

func resolve(base, ref string) string {
	i := strings.Index(base[len("http://"):], "/")
	return base[:len("http://")+i] + ref
}

// firstLink is the href of the first <a> that match accepts.
func firstLink(page string, match func(*html.Node) bool) string {
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		return ""
	}
	var found string
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if found != "" {
			return
		}
		if n.Type == html.ElementNode && n.Data == "a" && match(n) {
			found = attr(n, "href")
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return found
}

func firstChild(n *html.Node, tag string) *html.Node {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && c.Data == tag {
			return c
		}
	}
	return nil
}

func attr(n *html.Node, key string) string {
	if n == nil {
		return ""
	}
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasClass(n *html.Node, class string) bool {
	return n != nil && strings.Contains(" "+attr(n, "class")+" ", " "+class+" ")
}
