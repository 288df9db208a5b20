// Package quality measures detection quality: every rule over healthy
// traffic (the varied runs of internal/loadgen, the OTLP fixtures and every
// recorded SDK run in testdata/sdks) must raise no warning, and every
// injected fault (the faults loadgen injects, the fault fixtures, the SDKs'
// fault recordings) must be found by a fitting rule with its root cause at
// the step where it was injected. Measure runs it all through the one
// mapping and detection as the processor does; Table writes the result per
// rule for BENCHMARKS.md (make quality). The load traffic is measured with
// the configuration its user writes (testdata/config.yaml: contracts, the
// graphs' edges, a signature file), the rest with the defaults.
package quality

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/arguslabs/argus-otel/internal/agentrun"
	"github.com/arguslabs/argus-otel/internal/detect"
	"github.com/arguslabs/argus-otel/internal/loadgen"
	"github.com/arguslabs/argus-otel/internal/testutil"
	"github.com/arguslabs/argus-otel/processor/argusdetector"
	"github.com/arguslabs/argus-otel/test/sdks"
)

// Expect is what an injected fault must produce: one of Rules at warning
// or critical, and forensics naming Root as the root cause. An info rule
// (semantic.deep_json) finds its fault at info, on the step Root: an info
// finding leaves the run ok, so there are no forensics to name it.
type Expect struct {
	Rules []string
	Root  string
}

// loadgenFaults: which rules must find the faults loadgen injects (the
// root is loadgen.FaultNodes').
var loadgenFaults = map[loadgen.Fault][]string{
	loadgen.FaultEmptyRetrievalCrash: {"structural.crash_missing_data", "structural.empty_retrieval"},
	loadgen.FaultPlaceholder:         {"semantic.placeholder"},
	loadgen.FaultRefusal:             {"semantic.refusal"},
	loadgen.FaultTruncated:           {"semantic.truncated"},
	loadgen.FaultTokenBlowup:         {"statistical.token_blowup"},
	loadgen.FaultLatencySpike:        {"statistical.latency_spike"},
	loadgen.FaultEmptyUpdate:         {"structural.empty_update"},
	loadgen.FaultTypeChanged:         {"structural.type_changed"},
	loadgen.FaultToolError:           {"behavioral.tool_error"},
	loadgen.FaultRetryStorm:          {"behavioral.retry_storm"},
	loadgen.FaultClaimedSuccess:      {"behavioral.claimed_success_empty"},
	loadgen.FaultNullLike:            {"semantic.null_like"},
	loadgen.FaultFiller:              {"semantic.repeated_filler"},
	loadgen.FaultWhitespace:          {"semantic.whitespace"},
	loadgen.FaultSkippedPlan:         {"statistical.too_fast"},
	loadgen.FaultLostToolResult:      {"structural.dropped_field"},
	loadgen.FaultRunaway:             {"behavioral.runaway_steps"},
	loadgen.FaultInputEcho:           {"behavioral.input_echo"},
	loadgen.FaultRateLimited:         {"behavioral.rate_limited"},
	loadgen.FaultOutputCollapse:      {"statistical.output_size_anomaly"},
	loadgen.FaultKeyTypo:             {"structural.key_typo"},
	loadgen.FaultUnexpectedHop:       {"structural.unexpected_transition"},
	loadgen.FaultContract:            {"structural.contract_violation"},
	loadgen.FaultSignature:           {"semantic.signature"},
	loadgen.FaultDeepState:           {"semantic.deep_json"}, // an info rule: found at info
}

// userConfig is the detector configuration of testdata/config.yaml (what
// the load traffic's user writes in config.yaml: contracts, edges, a
// signature file), read and validated as the collector reads it.
func userConfig(t testing.TB) detect.Config {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	f := argusdetector.NewFactory()
	sub, err := cm.Sub("processors::" + f.Type().String())
	if err != nil {
		t.Fatal(err)
	}
	pc := f.CreateDefaultConfig().(*argusdetector.Config)
	if err := sub.Unmarshal(pc); err != nil {
		t.Fatal(err)
	}
	if err := pc.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg := detect.Config(pc.Detection).WithDefaults()
	if cfg.Signatures, err = detect.LoadSignatures(pc.SignatureFiles...); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// fixtures: what each OTLP fixture of testdata/otlp is; a fixture not
// listed here fails the measurement until it is classified.
var fixtures = map[string]*Expect{
	"rag_clean.json":               nil,
	"openinference_langgraph.json": nil,
	"openllmetry_langgraph.json":   nil,
	"langsmith_langgraph.json":     nil,
	"plain_spans.json":             nil,
	"duplicate_ids.json":           nil,
	"no_root.json":                 nil,
	"parent_cycle.json":            nil,
	"rag_silent_failure.json":      {Rules: []string{"structural.crash_missing_data", "structural.empty_retrieval"}, Root: "retrieve"},
	// the Go GenAI travel agent, recorded with its flight search timing out
	"genai_agent.json": {Rules: []string{"behavioral.error_span"}, Root: "search_flights"},
	// states that are not JSON: what the mapping keeps is reported
	"malformed_states.json": {Rules: []string{"semantic.corrupted_json"}, Root: "load_docs"},
}

// otherRecordings: testdata/sdks folders that are no sdks.Case: their
// faults' expectations here, keyed by folder and run. A folder that is in
// neither fails the measurement until it is classified.
var otherRecordings = map[string]map[string]Expect{
	// the Go agent inside an HTTP handler (test/sdks/go-agent-http)
	"go-agent-http": {
		"fault_carrier_down": {Rules: []string{"behavioral.error_span"}, Root: "track_shipment"},
		"fault_refusal":      {Rules: []string{"semantic.refusal"}, Root: "chat gpt-4o-mini"},
	},
	// an ordinary web service, no agent: not analysed, as the processor
	// keeps agent runs only
	"go-orders-api": {},
	// testdata/otlp/genai_agent.json, measured as a fixture
	"go-genai-travel": nil,
}

// loadgenSeed fixes the loadgen traffic.
const loadgenSeed = 13

// Loadgen traffic: healthy runs, then faults spread among them once the
// baselines have some history.
const (
	loadgenHealthy   = 1200
	loadgenWarmup    = 100 // healthy runs before the first fault
	loadgenFaultEach = 10  // runs of each fault kind
)

// Report is the outcome of a measurement.
type Report struct {
	Healthy  map[string]int // healthy runs by source
	Skipped  int            // traces that are no agent runs (not analysed)
	Faults   int
	Found    int
	Rules    map[string]*RuleCounts
	Problems []string // false warnings and missed faults
}

// RuleCounts are one rule's figures.
type RuleCounts struct {
	HealthyWarn int // healthy runs with a warning or critical finding of the rule
	HealthyInfo int // healthy runs with an info finding of it
	Expected    int // injected faults this rule is one of the expected rules of
	FoundBy     int // ... that it found (warning or critical)
	Missed      int // ... that no expected rule found, or with a wrong root cause
}

// Measure analyses every healthy run and every injected fault.
func Measure(t testing.TB) *Report {
	r := &Report{Healthy: map[string]int{}, Rules: map[string]*RuleCounts{}}
	for _, id := range detect.RuleIDs() {
		r.Rules[id] = &RuleCounts{}
	}
	cfg := detect.Config{}.WithDefaults()
	user := userConfig(t)
	r.loadgen(t, &user)
	r.fixtures(t, &cfg)
	r.recordings(t, &cfg)
	return r
}

// healthy judges a healthy run's result.
func (r *Report) healthy(source, name string, res detect.Result) {
	r.Healthy[source]++
	warned, informed := map[string]bool{}, map[string]bool{}
	for _, f := range res.Findings {
		if f.Severity == detect.SeverityInfo {
			informed[f.Rule] = true
			continue
		}
		warned[f.Rule] = true
		r.Problems = append(r.Problems, fmt.Sprintf("%s %s: healthy run has %s %s on %q: %s", source, name, f.Severity, f.Rule, f.Node, f.Message))
	}
	for rule := range warned {
		r.Rules[rule].HealthyWarn++
	}
	for rule := range informed {
		r.Rules[rule].HealthyInfo++
	}
	if res.Status != "ok" && len(warned) == 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("%s %s: healthy run is %s", source, name, res.Status))
	}
}

// fault judges an injected fault's result.
func (r *Report) fault(source, name string, run *agentrun.Run, res detect.Result, want Expect) {
	r.Faults++
	found := false
	root := ""
	for _, rule := range want.Rules {
		// An info rule's fault is found at info, and must leave the run
		// ok: a warning it drew would be a false alarm.
		infoRule := infoOnly[rule]
		if k := slices.IndexFunc(res.Findings, func(f detect.Finding) bool {
			return f.Rule == rule && (f.Severity != detect.SeverityInfo || infoRule && res.Status == "ok")
		}); k >= 0 {
			r.Rules[rule].FoundBy++
			found = true
			if infoRule {
				root = res.Findings[k].Node // the first step it reports on
			}
		}
		r.Rules[rule].Expected++
	}
	if res.Forensics != nil && res.Forensics.RootCauseStep >= 0 {
		root = run.Steps[res.Forensics.RootCauseStep].Node
	}
	if found && root == want.Root {
		r.Found++
		return
	}
	for _, rule := range want.Rules {
		r.Rules[rule].Missed++
	}
	r.Problems = append(r.Problems, fmt.Sprintf("%s %s: fault not found (status %s, root %q, want one of %v at %q)", source, name, res.Status, root, want.Rules, want.Root))
}

func (r *Report) loadgen(t testing.TB, cfg *detect.Config) {
	g, err := loadgen.NewGenerator(loadgen.DefaultShape(), loadgenSeed, 1)
	if err != nil {
		t.Fatal(err)
	}
	faults := loadgen.Faults()
	nFaults := len(faults) * loadgenFaultEach
	every := (loadgenHealthy-loadgenWarmup)/nFaults + 1 // a fault after every-1 healthy runs
	base := detect.NewBaselines(0, 0)
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for i := range loadgenHealthy + nFaults {
		fault := loadgen.Fault("")
		if k := i - loadgenWarmup; k >= 0 && k%every == every-1 && k/every < nFaults {
			fault = faults[k/every%len(faults)]
		}
		td, spans := g.NewRequest()
		at = at.Add(time.Minute)
		id, _ := g.AddVariedRun(spans, at, fault)
		runs := agentrun.MapTraces(td, agentrun.Options{})
		if len(runs) != 1 {
			t.Fatalf("loadgen run %s mapped to %d runs", id, len(runs))
		}
		res := detect.Analyze(runs[0], cfg, base)
		if fault == "" {
			r.healthy("loadgen", id, res)
			continue
		}
		r.fault("loadgen", string(fault)+" "+id, runs[0], res, Expect{Rules: loadgenFaults[fault], Root: loadgen.FaultNodes[fault]})
	}
}

func (r *Report) fixtures(t testing.TB, cfg *detect.Config) {
	files, err := filepath.Glob(filepath.Join(testutil.ModuleRoot(t), "testdata", "otlp", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	base := detect.NewBaselines(0, 0)
	for _, f := range files {
		name := filepath.Base(f)
		want, known := fixtures[name]
		if !known {
			r.Problems = append(r.Problems, fmt.Sprintf("fixture %s is not classified in test/quality (healthy, or the fault it holds)", name))
			continue
		}
		for _, run := range agentrun.MapTraces(testutil.LoadTraces(t, name), agentrun.Options{}) {
			res := detect.Analyze(run, cfg, base)
			if want == nil {
				r.healthy("fixtures", name, res)
			} else {
				r.fault("fixtures", name, run, res, *want)
			}
		}
	}
}

func (r *Report) recordings(t testing.TB, cfg *detect.Config) {
	cases := map[string]sdks.Case{}
	for _, c := range sdks.Cases() {
		cases[c.SDK] = c
	}
	dirs, err := os.ReadDir(filepath.Join(testutil.ModuleRoot(t), "testdata", "sdks"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		sdk := d.Name()
		c, isCase := cases[sdk]
		other, isOther := otherRecordings[sdk]
		switch {
		case isCase:
			r.recording(t, cfg, sdk, c.Faults, c.Missed)
		case isOther && other != nil:
			faults := map[string]sdks.Fault{}
			for name, e := range other {
				faults[name] = sdks.Fault{Rules: e.Rules, Root: e.Root}
			}
			r.recording(t, cfg, sdk, faults, nil)
		case !isOther:
			r.Problems = append(r.Problems, fmt.Sprintf("recordings testdata/sdks/%s are in no sdks.Case and not classified in test/quality", sdk))
		}
	}
}

// recording replays one folder as test/sdks does: healthy runs one after
// the other against the baselines they build, each fault against the
// baselines of all of them. Runs that are no agent runs are skipped, as
// the processor skips them.
func (r *Report) recording(t testing.TB, cfg *detect.Config, sdk string, faults map[string]sdks.Fault, missed map[string]string) {
	var healthy, faulty []testutil.Recording
	for _, rec := range testutil.LoadRecordings(t, sdk) {
		if strings.HasPrefix(rec.Name, "fault_") {
			faulty = append(faulty, rec)
		} else {
			healthy = append(healthy, rec)
		}
	}
	source := "sdk " + sdk
	base := detect.NewBaselines(0, 0)
	var analysed []*agentrun.Run
	for _, rec := range healthy {
		for _, run := range agentrun.MapTraces(rec.Traces, agentrun.Options{}) {
			if !run.IsAgentRun() {
				r.Skipped++
				continue
			}
			r.healthy(source, rec.Name, detect.Analyze(run, cfg, base))
			analysed = append(analysed, run)
		}
	}
	for _, rec := range faulty {
		if _, ok := missed[rec.Name]; ok {
			continue // the SDK never sends it (sdks.Case.Missed)
		}
		want, ok := faults[rec.Name]
		if !ok {
			r.Problems = append(r.Problems, fmt.Sprintf("%s %s: a fault recording without an expectation", source, rec.Name))
			continue
		}
		warm := detect.NewBaselines(0, 0)
		for _, h := range analysed {
			warm.Observe(h)
		}
		for _, run := range agentrun.MapTraces(rec.Traces, agentrun.Options{}) {
			r.fault(source, rec.Name, run, detect.Analyze(run, cfg, warm), Expect(want))
		}
	}
}

// infoOnly are the rules that report only at info: what they find is no
// fault of the run (statistical.output_size_anomaly is info by default
// too, but warns on the collapse its fault injects).
var infoOnly = map[string]bool{"semantic.deep_json": true}

// HealthyRuns is the number of healthy runs measured.
func (r *Report) HealthyRuns() int {
	n := 0
	for _, v := range r.Healthy {
		n += v
	}
	return n
}

// Table renders the report as the Markdown of BENCHMARKS.md's detection
// quality section.
func (r *Report) Table() string {
	var b strings.Builder
	sources := make([]string, 0, len(r.Healthy))
	for s := range r.Healthy {
		sources = append(sources, s)
	}
	sort.Strings(sources)
	var parts []string
	for _, s := range sources {
		parts = append(parts, fmt.Sprintf("%s %d", s, r.Healthy[s]))
	}
	warned := 0
	for _, c := range r.Rules {
		warned += c.HealthyWarn
	}
	fmt.Fprintf(&b, "%d healthy runs (%s; %d traces that are no agent runs skipped, as the processor skips them): **%d warning or critical findings**. ",
		r.HealthyRuns(), strings.Join(parts, ", "), r.Skipped, warned)
	fmt.Fprintf(&b, "%d injected faults: **%d found** by a fitting rule with the root cause where they were injected, %d missed. "+
		"A fault is found when one of the rules meant for it fires at warning or critical and forensics names its root; "+
		"a fault of an info rule (marked \"at info\") is found when the rule reports it at info on the step it was injected at and the run stays ok. "+
		"A rule's \"missed\" counts its faults that none of their rules found.\n\n", r.Faults, r.Found, r.Faults-r.Found)
	b.WriteString("| rule | healthy runs with a warning | healthy runs with info | injected faults it is meant to find | found by it | missed |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|\n")
	for _, id := range detect.RuleIDs() {
		c := r.Rules[id]
		faults := "- | - | -"
		if c.Expected > 0 {
			at := ""
			if infoOnly[id] {
				at = " at info"
			}
			faults = fmt.Sprintf("%d | %d%s | %d", c.Expected, c.FoundBy, at, c.Missed)
		}
		fmt.Fprintf(&b, "| `%s` | %d | %d | %s |\n", id, c.HealthyWarn, c.HealthyInfo, faults)
	}
	return b.String()
}
