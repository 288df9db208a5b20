package loadgen

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// The load script writes one directory per scenario:
//
//	scenario.json  what ran (Scenario)
//	client.json    argus-load's Summary (absent for telemetrygen)
//	telemetrygen.json  what telemetrygen was told to send (telemetrygen only)
//	drain.json     the row counts after the drain (absent for the ceiling)
//	proc.json      the collector's CPU ticks and memory (Proc)

// Scenario describes one run of the collector.
type Scenario struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"` // ceiling | persist | telemetrygen | overload
	Pipeline string `json:"pipeline"`
	Driver   string `json:"driver,omitempty"`
	Detector bool   `json:"detector"`
	LimitMiB int    `json:"limit_mib"`
	SpikeMiB int    `json:"spike_mib"`
}

// Proc is what the script read from /proc for the collector process.
type Proc struct {
	// CPUTicks is utime+stime from ready to the end of the drain.
	CPUTicks int64 `json:"cpu_ticks"`
	ClkTck   int64 `json:"clk_tck"`
	// VmHWMKiB is the peak resident set (last reading before exit).
	VmHWMKiB int64 `json:"vm_hwm_kib"`
	// AliveAtEnd: the process was still running when the script stopped it.
	AliveAtEnd bool   `json:"alive_at_end"`
	ExitCode   int    `json:"exit_code"`
	LoadAvg    string `json:"loadavg"`
}

// Telemetrygen is the plain-span run: traces of one parent and ChildSpans
// children each.
type Telemetrygen struct {
	Traces     int64 `json:"traces"`
	ChildSpans int64 `json:"child_spans"`
	ExitCode   int   `json:"exit_code"`
}

// Result is the figures of one scenario.
type Result struct {
	Scenario

	AckedSpansPerS  float64 `json:"accepted_spans_per_s"`
	AckedTracesPerS float64 `json:"accepted_traces_per_s"`
	AckedMiBPerS    float64 `json:"accepted_mib_per_s"`
	SentSpans       int64   `json:"sent_spans"`
	SentTraces      int64   `json:"sent_traces"`
	AckedSpans      int64   `json:"acked_spans"`
	AckedTraces     int64   `json:"acked_traces"`
	AckedNodeSpans  int64   `json:"acked_node_spans"`
	SentNodeSpans   int64   `json:"sent_node_spans"`
	RefusedRequests int64   `json:"refused_requests"`
	FailedRequests  int64   `json:"failed_requests"`
	RefusedSpans    int64   `json:"refused_spans"`

	Rows *Rows `json:"rows,omitempty"`
	// NoLoss: every acknowledged trace and node span has its row, and no
	// more rows exist than were sent.
	NoLoss       *bool `json:"no_loss,omitempty"`
	MissingTrace int64 `json:"missing_traces"`
	MissingSteps int64 `json:"missing_steps"`
	DrainStable  bool  `json:"drain_stable"`

	// PersistWindowS runs from the first request to the moment the store
	// stopped growing; PersistedSpansPerS is the acknowledged spans whose
	// node spans have rows over that window.
	PersistWindowS     float64 `json:"persist_window_s"`
	PersistedSpansPerS float64 `json:"persisted_spans_per_s"`
	StepRowsPerS       float64 `json:"step_rows_per_s"`

	CPUS          float64 `json:"cpu_s"`
	CPUPer1kSpans float64 `json:"cpu_s_per_1k_spans"`
	PeakRSSMiB    float64 `json:"peak_rss_mib"`
	AliveAtEnd    bool    `json:"alive_at_end"`
	ExitCode      int     `json:"exit_code"`
	ClientCPUS    float64 `json:"client_cpu_s"`
	LatencyP99Ms  float64 `json:"latency_p99_ms"`
	LoadAvg       string  `json:"loadavg"`
}

// Target is one goal of issue 6 and whether this run met it.
type Target struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Goal  string  `json:"goal"`
	Met   bool    `json:"met"`
}

// Report is summary.json.
type Report struct {
	Date      string             `json:"date"`
	Machine   Machine            `json:"machine"`
	Command   string             `json:"command"`
	Results   []Result           `json:"results"`
	Ratios    map[string]float64 `json:"ratios"`
	Targets   []Target           `json:"targets"`
	Problems  []string           `json:"problems,omitempty"`
	DurationS float64            `json:"load_duration_s"`
}

// Machine is where the figures were measured.
type Machine struct {
	NProc    int    `json:"nproc"`
	CPUModel string `json:"cpu_model"`
	MemTotal string `json:"mem_total"`
	Go       string `json:"go"`
	Kernel   string `json:"kernel"`
}

// ThisMachine reads /proc for the CPU model, memory and kernel.
func ThisMachine() Machine {
	m := Machine{NProc: runtime.NumCPU(), Go: runtime.Version()}
	m.CPUModel = procField("/proc/cpuinfo", "model name")
	m.MemTotal = procField("/proc/meminfo", "MemTotal")
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// BuildReport reads every scenario directory under dir.
func BuildReport(dir string) (*Report, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	rep := &Report{Date: time.Now().UTC().Format(time.RFC3339), Machine: ThisMachine(), Ratios: map[string]float64{}}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		res, err := readScenario(filepath.Join(dir, e.Name()))
		if err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s: %v", e.Name(), err))
			continue
		}
		rep.Results = append(rep.Results, *res)
	}
	if len(rep.Results) == 0 {
		return nil, fmt.Errorf("no scenario results under %s (%s)", dir, strings.Join(rep.Problems, "; "))
	}
	order := map[string]int{"ceiling": 0, "persist": 1, "telemetrygen": 2, "overload": 3}
	sort.SliceStable(rep.Results, func(i, j int) bool {
		a, b := rep.Results[i], rep.Results[j]
		if order[a.Kind] != order[b.Kind] {
			return order[a.Kind] < order[b.Kind]
		}
		return a.Name < b.Name
	})
	rep.evaluate()
	return rep, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return nil
}

func readScenario(dir string) (*Result, error) {
	var sc Scenario
	if err := readJSON(filepath.Join(dir, "scenario.json"), &sc); err != nil {
		return nil, err
	}
	var proc Proc
	if err := readJSON(filepath.Join(dir, "proc.json"), &proc); err != nil {
		return nil, err
	}
	r := &Result{Scenario: sc, AliveAtEnd: proc.AliveAtEnd, ExitCode: proc.ExitCode, LoadAvg: proc.LoadAvg,
		PeakRSSMiB: float64(proc.VmHWMKiB) / 1024}
	if proc.ClkTck > 0 {
		r.CPUS = float64(proc.CPUTicks) / float64(proc.ClkTck)
	}

	var startMs int64
	if sc.Kind == "telemetrygen" {
		var tg Telemetrygen
		if err := readJSON(filepath.Join(dir, "telemetrygen.json"), &tg); err != nil {
			return nil, err
		}
		if tg.ExitCode != 0 {
			return nil, fmt.Errorf("telemetrygen exited with %d", tg.ExitCode)
		}
		// telemetrygen reports no acknowledgements: it exits non-zero on an
		// export failure, so a clean exit means all were accepted.
		r.SentTraces, r.AckedTraces = tg.Traces, tg.Traces
		r.SentSpans = tg.Traces * (1 + tg.ChildSpans)
		r.AckedSpans = r.SentSpans
		// Plain spans: the root's direct children are the steps.
		r.SentNodeSpans = tg.Traces * tg.ChildSpans
		r.AckedNodeSpans = r.SentNodeSpans
	} else {
		var s Summary
		if err := readJSON(filepath.Join(dir, "client.json"), &s); err != nil {
			return nil, err
		}
		startMs = s.StartUnixMs
		r.AckedSpansPerS, r.AckedTracesPerS, r.AckedMiBPerS = s.AckedSpansPerS, s.AckedTracesPerS, s.AckedMiBPerS
		r.SentSpans, r.SentTraces, r.SentNodeSpans = s.Sent.Spans, s.Sent.Traces, s.Sent.NodeSpans
		r.AckedSpans, r.AckedTraces, r.AckedNodeSpans = s.Acked.Spans, s.Acked.Traces, s.Acked.NodeSpans
		r.RefusedRequests, r.FailedRequests, r.RefusedSpans = s.RequestsRefused, s.RequestsFailed, s.Refused.Spans
		r.ClientCPUS = s.ClientCPUS
		r.LatencyP99Ms = s.LatencyMs.P99
	}

	spans := float64(r.AckedSpans)
	if sc.Kind != "ceiling" {
		var d Drain
		if err := readJSON(filepath.Join(dir, "drain.json"), &d); err != nil {
			return nil, err
		}
		r.Rows = &d.Rows
		r.DrainStable = d.Stable
		r.MissingTrace = max(0, r.AckedTraces-d.Rows.Traces)
		r.MissingSteps = max(0, r.AckedNodeSpans-d.Rows.Steps)
		noLoss := r.MissingTrace == 0 && r.MissingSteps == 0 &&
			d.Rows.Traces <= r.SentTraces && d.Rows.Steps <= r.SentNodeSpans
		r.NoLoss = &noLoss
		if r.AckedNodeSpans > 0 {
			spans = float64(r.AckedSpans) * min(1, float64(d.Rows.Steps)/float64(r.AckedNodeSpans))
		}
		if startMs > 0 && d.LastGrowthUnixMs > startMs {
			r.PersistWindowS = float64(d.LastGrowthUnixMs-startMs) / 1000
			r.PersistedSpansPerS = spans / r.PersistWindowS
			r.StepRowsPerS = float64(d.Rows.Steps) / r.PersistWindowS
		}
	}
	if spans > 0 {
		r.CPUPer1kSpans = r.CPUS / spans * 1000
	}
	return r, nil
}

func (rep *Report) find(name string) *Result {
	for i := range rep.Results {
		if rep.Results[i].Name == name {
			return &rep.Results[i]
		}
	}
	return nil
}

// evaluate computes the ratios and checks the targets of issue 6.
func (rep *Report) evaluate() {
	ceiling := rep.find("ceiling")
	for _, r := range rep.Results {
		if r.NoLoss != nil {
			rep.Targets = append(rep.Targets, Target{Name: r.Name + ": no loss (rows = acknowledged)",
				Value: float64(r.MissingTrace + r.MissingSteps), Goal: "0 missing rows", Met: *r.NoLoss})
		}
	}
	for _, name := range []string{"sqlite", "postgres"} {
		r := rep.find(name)
		if r == nil || ceiling == nil || ceiling.AckedSpansPerS <= 0 {
			continue
		}
		ratio := r.PersistedSpansPerS / ceiling.AckedSpansPerS
		rep.Ratios[name+"_persisted_over_ceiling"] = ratio
		rep.Targets = append(rep.Targets, Target{Name: name + ": persisted / ceiling", Value: ratio, Goal: ">= 0.5", Met: ratio >= 0.5})
	}
	if det, nodet := rep.find("sqlite"), rep.find("sqlite-no-detector"); det != nil && nodet != nil && nodet.CPUPer1kSpans > 0 {
		over := det.CPUPer1kSpans/nodet.CPUPer1kSpans - 1
		rep.Ratios["detector_cpu_overhead"] = over
		rep.Targets = append(rep.Targets, Target{Name: "detection CPU per span over the same pipeline without it", Value: over, Goal: "<= 0.25", Met: over <= 0.25})
	}
	if o := rep.find("overload"); o != nil && o.LimitMiB > 0 {
		// memory_limiter bounds the Go heap; resident memory adds the
		// runtime, the binary and GC headroom, so "near the limit" is taken
		// as at most limit + spike + 50%.
		bound := float64(o.LimitMiB+o.SpikeMiB) * 1.5
		rep.Ratios["overload_peak_rss_over_limit"] = o.PeakRSSMiB / float64(o.LimitMiB)
		rep.Targets = append(rep.Targets,
			Target{Name: "overload: collector stayed up and exited cleanly", Value: float64(o.ExitCode), Goal: "alive, exit 0", Met: o.AliveAtEnd && o.ExitCode == 0},
			Target{Name: "overload: peak RSS MiB", Value: o.PeakRSSMiB, Goal: fmt.Sprintf("<= %.0f (1.5 x (limit %d + spike %d))", bound, o.LimitMiB, o.SpikeMiB), Met: o.PeakRSSMiB <= bound},
			Target{Name: "overload: client saw refusals (back-pressure)", Value: float64(o.RefusedRequests), Goal: "> 0", Met: o.RefusedRequests > 0})
	}
}

// WriteTable prints the figures for people.
func (rep *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "machine: %d CPU %s, %s, %s, kernel %s; %s\n", rep.Machine.NProc, rep.Machine.CPUModel,
		rep.Machine.MemTotal, rep.Machine.Go, rep.Machine.Kernel, rep.Date)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\taccepted spans/s\tMiB/s\tpersisted spans/s\ttraces acked/rows\tnode spans acked/step rows\trefused req\tCPU s\tCPU s/1k spans\tpeak RSS MiB\tp99 ms\t")
	for _, r := range rep.Results {
		rows, steps := "-", "-"
		if r.Rows != nil {
			rows = fmt.Sprintf("%d/%d", r.AckedTraces, r.Rows.Traces)
			steps = fmt.Sprintf("%d/%d", r.AckedNodeSpans, r.Rows.Steps)
		}
		accepted, mib, persisted := "-", "-", "-"
		if r.AckedSpansPerS > 0 { // telemetrygen reports no rate of its own
			accepted, mib = fmtF(r.AckedSpansPerS, 0), fmtF(r.AckedMiBPerS, 1)
		}
		if r.PersistedSpansPerS > 0 {
			persisted = fmtF(r.PersistedSpansPerS, 0)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t\n", r.Name, accepted, mib, persisted,
			rows, steps, r.RefusedRequests, fmtF(r.CPUS, 1), fmtF(r.CPUPer1kSpans, 3), fmtF(r.PeakRSSMiB, 0), fmtF(r.LatencyP99Ms, 0))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, t := range rep.Targets {
		mark := "MET "
		if !t.Met {
			mark = "MISS"
		}
		fmt.Fprintf(w, "[%s] %s: %s (goal %s)\n", mark, t.Name, fmtF(t.Value, 3), t.Goal)
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "problem: %s\n", p)
	}
	return nil
}

func fmtF(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }

// WriteJSON writes summary.json.
func (rep *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
