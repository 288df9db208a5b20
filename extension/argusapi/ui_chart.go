package argusapi

import (
	"fmt"
	"html"
	"html/template"
	"strconv"
	"strings"
	"time"

	"github.com/arguslabs/argus-otel/store"
)

// barChart is a small stacked bar chart drawn as inline SVG: one bar per
// bucket of a window, one segment per series (a status or a severity),
// each segment a link to the runs behind it.
type barChart struct {
	W, H       int
	Bars       template.HTML // the segments' markup (writeSeg)
	Max        int
	From, To   string // axis labels
	Series     []string
	Empty      bool
	AriaLabel  string
	BucketName string
}

// chartSize is a chart's drawing box, in SVG units.
type chartSize struct{ W, H int }

var (
	pageChart  = chartSize{720, 120}
	sparkChart = chartSize{240, 24} // a row's chart in the detections table
)

const minSegH = 3.0 // a single failed run among thousands stays visible and clickable

// seriesCounts is a store series as newBarChart's counts.
func seriesCounts(series store.Series) map[time.Time]map[string]int {
	counts := make(map[time.Time]map[string]int, len(series))
	for _, b := range series {
		counts[b.Start] = b.Counts
	}
	return counts
}

// newBarChart draws counts (bucket start -> series -> count) over every
// bucket of w, series stacked bottom up in the given order; link gives a
// segment's URL from its series and time range ("" for no link).
func newBarChart(size chartSize, w window, series []string, counts map[time.Time]map[string]int, link func(series string, from, to time.Time) string, label string) barChart {
	c := barChart{W: size.W, H: size.H, Series: series, AriaLabel: label, Empty: true}
	var starts []time.Time
	for t := w.Since.Truncate(w.Step); t.Before(w.Until); t = t.Add(w.Step) {
		starts = append(starts, t)
	}
	// The store's buckets may be finer than the bars (hours in 6-hour
	// bars): each count goes to the bar it falls in.
	bars := map[time.Time]map[string]int{}
	for t, byKey := range counts {
		bar := t.Truncate(w.Step)
		if bars[bar] == nil {
			bars[bar] = map[string]int{}
		}
		for k, n := range byKey {
			bars[bar][k] += n
		}
	}
	counts = bars
	for _, t := range starts {
		total := 0
		for _, n := range counts[t] {
			total += n
		}
		c.Max = max(c.Max, total)
	}
	if len(starts) == 0 {
		return c
	}
	c.From, c.To = starts[0].Format("Jan 2 15:04"), w.Until.Format("Jan 2 15:04 UTC")
	slot := float64(size.W) / float64(len(starts))
	gap := min(slot*0.15, 2)
	scale := (float64(size.H) - minSegH*float64(len(series))) / float64(max(c.Max, 1))
	var b strings.Builder
	for i, t := range starts {
		from, to := maxTime(t, w.Since), minTime(t.Add(w.Step), w.Until)
		y := float64(size.H)
		for _, s := range series {
			n := counts[t][s]
			if n == 0 {
				continue
			}
			c.Empty = false
			h := max(float64(n)*scale, minSegH)
			y -= h
			writeSeg(&b, s, float64(i)*slot+gap/2, y, slot-gap, h, link(s, from, to),
				fmt.Sprintf("%d %s, %s – %s", n, s, from.Format("Jan 2 15:04"), to.Format("15:04 UTC")))
		}
	}
	c.Bars = template.HTML(b.String())
	return c
}

// writeSeg writes a segment: its rect with a title, in a link to url
// unless url is "". Written here rather than by the template: a
// detections page draws ~750 segments at 100,000 runs, and escaping them
// action by action took it from 165 M to 224 M instructions (BENCHMARKS.md).
// Every value is HTML-escaped; the links are runsQuery.URL's (the runs
// page's path and an encoded query), never a scheme from the data.
func writeSeg(b *strings.Builder, class string, x, y, w, h float64, url, title string) {
	if url != "" {
		b.WriteString(`<a href="` + html.EscapeString(url) + `">`)
	}
	b.WriteString(`<rect class="seg s-` + html.EscapeString(class) + `" x="` + ff(x) + `" y="` + ff(y) + `" width="` + ff(w) +
		`" height="` + ff(h) + `"><title>` + html.EscapeString(title) + `</title></rect>`)
	if url != "" {
		b.WriteString(`</a>`)
	}
	b.WriteString("\n")
}

func ff(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
