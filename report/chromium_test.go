package report_test

import (
	"bytes"
	"context"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/arguslabs/argus-otel/internal/testutil"
	"github.com/arguslabs/argus-otel/report"
	"github.com/arguslabs/argus-otel/report/reporttest"
)

// chromium skips the test without the browser (see testutil.RequireChromium).
func chromium(t *testing.T) { testutil.RequireChromium(t) }

// outputDir is where screenshots and rendered pages are kept for a person
// to look at: $ARGUS_TEST_OUTPUT/report (make test: test-output/ at the repo
// root), else a temporary directory.
func outputDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if base := os.Getenv("ARGUS_TEST_OUTPUT"); base != "" {
		dir = filepath.Join(base, "report")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func runChromium(t *testing.T, args ...string) []byte {
	t.Helper()
	out, _ := testutil.RunChromium(t, args...)
	return []byte(out)
}

// TestHTMLInChromium loads the hostile report (an injection attempt in every
// field) in a real headless Chromium and checks the DOM the browser built:
// no script, no element or event-handler attribute from the data, every
// payload present as plain text. It also keeps screenshots of the failed
// and hostile reports for a person to look at.
func TestHTMLInChromium(t *testing.T) {
	chromium(t)
	st, _ := reporttest.SQLite(t)
	reporttest.Seed(t, st)
	dir := outputDir(t)
	t.Logf("report pages and screenshots in %s", dir)

	pages := map[string]string{}
	for _, fx := range []struct{ name, id string }{{"failed", reporttest.FailedID}, {"warning", reporttest.WarningID}, {"ok", reporttest.OKID}, {"hostile", reporttest.HostileID}} {
		full, err := st.GetTrace(context.Background(), fx.id)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, fx.name+".html")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := report.Render(f, full, report.FormatHTML, report.Options{GeneratedAt: fixedClock}); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		pages[fx.name] = path
	}

	dom := runChromium(t, "--dump-dom", "file://"+pages["hostile"])
	if err := os.WriteFile(filepath.Join(dir, "hostile.dom.html"), dom, 0o644); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(dom))
	if err != nil {
		t.Fatalf("parse Chromium's DOM: %v", err)
	}
	var text strings.Builder
	allowed := map[string]bool{ // every element the template itself uses
		"html": true, "head": true, "body": true, "meta": true, "title": true, "style": true,
		"header": true, "main": true, "footer": true, "section": true, "div": true, "span": true,
		"h1": true, "h2": true, "h3": true, "p": true, "b": true, "code": true, "pre": true,
		"table": true, "thead": true, "tbody": true, "tr": true, "th": true, "td": true,
		"details": true, "summary": true, "ul": true, "li": true, "svg": true, "rect": true,
	}
	styles := 0
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		switch n.Type {
		case html.ElementNode:
			if !allowed[n.Data] {
				t.Errorf("element <%s> in the DOM: markup from the data was not escaped", n.Data)
			}
			if n.Data == "style" {
				styles++
			}
			for _, a := range n.Attr {
				if strings.HasPrefix(strings.ToLower(a.Key), "on") || a.Key == "src" || a.Key == "href" {
					t.Errorf("attribute %s=%q on <%s>: data became an attribute", a.Key, a.Val, n.Data)
				}
			}
		case html.TextNode:
			if n.Parent == nil || n.Parent.Data != "style" {
				text.WriteString(n.Data)
				text.WriteString("\n")
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if styles != 1 {
		t.Errorf("%d <style> elements, want the report's own only", styles)
	}
	shown := text.String()
	for _, p := range []string{reporttest.ScriptPayload, reporttest.AttrPayload, reporttest.SVGPayload,
		reporttest.StylePayload, `<img src=x onerror=alert("node")>`, `<script>alert("pipeline")</script>`} {
		if !strings.Contains(shown, p) {
			t.Errorf("payload %q is not shown as text", p)
		}
	}

	// The page must look like a report, not like unstyled text: the banner
	// has its status colour only if the hashed style sheet passed the CSP.
	banner := map[string]color.RGBA{
		"failed":  {0xff, 0xeb, 0xe9, 0xff},
		"warning": {0xff, 0xf8, 0xc5, 0xff},
		"ok":      {0xda, 0xfb, 0xe1, 0xff},
		"hostile": {0xff, 0xeb, 0xe9, 0xff},
	}
	for name, path := range pages {
		shot := filepath.Join(dir, name+".png")
		if name == "failed" {
			shot = filepath.Join(dir, "report.png")
		}
		runChromium(t, "--screenshot="+shot, "--window-size=1280,2000", "file://"+path)
		got := pixel(t, shot, 4, 4)
		if got != banner[name] {
			t.Errorf("%s: banner pixel %v, want %v (style sheet not applied?)", shot, got, banner[name])
		}
	}
}

func pixel(t *testing.T, path string, x, y int) color.RGBA {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", path, err)
	}
	r, g, b, a := img.At(x, y).RGBA()
	return color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), uint8(a >> 8)}
}
