package argusapi

import (
	"bytes"
	"encoding/json"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/arguslabs/argus-otel/internal/testutil"
	"github.com/arguslabs/argus-otel/report/reporttest"
)

// browse loads a page in headless Chromium (testutil.RunChromium).
func browse(t *testing.T, args ...string) (stdout, log string) {
	t.Helper()
	return testutil.RunChromium(t, args...)
}

// consoleLines are the page's console messages in Chromium's log.
func consoleLines(log string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, ":CONSOLE") || strings.Contains(l, "Content Security Policy") {
			out = append(out, l)
		}
	}
	return out
}

// fetched lists every URL the page made the browser request (the
// browser's own background requests aside), from its net log: the
// requests whose network isolation key is the page's site.
func fetched(t *testing.T, netlog string) []string {
	t.Helper()
	b, err := os.ReadFile(netlog)
	require.NoError(t, err)
	var log struct {
		Events []struct {
			Params map[string]any `json:"params"`
		} `json:"events"`
	}
	require.NoError(t, json.Unmarshal(b, &log), "net log %s", netlog)
	var out []string
	for _, e := range log.Events {
		nik, _ := e.Params["network_isolation_key"].(string)
		u, _ := e.Params["url"].(string)
		if strings.HasPrefix(nik, "http://127.0.0.1 ") && u != "" {
			out = append(out, u)
		}
	}
	return out
}

func uiOutputDir(t *testing.T) string {
	t.Helper()
	if base := os.Getenv("ARGUS_TEST_OUTPUT"); base != "" {
		dir := filepath.Join(base, "ui")
		require.NoError(t, os.MkdirAll(dir, 0o755))
		return dir
	}
	return t.TempDir()
}

func pixelAt(t *testing.T, path string, x, y int) color.RGBA {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	r, g, b, a := img.At(x, y).RGBA()
	return color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), uint8(a >> 8)}
}

// TestUIInChromium loads every page from a seeded store in headless
// Chromium: the DOM it built has no markup from the data, no console
// message (a CSP violation would be one), no request leaves the origin,
// the served style sheet applies in light and dark mode; screenshots go to
// $ARGUS_TEST_OUTPUT/ui. Then the CSP itself: a script injected into a page
// (as if escaping had failed) does not run under the page's policy, and
// does run without it, so the check can fail.
func TestUIInChromium(t *testing.T) {
	testutil.RequireChromium(t)
	s := start(t, backends[0].config(t))
	s.seedUI(time.Now().UTC())
	s.seedLong(450, 10)
	dir := uiOutputDir(t)
	t.Logf("screenshots in %s", dir)

	// A store whose runs are all older than a day: its home page moves
	// to them.
	old := start(t, backends[0].config(t))
	reporttest.Seed(t, old.store, reporttest.All()...)
	pages := []struct{ name, base, path string }{
		{"pipelines", s.base, "/ui/"},
		{"pipelines-others", s.base, "/ui/?window=1h"}, // the older pipelines listed below
		{"pipelines-moved", old.base, "/ui/"},
		{"runs", s.base, "/ui/runs"},
		{"runs-failed", s.base, "/ui/runs?status=failed&since=24h"},
		{"run-failed", s.base, "/ui/runs/" + reporttest.FailedID},
		{"run-hostile", s.base, "/ui/runs/" + reporttest.HostileID},
		{"run-in-progress", s.base, "/ui/runs/" + progressID},
		{"run-long-page-2", s.base, "/ui/runs/" + reporttest.LongID + "?stepsAfter=200"},
		{"detections", s.base, "/ui/detections"},
	}
	light, dark := color.RGBA{0xff, 0xff, 0xff, 0xff}, color.RGBA{0x16, 0x1b, 0x22, 0xff} // the nav bar: --card
	for _, p := range pages {
		netlog := filepath.Join(t.TempDir(), "net.json")
		dom, log := browse(t, "--log-net-log="+netlog, "--dump-dom", p.base+p.path)
		checkMarkup(t, p.name, []byte(dom))
		assert.Contains(t, dom, `class="top"`, "%s: not the page", p.name)
		assert.Empty(t, consoleLines(log), "%s: console messages", p.name)
		urls := fetched(t, netlog)
		assert.Contains(t, urls, p.base+p.path, "%s: the net log does not show the page itself", p.name)
		for _, u := range urls {
			if !strings.HasPrefix(u, p.base+"/") {
				t.Errorf("%s: fetched %s, outside %s", p.name, u, p.base)
			}
		}
		switch p.name {
		case "pipelines-others":
			assert.Contains(t, dom, "<h2>Other pipelines</h2>", "%s: no list of the pipelines without runs in the hour", p.name)
		case "detections":
			assert.Contains(t, dom, `<td class="spark"><svg`, "%s: no chart per row", p.name)
		case "pipelines-moved":
			assert.Contains(t, dom, `<p class="notice">No runs in the last 24h`, p.name)
			assert.Contains(t, dom, `<rect class="seg s-failed"`, "%s: no red bar", p.name)
		}
		shot := filepath.Join(dir, p.name+".png")
		browse(t, "--screenshot="+shot, "--window-size=1280,1500", p.base+p.path)
		assert.Equal(t, light, pixelAt(t, shot, 1270, 5), "%s: nav bar colour (style sheet not applied?)", p.name)
	}
	for _, p := range []string{"pipelines", "run-failed", "detections"} {
		path := map[string]string{"pipelines": "/ui/", "run-failed": "/ui/runs/" + reporttest.FailedID, "detections": "/ui/detections"}[p]
		shot := filepath.Join(dir, p+"-dark.png")
		browse(t, "--force-dark-mode", "--blink-settings=preferredColorScheme=0", "--screenshot="+shot, "--window-size=1280,1500", s.base+path)
		assert.Equal(t, dark, pixelAt(t, shot, 1270, 5), "%s: dark mode not applied", p)
	}

	// The CSP: a proxy injects an inline script and an image from another
	// origin into the failed run's page, as if escaping had failed.
	const injected = `<script>document.documentElement.setAttribute("data-injected","ran")</script><img src="http://elsewhere.invalid/x.png">`
	proxy := func(keepCSP bool) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			res, err := http.Get(s.base + r.URL.RequestURI())
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			for k, v := range res.Header {
				if keepCSP || k != "Content-Security-Policy" {
					w.Header()[k] = v
				}
			}
			w.Header().Del("Content-Length")
			w.WriteHeader(res.StatusCode)
			_, _ = w.Write(bytes.Replace(body, []byte("</body>"), []byte(injected+"</body>"), 1))
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	page := "/ui/runs/" + url.PathEscape(reporttest.FailedID)
	for _, keep := range []bool{true, false} {
		netlog := filepath.Join(t.TempDir(), "net.json")
		dom, log := browse(t, "--log-net-log="+netlog, "--dump-dom", proxy(keep).URL+page)
		elsewhere := slices.ContainsFunc(fetched(t, netlog), func(u string) bool { return strings.Contains(u, "elsewhere.invalid") })
		if keep {
			assert.NotContains(t, dom, `data-injected="ran"`, "an injected inline script ran despite the CSP")
			assert.False(t, elsewhere, "an injected image from another origin was fetched despite the CSP")
			assert.NotEmpty(t, consoleLines(log), "no CSP violation reported")
		} else { // the control: the same page without its policy
			assert.Contains(t, dom, `data-injected="ran"`, "control: without the CSP the injected script should run")
			assert.True(t, elsewhere, "control: without the CSP the injected image should be fetched")
		}
	}
}
