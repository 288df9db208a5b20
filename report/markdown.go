package report

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/arguslabs/argus-otel/internal/vocab"
	"github.com/arguslabs/argus-otel/store"
)

// Caps that keep the Markdown short enough for a pull-request comment.
const (
	mdMaxDetections = 20
	mdMaxSteps      = 30
	mdMaxText       = 300 // runes of a message
	mdMaxExplain    = 800 // runes of the root-cause explanation
)

// WriteMarkdown writes a GitHub-flavoured summary: the verdict first, then
// the root cause, a compact steps table and the most severe detections.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b bytes.Buffer
	emoji, word := runVerdict(r.Trace)
	name := r.Trace.PipelineName
	if name == "" {
		name = "(unnamed pipeline)"
	}
	fmt.Fprintf(&b, "### %s Argus: %s · %s\n\n", emoji, word, mdEscape(name, 120))
	fmt.Fprintf(&b, "**%s** · %d steps (%d failed, %d with warnings) · %s · trace %s · %s\n",
		FormatDuration(r.Trace.DurationMs), r.Summary.StepCount, r.Summary.FailedSteps,
		r.Summary.WarningSteps, mdCounts(r.Summary.Detections), mdEscape(r.Trace.ID, 80),
		formatTime(r.Trace.CreatedAt))

	if rc := r.Summary.RootCause; rc != nil {
		b.WriteString("\n**Root cause")
		if rc.NodeName != "" {
			fmt.Fprintf(&b, ": %s", mdEscape(rc.NodeName, 120))
			if rc.StepNumber > 0 {
				fmt.Fprintf(&b, " (step %d)", rc.StepNumber)
			}
		}
		fmt.Fprintf(&b, "**: %s\n", mdEscape(rc.Explanation, mdMaxExplain))
		if n := len(r.Forensics); n > 0 && len(r.Forensics[n-1].Links) > 0 {
			b.WriteString("\n**Causal chain:** ")
			for i, l := range r.Forensics[n-1].Links {
				if i > 0 {
					b.WriteString("; ")
				}
				field := ""
				if l.Field != "" {
					field = " " + mdEscape(l.Field, 80)
				}
				fmt.Fprintf(&b, "%s → *%s%s, %d%%* → %s", mdEscape(l.From, 80), mdEscape(l.Type, 40),
					field, int(l.Confidence*100+0.5), mdEscape(l.To, 80))
			}
			b.WriteString("\n")
		}
	}

	if len(r.Steps) > 0 {
		steps := r.Steps
		hidden := 0
		if len(steps) > mdMaxSteps {
			// Keep the steps that matter; the ok ones are in the full report.
			steps = nil
			for _, s := range r.Steps {
				if (s.Status != StatusOK || s.RootCause) && len(steps) < mdMaxSteps {
					steps = append(steps, s)
				}
			}
			hidden = len(r.Steps) - len(steps)
		}
		b.WriteString("\n| # | Step | Status | Duration | Findings |\n|--:|:-----|:-------|---------:|---------:|\n")
		for _, s := range steps {
			node := mdEscape(s.NodeName, 80)
			if s.RootCause {
				node += " ⬅ root cause"
			}
			e, _ := mdVerdict(s.Status)
			fmt.Fprintf(&b, "| %d | %s | %s %s | %s | %d |\n", s.StepNumber, node, e, s.Status,
				FormatDuration(s.DurationMs), len(s.DetectionIDs))
		}
		if hidden > 0 {
			fmt.Fprintf(&b, "\n_%d more steps without findings are not shown._\n", hidden)
		}
	}

	if len(r.Detections) > 0 {
		dets := append([]Detection(nil), r.Detections...)
		sort.SliceStable(dets, func(i, j int) bool {
			return store.SeverityRank[dets[i].Severity] > store.SeverityRank[dets[j].Severity]
		})
		fmt.Fprintf(&b, "\n**Detections (%d)**\n\n", len(dets))
		for i, d := range dets {
			if i == mdMaxDetections {
				fmt.Fprintf(&b, "- … and %d more\n", len(dets)-mdMaxDetections)
				break
			}
			where := "run"
			if d.NodeName != "" {
				where = mdEscape(d.NodeName, 80)
			}
			if d.StepNumber > 0 {
				where = fmt.Sprintf("step %d %s", d.StepNumber, where)
			}
			rule := d.Rule
			if rule == "" {
				rule = d.Layer
			}
			fmt.Fprintf(&b, "- %s **%s** %s · %s: %s\n", mdSeverity(d.Severity), mdEscape(d.Severity, 20),
				mdEscape(rule, 80), where, mdEscape(d.Message, mdMaxText))
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// runVerdict is mdVerdict of a run, which has none while in progress.
func runVerdict(t Trace) (emoji, word string) {
	if t.InProgress {
		return "⏳", "IN PROGRESS"
	}
	return mdVerdict(t.Status)
}

func mdVerdict(status string) (emoji, word string) {
	switch status {
	case StatusOK:
		return "✅", "PASSED"
	case StatusWarning:
		return "⚠️", "WARNING"
	}
	return "❌", "FAILED"
}

func mdSeverity(sev string) string {
	switch sev {
	case vocab.SeverityCritical:
		return "🔴"
	case vocab.SeverityWarning:
		return "🟠"
	}
	return "🔵"
}

func mdCounts(c SeverityCounts) string {
	if c.Total() == 0 {
		return "no detections"
	}
	return fmt.Sprintf("%d detections (%d critical, %d warning, %d info)", c.Total(), c.Critical, c.Warning, c.Info)
}

// mdEscape makes an untrusted value inert in GitHub Markdown, in text and in
// table cells: one line, Markdown punctuation backslash-escaped, HTML
// metacharacters as entities (GitHub would otherwise pass some tags
// through), cut at max runes.
func mdEscape(s string, max int) string {
	s = cut(sanitizeText(s), max)
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '\\', '`', '*', '_', '[', ']', '|', '~':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
