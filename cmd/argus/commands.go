package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/arguslabs/argus-otel/report"
	"github.com/arguslabs/argus-otel/store"
)

// selector names one run: an id, or the latest (of a pipeline).
type selector struct {
	last     bool
	id       string
	pipeline string
}

func (s *selector) register(fs *flag.FlagSet, withTrace bool) {
	fs.BoolVar(&s.last, "last", false, "the most recent run")
	fs.StringVar(&s.pipeline, "pipeline", "", "with --last: the most recent run of this pipeline")
	if withTrace {
		fs.StringVar(&s.id, "trace", "", "the run with this trace id")
	}
}

// resolve checks the selection after parsing; pos are positional arguments.
func (s *selector) resolve(cmd string, pos []string) error {
	if len(pos) > 1 || (len(pos) == 1 && s.id != "") {
		return usagef("%s: one run at a time (got %s)", cmd, strings.Join(append(pos, s.id), ", "))
	}
	if len(pos) == 1 {
		s.id = pos[0]
	}
	switch {
	case s.last && s.id != "":
		return usagef("%s: give a trace id or --last, not both", cmd)
	case !s.last && s.id == "":
		return usagef("%s: which run? give a trace id or --last", cmd)
	case s.pipeline != "" && !s.last:
		return usagef("%s: --pipeline selects among runs, use it with --last", cmd)
	}
	return nil
}

// fetch loads the selected run with everything linked to it.
func (c *cli) fetch(ctx context.Context, sel selector) (*store.Full, error) {
	st, where, err := c.open(ctx)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	var full *store.Full
	if sel.last {
		full, err = st.Last(ctx, store.TraceFilter{Pipeline: sel.pipeline})
	} else {
		full, err = st.GetTrace(ctx, sel.id)
	}
	switch {
	case errors.Is(err, store.ErrNotFound) && sel.last && sel.pipeline != "":
		return nil, fmt.Errorf("no runs of pipeline %q in %s", sel.pipeline, where)
	case errors.Is(err, store.ErrNotFound) && sel.last:
		return nil, fmt.Errorf("no runs recorded in %s yet", where)
	case errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("no run with trace id %q in %s", sel.id, where)
	case err != nil:
		return nil, fmt.Errorf("cannot read runs from %s: %v", where, err)
	}
	return full, nil
}

func (c *cli) report(ctx context.Context, args []string) error {
	fs := c.newFlags("report")
	var sel selector
	sel.register(fs, true)
	format := fs.String("format", "json", "json, html or markdown")
	output := fs.String("output", "", "write to this file instead of stdout")
	pos, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if err := sel.resolve("report", pos); err != nil {
		return err
	}
	f, err := report.ParseFormat(*format)
	if err != nil || f == report.FormatText {
		return usagef("report: unknown --format %q (want json, html or markdown)", *format)
	}
	full, err := c.fetch(ctx, sel)
	if err != nil {
		return err
	}
	opts := report.Options{GeneratedAt: c.env.now()}
	if *output == "" {
		return report.Render(c.stdout, full, f, opts)
	}
	if err := writeFileAtomic(*output, func(w io.Writer) error { return report.Render(w, full, f, opts) }); err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "argus: wrote %s report of run %s to %s\n", f, report.Clean(full.Trace.ID, 80), *output)
	return nil
}

func (c *cli) show(ctx context.Context, args []string) error {
	fs := c.newFlags("show")
	var sel selector
	sel.register(fs, true)
	pos, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if err := sel.resolve("show", pos); err != nil {
		return err
	}
	full, err := c.fetch(ctx, sel)
	if err != nil {
		return err
	}
	return report.Render(c.stdout, full, report.FormatText, report.Options{})
}

// check prints the verdict on one line and turns it into the exit code, so
// a CI step can gate on it: 0 ok, 1 failed, 2 warning, 4 still in progress
// (no verdict yet: the step can wait and check again).
func (c *cli) check(ctx context.Context, args []string) error {
	fs := c.newFlags("check")
	var sel selector
	sel.register(fs, true)
	pos, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if err := sel.resolve("check", pos); err != nil {
		return err
	}
	full, err := c.fetch(ctx, sel)
	if err != nil {
		return err
	}
	r := report.Build(full, report.Options{})
	name := r.Trace.PipelineName
	if name == "" {
		name = "(unnamed pipeline)"
	}
	if r.Trace.InProgress {
		fmt.Fprintf(c.stdout, "IN_PROGRESS %s run %s: %d steps so far, not analysed yet\n",
			report.Clean(name, 120), report.Clean(r.Trace.ID, 80), r.Summary.StepCount)
		return verdictExit(exitInProgress)
	}
	line := fmt.Sprintf("%s %s run %s: %d steps, %d critical, %d warning detections",
		strings.ToUpper(r.Trace.Status), report.Clean(name, 120), report.Clean(r.Trace.ID, 80),
		r.Summary.StepCount, r.Summary.Detections.Critical, r.Summary.Detections.Warning)
	if rc := r.Summary.RootCause; rc != nil {
		if rc.NodeName != "" {
			line += "; root cause " + report.Clean(rc.NodeName, 120)
		}
		if rc.Explanation != "" {
			line += ": " + report.Clean(rc.Explanation, 500)
		}
	}
	fmt.Fprintln(c.stdout, line)
	switch r.Trace.Status {
	case report.StatusOK:
		return nil
	case report.StatusWarning:
		return verdictExit(exitWarning)
	}
	return verdictExit(exitFailed)
}

func (c *cli) list(ctx context.Context, args []string) error {
	fs := c.newFlags("list")
	var f store.TraceFilter
	fs.StringVar(&f.Pipeline, "pipeline", "", "only runs of this pipeline")
	fs.StringVar(&f.Status, "status", "", "only runs with this status: ok, warning or failed")
	since := fs.String("since", "", "only runs started since: a duration (90m, 24h, 7d), a date (2026-01-31) or RFC 3339 time")
	fs.IntVar(&f.Limit, "limit", 20, fmt.Sprintf("at most this many runs, newest first (1-%d)", store.MaxLimit))
	format := fs.String("format", "table", "table or json")
	pos, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("list: unexpected argument %q", pos[0])
	}
	switch f.Status {
	case "", report.StatusOK, report.StatusWarning, report.StatusFailed:
	default:
		return usagef("list: unknown --status %q (want ok, warning or failed)", f.Status)
	}
	if f.Limit < 1 || f.Limit > store.MaxLimit {
		return usagef("list: --limit must be between 1 and %d, got %d", store.MaxLimit, f.Limit)
	}
	if *format != "table" && *format != "json" {
		return usagef("list: unknown --format %q (want table or json)", *format)
	}
	if *since != "" {
		if f.Since, err = parseSince(*since, c.env.now()); err != nil {
			return usagef("list: --since: %v", err)
		}
	}

	st, where, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	traces, total, err := st.ListTraces(ctx, f)
	if err != nil {
		return fmt.Errorf("cannot list runs from %s: %v", where, err)
	}
	if *format == "json" {
		runs := make([]report.Trace, len(traces))
		for i, t := range traces {
			runs[i] = report.TraceOf(t)
		}
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(struct {
			Runs  []report.Trace `json:"runs"`
			Total int            `json:"total"`
		}{runs, total})
	}
	if len(traces) == 0 {
		fmt.Fprintf(c.stdout, "no runs match in %s\n", where)
		return nil
	}
	writeRunTable(c.stdout, traces)
	if total > len(traces) {
		fmt.Fprintf(c.stderr, "showing %d of %d matching runs (newest first; --limit to see more)\n", len(traces), total)
	}
	return nil
}

func writeRunTable(w io.Writer, traces []store.Trace) {
	rows := [][]string{{"TRACE ID", "STARTED (UTC)", "PIPELINE", "STATUS", "DURATION", "STEPS", "DETECTIONS"}}
	for _, t := range traces {
		status := report.Clean(t.Status, 10)
		if t.InProgress() {
			status = "in progress" // a status only once it is analysed
		}
		rows = append(rows, []string{
			report.Clean(t.ID, 64), t.CreatedAt.UTC().Format("2006-01-02 15:04:05"),
			report.Clean(t.PipelineName, 40), status,
			report.FormatDuration(t.DurationMs), strconv.Itoa(t.NodeCount), strconv.Itoa(t.DetectionCount),
		})
	}
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, cell := range r {
			widths[i] = max(widths[i], len([]rune(cell)))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, cell := range r {
			pad := strings.Repeat(" ", widths[i]-len([]rune(cell)))
			if i >= 4 { // numbers align right
				b.WriteString(pad + cell)
			} else {
				b.WriteString(cell + pad)
			}
			if i < len(r)-1 {
				b.WriteString("  ")
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// parseSince reads a relative duration (Go syntax, plus "d" for days), a
// date (UTC midnight) or an RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(d); err == nil && n > 0 {
			return now.Add(-time.Duration(n) * 24 * time.Hour).UTC(), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("duration %q must be positive", s)
		}
		return now.Add(-d).UTC(), nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a duration (24h, 7d), a date (2026-01-31) or an RFC 3339 time", s)
}

// writeFileAtomic writes through a temporary file in the same directory and
// renames it into place, so a failed run never leaves half a report where a
// CI step expects a whole one.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".argus-report-*")
	if err != nil {
		return fmt.Errorf("cannot write %s: %v", path, errors.Unwrap(err))
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := write(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("cannot write %s: %v", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("cannot write %s: %v", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("cannot write %s: %v", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("cannot write %s: %v", path, errors.Unwrap(err))
	}
	return nil
}
