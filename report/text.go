package report

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// sanitizeText makes an untrusted value safe to print on one line of a
// terminal or a Markdown cell: line breaks and tabs become spaces, other
// control characters (ESC sequences could rewrite the terminal) and bidi
// overrides (which can disguise text) become U+FFFD.
func sanitizeText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			return ' '
		case unicode.IsControl(r), isBidiControl(r):
			return '\uFFFD'
		}
		return r
	}, s)
}

// bidiControls are the invisible characters that reorder text around them.
var bidiControls = []rune{0x061C, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069}

func isBidiControl(r rune) bool {
	for _, b := range bidiControls {
		if r == b {
			return true
		}
	}
	return false
}

// Clean is sanitizeText cut at max runes, for callers (the CLI) that print
// single values from a trace.
func Clean(s string, max int) string { return cut(sanitizeText(s), max) }

// WriteText writes the terminal view used by `argus show`: the verdict,
// the steps with durations and status, the detections and the root cause.
func (r *Report) WriteText(w io.Writer) error {
	var b bytes.Buffer
	_, word := runVerdict(r.Trace)
	name := r.Trace.PipelineName
	if name == "" {
		name = "(unnamed pipeline)"
	}
	fmt.Fprintf(&b, "%s  %s\n", word, Clean(name, 120))
	fmt.Fprintf(&b, "trace    %s\n", Clean(r.Trace.ID, 80))
	fmt.Fprintf(&b, "started  %s\n", formatTime(r.Trace.CreatedAt))
	fmt.Fprintf(&b, "duration %s, %d steps, %s\n", FormatDuration(r.Trace.DurationMs),
		r.Summary.StepCount, mdCounts(r.Summary.Detections))
	if r.Trace.InProgress {
		b.WriteString("\nThe run has not completed: these are its steps so far. It is analysed\nwhen it completes (its root span ended and went quiet, or max_run_duration).\n")
	}

	if rc := r.Summary.RootCause; rc != nil {
		b.WriteString("\nRoot cause")
		if rc.NodeName != "" {
			fmt.Fprintf(&b, ": %s", Clean(rc.NodeName, 120))
			if rc.StepNumber > 0 {
				fmt.Fprintf(&b, " (step %d)", rc.StepNumber)
			}
		}
		fmt.Fprintf(&b, "\n  %s\n", Clean(rc.Explanation, 2000))
		if n := len(r.Forensics); n > 0 {
			for _, l := range r.Forensics[n-1].Links {
				field := ""
				if l.Field != "" {
					field = " " + Clean(l.Field, 80)
				}
				fmt.Fprintf(&b, "  %s --%s%s (%d%%)--> %s\n", Clean(l.From, 80), Clean(l.Type, 40),
					field, int(l.Confidence*100+0.5), Clean(l.To, 80))
			}
		}
	}

	b.WriteString("\nSteps\n")
	if len(r.Steps) == 0 {
		b.WriteString("  (none recorded)\n")
	} else {
		nodeW := len("NODE")
		for _, s := range r.Steps {
			nodeW = max(nodeW, runeLen(Clean(s.NodeName, 40)))
		}
		fmt.Fprintf(&b, "  %4s  %-*s  %-7s  %9s  %9s  %s\n", "#", nodeW, "NODE", "STATUS", "DURATION", "START", "FINDINGS")
		for _, s := range r.Steps {
			mark := ""
			if s.RootCause {
				mark = "  <- root cause"
			}
			node := Clean(s.NodeName, 40)
			fmt.Fprintf(&b, "  %4d  %s%s  %-7s  %9s  %9s  %8d%s\n", s.StepNumber, node,
				strings.Repeat(" ", nodeW-runeLen(node)), s.Status, FormatDuration(s.DurationMs),
				"+"+FormatDuration(s.OffsetMs), len(s.DetectionIDs), mark)
		}
	}

	if len(r.Detections) > 0 {
		b.WriteString("\nDetections\n")
		for _, d := range r.Detections {
			where := "run"
			if d.NodeName != "" {
				where = Clean(d.NodeName, 40)
			}
			if d.StepNumber > 0 {
				where = fmt.Sprintf("%d.%s", d.StepNumber, where)
			}
			rule := d.Rule
			if rule == "" {
				rule = d.Layer
			}
			fmt.Fprintf(&b, "  %-8s %-14s %s: %s\n", strings.ToUpper(Clean(d.Severity, 10)), where,
				Clean(rule, 60), Clean(d.Message, 300))
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

func runeLen(s string) int { return utf8.RuneCountInString(s) }
