package testutil

import (
	"bytes"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// UIElements is every element the web UI's and the report's templates
// write: any other element in a page came from data.
var UIElements = map[string]bool{
	"html": true, "head": true, "body": true, "meta": true, "title": true, "link": true, "nav": true,
	"div": true, "span": true, "a": true, "h1": true, "h2": true, "h3": true, "p": true, "b": true,
	"section": true, "table": true, "thead": true, "tbody": true, "tr": true, "th": true, "td": true,
	"form": true, "label": true, "input": true, "select": true, "option": true, "button": true,
	"figure": true, "figcaption": true, "svg": true, "rect": true, "line": true, "header": true,
	"main": true, "footer": true, "code": true, "pre": true, "details": true, "summary": true, "ul": true, "li": true,
}

// CheckMarkup parses a page as a browser would and fails on any element
// not in allowed, any event handler, style, src or srcdoc attribute, and
// any link or form target that leaves the origin (or is a script URL).
func CheckMarkup(t testing.TB, name string, body []byte, allowed map[string]bool) {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("%s: parse: %v", name, err)
	}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			if !allowed[n.Data] {
				t.Errorf("%s: element <%s> in the page: markup from the data", name, n.Data)
			}
			for _, a := range n.Attr {
				k := strings.ToLower(a.Key)
				if strings.HasPrefix(k, "on") || k == "style" || k == "src" || k == "srcdoc" {
					t.Errorf("%s: attribute %s=%q on <%s>", name, a.Key, a.Val, n.Data)
				}
				if (k == "href" || k == "action") && a.Val != "" && !strings.HasPrefix(a.Val, "/") && !strings.HasPrefix(a.Val, "?") {
					t.Errorf("%s: %s=%q leaves the origin or is a script URL", name, k, a.Val)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
}
