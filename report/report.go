// Package report renders one stored pipeline run (store.Full) as JSON,
// self-contained HTML, GitHub-flavoured Markdown or a plain terminal view.
// The CLI (cmd/argus) and the HTTP API both render through it, so a run
// looks the same wherever it is read.
//
// Every value that comes from a trace is untrusted: the HTML format uses
// html/template under a strict Content-Security-Policy, Markdown escapes
// its metacharacters, and the terminal view removes control characters.
// Output is deterministic for a given run (sorted, UTC, canonical JSON).
package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/arguslabs/argus-otel/store"
)

// Format is an output format.
type Format string

// Formats.
const (
	FormatJSON     Format = "json"
	FormatHTML     Format = "html"
	FormatMarkdown Format = "markdown"
	FormatText     Format = "text"
)

// ParseFormat accepts json, html, markdown (or md) and text.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "json":
		return FormatJSON, nil
	case "html":
		return FormatHTML, nil
	case "markdown", "md":
		return FormatMarkdown, nil
	case "text", "txt":
		return FormatText, nil
	}
	return "", fmt.Errorf("unknown format %q (want json, html or markdown)", s)
}

// ContentType is the media type of a format, for HTTP responses.
func (f Format) ContentType() string {
	switch f {
	case FormatJSON:
		return "application/json"
	case FormatHTML:
		return "text/html; charset=utf-8"
	case FormatMarkdown:
		return "text/markdown; charset=utf-8"
	}
	return "text/plain; charset=utf-8"
}

// Render writes full in format f to w.
func Render(w io.Writer, full *store.Full, f Format, opts Options) error {
	r := Build(full, opts)
	switch f {
	case FormatJSON:
		return r.WriteJSON(w)
	case FormatHTML:
		return r.WriteHTML(w)
	case FormatMarkdown:
		return r.WriteMarkdown(w)
	case FormatText:
		return r.WriteText(w)
	}
	return fmt.Errorf("unknown format %q", string(f))
}

// WriteJSON writes the report as indented JSON (the documented schema).
func (r *Report) WriteJSON(w io.Writer) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("encode json report: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}
