package report

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/arguslabs/argus-otel/internal/vocab"
)

//go:embed report.css
var reportCSS string

//go:embed report.html.tmpl
var reportTmpl string

// The page has no script at all. Its only style sheet is inline and allowed
// by hash, so neither injected markup nor injected style can take effect
// even if escaping ever failed.
var (
	cssHash = func() string {
		h := sha256.Sum256([]byte(reportCSS))
		return "sha256-" + base64.StdEncoding.EncodeToString(h[:])
	}()
	// metaCSP is the policy in the report's own meta element.
	metaCSP = "default-src 'none'; style-src '" + cssHash + "'; img-src 'none'; base-uri 'none'; form-action 'none'"
	// ContentSecurityPolicy is the header the HTTP API sends with the
	// report: the meta policy, and no framing (clickjacking), which
	// browsers obey only from a header, not from a meta element.
	ContentSecurityPolicy = metaCSP + "; frame-ancestors 'none'"

	htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
		"dur":      FormatDuration,
		"ts":       formatTime,
		"pct":      func(f float64) string { return strconv.Itoa(int(f*100+0.5)) + "%" },
		"sevClass": sevClass,
		"upper":    strings.ToUpper,
	}).Parse(reportTmpl))
)

// Preview limits keep a report readable and bounded when a state holds
// megabytes: the full values are in the json format.
const (
	previewValue = 160
	previewState = 6000
	maxDetailed  = 200 // steps shown with their states in the HTML
)

type htmlData struct {
	R         *Report
	CSP       string
	CSS       template.CSS
	Icon      string
	Label     string
	Timeline  []timelineRow
	TotalMs   int64
	Chains    [][]chainItem
	Steps     []stepView
	MoreSteps int
	Pager     Pager
}

// Pager links a paged report to the pages before and after it ("" for
// none). The caller makes the URLs: the HTTP API and the web UI page the
// same report under different paths.
type Pager struct {
	Prev, Next string
}

type timelineRow struct {
	S      *Step
	X, W   string // bar position in a 0..1000 viewBox
	Issues int
}

type chainItem struct {
	Node       bool
	Name       string
	StepNumber int
	Role       string // origin | victim | link
	Status     string
	Type       string
	Field      string
	Confidence float64
}

type stepView struct {
	S          *Step
	Errors     []string
	Changes    []changeView
	Detections []Detection
	Input      string
	Output     string
	NoOutput   bool
	Open       bool
}

type changeView struct {
	Field, Kind, Before, After string
}

// WriteHTML writes one self-contained HTML page.
func (r *Report) WriteHTML(w io.Writer) error {
	return r.WritePagedHTML(w, Pager{})
}

// WritePagedHTML is WriteHTML with links to the neighbouring pages of a
// paged report.
func (r *Report) WritePagedHTML(w io.Writer, p Pager) error {
	return r.writeHTML(w, "report", p)
}

// WriteHTMLFragment writes the report's body only (no document, head or
// style sheet), for a page that embeds it under its own layout and serves
// ReportCSS itself.
func (r *Report) WriteHTMLFragment(w io.Writer, p Pager) error {
	return r.writeHTML(w, "report-body", p)
}

// ReportCSS is the report's style sheet, for pages embedding fragments.
func ReportCSS() string { return reportCSS }

func (r *Report) writeHTML(w io.Writer, tmpl string, p Pager) error {
	d := htmlData{R: r, CSP: metaCSP, CSS: template.CSS(reportCSS), Pager: p}
	d.Icon, d.Label = verdict(r.Trace)
	d.TotalMs = max(r.Trace.DurationMs, r.spanMs)
	for _, s := range r.Steps {
		if end := s.OffsetMs + s.DurationMs; end > d.TotalMs {
			d.TotalMs = end
		}
	}
	scale := 1000 / float64(max(d.TotalMs, 1))
	for i := range r.Steps {
		s := &r.Steps[i]
		x := float64(s.OffsetMs) * scale
		wd := max(float64(s.DurationMs)*scale, 2) // a 0 ms step stays visible
		if x+wd > 1000 {
			x = max(1000-wd, 0)
		}
		d.Timeline = append(d.Timeline, timelineRow{
			S: s, X: ff(x), W: ff(wd), Issues: len(s.DetectionIDs),
		})
		if i >= maxDetailed {
			d.MoreSteps++
			continue
		}
		sv := stepView{
			S:          s,
			Errors:     stepErrors(s.Metadata),
			Detections: r.StepDetections(s.ID),
			Input:      prettyPreview(s.InputState, previewState),
			Output:     prettyPreview(s.OutputState, previewState),
			NoOutput:   string(s.OutputState) == "null",
			Open:       s.Status != StatusOK || s.RootCause,
		}
		for _, c := range s.Changes {
			sv.Changes = append(sv.Changes, changeView{
				Field: c.Field, Kind: c.Kind,
				Before: preview(c.Before, previewValue),
				After:  preview(c.After, previewValue),
			})
		}
		d.Steps = append(d.Steps, sv)
	}
	if n := len(r.Forensics); n > 0 {
		d.Chains = chains(r, r.Forensics[n-1].Links)
	}
	var buf bytes.Buffer
	if err := htmlTemplate.ExecuteTemplate(&buf, tmpl, d); err != nil {
		return fmt.Errorf("render html report: %w", err)
	}
	// The template has no bidi controls, so any in the page came from the
	// data, where they could reorder what a reader sees ("evil" shown as
	// "live"): show them as visible code points instead.
	_, err := bidiVisible.WriteString(w, buf.String())
	return err
}

var bidiVisible = func() *strings.Replacer {
	var pairs []string
	for _, r := range bidiControls {
		pairs = append(pairs, string(r), fmt.Sprintf("[U+%04X]", r))
	}
	return strings.NewReplacer(pairs...)
}()

// chains groups the links of a causal chain into drawable paths: links
// that continue one another (a.To == b.From) share a row, origin first.
func chains(r *Report, links []Link) [][]chainItem {
	var rows [][]chainItem
	node := func(name, stepID, role string) chainItem {
		it := chainItem{Node: true, Name: name, Role: role, Status: StatusOK}
		if s := r.Step(stepID); s != nil && stepID != "" {
			it.StepNumber, it.Status = s.StepNumber, s.Status
			if it.Name == "" {
				it.Name = s.NodeName
			}
		}
		return it
	}
	var row []chainItem
	prevTo, prevToID := "", ""
	for i, l := range links {
		if i == 0 || l.From != prevTo || l.FromStepID != prevToID {
			if row != nil {
				rows = append(rows, row)
			}
			row = []chainItem{node(l.From, l.FromStepID, "origin")}
		}
		row = append(row,
			chainItem{Role: "link", Type: l.Type, Field: l.Field, Confidence: l.Confidence},
			node(l.To, l.ToStepID, "victim"))
		prevTo, prevToID = l.To, l.ToStepID
	}
	if row != nil {
		rows = append(rows, row)
	}
	// Intermediate nodes of a path are both victim and origin: call them
	// by what they are in the path, a hop.
	for _, row := range rows {
		for i := 2; i < len(row)-1; i += 2 {
			row[i].Role = "hop"
		}
	}
	return rows
}

func verdict(t Trace) (icon, label string) {
	if t.InProgress {
		return "…", "In progress"
	}
	switch t.Status {
	case StatusOK:
		return "✓", "Passed"
	case StatusWarning:
		return "!", "Warning"
	}
	return "✕", "Failed"
}

func sevClass(sev string) string {
	switch sev {
	case vocab.SeverityCritical, vocab.SeverityWarning, vocab.SeverityInfo:
		return sev
	}
	return vocab.SeverityCritical
}

func ff(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

// preview is a one-line excerpt of a JSON value, cut at max runes.
func preview(raw json.RawMessage, max int) string {
	if raw == nil {
		return ""
	}
	return truncate(string(raw), max)
}

// prettyPreview indents a JSON value for a <pre>, cut at max runes.
func prettyPreview(raw json.RawMessage, max int) string {
	var buf bytes.Buffer
	if json.Indent(&buf, raw, "", "  ") != nil {
		return truncate(string(raw), max)
	}
	return truncate(buf.String(), max)
}

// truncate cuts s at max runes, saying how much was left out.
func truncate(s string, max int) string {
	if i := cutIndex(s, max); i < len(s) {
		return s[:i] + fmt.Sprintf("… (%d more bytes)", len(s)-i)
	}
	return s
}

// cut cuts s at max runes with an ellipsis, for one-line values.
func cut(s string, max int) string {
	if i := cutIndex(s, max); i < len(s) {
		return s[:i] + "…"
	}
	return s
}

// cutIndex is the byte index after the first max runes of s.
func cutIndex(s string, max int) int {
	n := 0
	for i := range s {
		if n == max {
			return i
		}
		n++
	}
	return len(s)
}

// FormatDuration prints milliseconds for people: 850 ms, 1.25 s, 2m05s.
func FormatDuration(ms int64) string {
	switch {
	case ms < 1000:
		return strconv.FormatInt(ms, 10) + " ms"
	case ms < 60_000:
		return strconv.FormatFloat(float64(ms)/1000, 'f', 2, 64) + " s"
	}
	d := time.Duration(ms) * time.Millisecond
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%dh%02dm%02ds", h, m, s)
	}
	return fmt.Sprintf("%dm%02ds", m, s)
}

func formatTime(v any) string {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case *time.Time:
		if x != nil {
			t = *x
		}
	}
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format("2006-01-02 15:04:05.000 UTC")
}
