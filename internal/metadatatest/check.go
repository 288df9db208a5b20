package metadatatest

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// updateREADME rewrites the README blocks rendered from metadata.yaml:
//
//	go test ./processor/argusdetector -run TestMetadata -update-readme
var updateREADME = flag.Bool("update-readme", false, "rewrite the README blocks rendered from metadata.yaml")

// Component is what the code of a component declares that its
// metadata.yaml declares too.
type Component struct {
	// Dir holds metadata.yaml and README.md ("." from the component's tests).
	Dir       string
	Factory   component.Factory
	ScopeName string
	// NewTelemetry creates the component's instruments (its
	// TelemetryBuilder); nil when it has none.
	NewTelemetry func(component.TelemetrySettings) (any, error)
	// Enums are the values the code gives each attribute with an enum.
	Enums map[string][]string
}

// Check holds metadata.yaml, the code and the README in agreement, and
// checks the default config as mdatagen's generated tests do.
func Check(t *testing.T, c Component) {
	md := Load(t, c.Dir)
	if typ := c.Factory.Type().String(); md.Type != typ {
		t.Errorf("metadata.yaml type %q, factory %q", md.Type, typ)
	}
	if err := componenttest.CheckConfigStruct(c.Factory.CreateDefaultConfig()); err != nil {
		t.Errorf("default config: %v", err)
	}
	if md.ScopeName != c.ScopeName {
		t.Errorf("metadata.yaml scope_name %q, code %q", md.ScopeName, c.ScopeName)
	}
	if dist := distribution(t); !slices.Equal(md.Status.Distributions, []string{dist}) {
		t.Errorf("metadata.yaml distributions %q, want [%s] (builder-config.yaml)", md.Status.Distributions, dist)
	}
	declared := map[string]string{}
	for level, signals := range md.Status.Stability {
		for _, s := range signals {
			declared[s] = level
		}
	}
	code := factoryStability(c.Factory)
	if !reflect.DeepEqual(declared, code) {
		t.Errorf("metadata.yaml stability %v, factory %v", declared, code)
	}
	checkEnums(t, md, c.Enums)
	if c.NewTelemetry != nil {
		checkTelemetry(t, md, c)
	} else if len(md.Telemetry.Metrics) > 0 {
		t.Errorf("metadata.yaml declares metrics, the component creates none")
	}
	checkREADME(t, md, c)
}

// The stability methods of the kinds of factory.
type (
	tracesFactory interface {
		TracesStability() component.StabilityLevel
	}
	metricsFactory interface {
		MetricsStability() component.StabilityLevel
	}
	logsFactory interface {
		LogsStability() component.StabilityLevel
	}
	extensionFactory interface {
		Stability() component.StabilityLevel
	}
)

// factoryStability is the stability the factory declares, by signal
// ("extension" for an extension).
func factoryStability(f component.Factory) map[string]string {
	out := map[string]string{}
	add := func(signal string, level component.StabilityLevel) {
		if level != component.StabilityLevelUndefined {
			out[signal] = strings.ToLower(level.String())
		}
	}
	if x, ok := f.(tracesFactory); ok {
		add("traces", x.TracesStability())
	}
	if x, ok := f.(metricsFactory); ok {
		add("metrics", x.MetricsStability())
	}
	if x, ok := f.(logsFactory); ok {
		add("logs", x.LogsStability())
	}
	if x, ok := f.(extensionFactory); ok {
		add("extension", x.Stability())
	}
	return out
}

func checkEnums(t *testing.T, md *Metadata, enums map[string][]string) {
	for name, a := range md.Attributes {
		if a.Type != "string" {
			t.Errorf("attribute %s: type %q, want string", name, a.Type)
		}
		if len(a.Enum) == 0 {
			continue
		}
		used, ok := enums[name]
		if !ok {
			t.Errorf("attribute %s: the enum of metadata.yaml is not held to the code (Component.Enums)", name)
		} else if !slices.Equal(a.Enum, used) {
			t.Errorf("attribute %s: metadata.yaml enum %q, the code %q", name, a.Enum, used)
		}
	}
	for name := range enums {
		if _, ok := md.Attributes[name]; !ok {
			t.Errorf("attribute %s: not in metadata.yaml", name)
		}
	}
}

// checkTelemetry creates the instruments against a manual reader, records
// on each, and compares what the reader sees with metadata.yaml: names,
// descriptions (mdatagen's "... [Alpha]"), units, kinds, buckets, scope.
func checkTelemetry(t *testing.T, md *Metadata, c Component) {
	tel := componenttest.NewTelemetry()
	defer func() { _ = tel.Shutdown(context.Background()) }()
	tb, err := c.NewTelemetry(tel.NewTelemetrySettings())
	if err != nil {
		t.Fatal(err)
	}
	recordOnEach(t, tb)
	var rm metricdata.ResourceMetrics
	if err := tel.Reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	seen := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != md.ScopeName {
			t.Errorf("instruments in scope %q, metadata.yaml scope_name %q", sm.Scope.Name, md.ScopeName)
		}
		for _, m := range sm.Metrics {
			seen[m.Name] = m
		}
	}
	for name, want := range md.Telemetry.Metrics {
		full := "otelcol_" + name
		got, ok := seen[full]
		if !ok {
			t.Errorf("%s: in metadata.yaml, not created by the code", full)
			continue
		}
		delete(seen, full)
		if !want.Enabled {
			t.Errorf("%s: disabled metrics are not supported", full)
		}
		if d := want.Description + " [" + title(want.Stability) + "]"; got.Description != d {
			t.Errorf("%s: description %q, metadata.yaml %q", full, got.Description, d)
		}
		if got.Unit != want.Unit {
			t.Errorf("%s: unit %q, metadata.yaml %q", full, got.Unit, want.Unit)
		}
		if kind := kindOf(got.Data); kind != want.kind() {
			t.Errorf("%s: a %s, metadata.yaml a %s", full, kind, want.kind())
		}
		if h, ok := got.Data.(metricdata.Histogram[float64]); ok && want.Histogram != nil && len(h.DataPoints) > 0 {
			if !slices.Equal(h.DataPoints[0].Bounds, want.Histogram.BucketBoundaries) {
				t.Errorf("%s: buckets %v, metadata.yaml %v", full, h.DataPoints[0].Bounds, want.Histogram.BucketBoundaries)
			}
		}
		for _, a := range want.Attributes {
			if _, ok := md.Attributes[a]; !ok {
				t.Errorf("%s: attribute %s is not declared under attributes", full, a)
			}
		}
	}
	for name := range seen {
		t.Errorf("%s: created by the code, not in metadata.yaml", name)
	}
}

// kind names an instrument as the README tables do.
func (m Metric) kind() string {
	switch {
	case m.Sum != nil && m.Sum.Monotonic:
		return m.Sum.ValueType + " counter"
	case m.Sum != nil:
		return m.Sum.ValueType + " updowncounter"
	case m.Histogram != nil:
		return m.Histogram.ValueType + " histogram"
	}
	return "instrument of no kind"
}

func kindOf(d metricdata.Aggregation) string {
	switch x := d.(type) {
	case metricdata.Sum[int64]:
		if x.IsMonotonic {
			return "int counter"
		}
		return "int updowncounter"
	case metricdata.Sum[float64]:
		if x.IsMonotonic {
			return "double counter"
		}
		return "double updowncounter"
	case metricdata.Histogram[int64]:
		return "int histogram"
	case metricdata.Histogram[float64]:
		return "double histogram"
	}
	return fmt.Sprintf("%T", d)
}

// recordOnEach records one value on every instrument field of tb (a
// pointer to a struct), so the reader reports it.
func recordOnEach(t *testing.T, tb any) {
	v := reflect.ValueOf(tb)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		t.Fatalf("NewTelemetry returned %T, want a pointer to a struct of instruments", tb)
	}
	ctx := context.Background()
	for i := range v.Elem().NumField() {
		if !v.Elem().Type().Field(i).IsExported() {
			continue
		}
		switch inst := v.Elem().Field(i).Interface().(type) {
		case metric.Int64Counter:
			inst.Add(ctx, 1)
		case metric.Int64UpDownCounter:
			inst.Add(ctx, 1)
		case metric.Float64Counter:
			inst.Add(ctx, 1)
		case metric.Int64Histogram:
			inst.Record(ctx, 1)
		case metric.Float64Histogram:
			inst.Record(ctx, 1)
		default:
			t.Fatalf("field %s: %T is not an instrument this check records on", v.Elem().Type().Field(i).Name, inst)
		}
	}
}

func title(s string) string {
	if s == "" {
		return ""
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// README blocks rendered from metadata.yaml, between these markers.
const (
	statusBegin    = "<!-- status: rendered from metadata.yaml, checked by TestMetadata -->"
	statusEnd      = "<!-- end status -->"
	telemetryBegin = "<!-- telemetry: rendered from metadata.yaml, checked by TestMetadata -->"
	telemetryEnd   = "<!-- end telemetry -->"
)

// checkREADME: the status header and the telemetry table are what
// metadata.yaml renders to, and every configuration key has a row.
func checkREADME(t *testing.T, md *Metadata, c Component) {
	path := filepath.Join(c.Dir, "README.md")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("every component has a README: %v", err)
	}
	text := string(b)
	blocks := []struct{ begin, end, want string }{{statusBegin, statusEnd, renderStatus(md)}}
	if len(md.Telemetry.Metrics) > 0 {
		blocks = append(blocks, struct{ begin, end, want string }{telemetryBegin, telemetryEnd, renderTelemetry(md)})
	}
	for _, bl := range blocks {
		i, j := strings.Index(text, bl.begin), strings.Index(text, bl.end)
		if i < 0 || j < i {
			t.Errorf("%s: no block %s ... %s; it should hold:\n%s", path, bl.begin, bl.end, bl.want)
			continue
		}
		got := text[i+len(bl.begin) : j]
		if got == bl.want {
			continue
		}
		if *updateREADME {
			text = text[:i+len(bl.begin)] + bl.want + text[j:]
			continue
		}
		t.Errorf("%s: the block after %s differs from metadata.yaml (go test -run TestMetadata -update-readme rewrites it); want:\n%s", path, bl.begin, bl.want)
	}
	if *updateREADME && text != string(b) {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, key := range configKeys(reflect.TypeOf(c.Factory.CreateDefaultConfig())) {
		row := regexp.MustCompile("(?m)^\\|[^|\\n]*`" + regexp.QuoteMeta(key) + "[`.]")
		if !row.MatchString(text) {
			t.Errorf("%s: no configuration table row for `%s`", path, key)
		}
	}
}

func renderStatus(md *Metadata) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n# %s\n\n| Status | |\n| --- | --- |\n", md.DisplayName)
	levels := make([]string, 0, len(md.Status.Stability))
	for l := range md.Status.Stability {
		levels = append(levels, l)
	}
	slices.Sort(levels)
	for i, l := range levels {
		label := "Stability"
		if i > 0 {
			label = ""
		}
		fmt.Fprintf(&b, "| %s | [%s]: %s |\n", label, l, strings.Join(md.Status.Stability[l], ", "))
	}
	var dists []string
	for _, d := range md.Status.Distributions {
		dists = append(dists, "["+d+"]")
	}
	fmt.Fprintf(&b, "| Distributions | %s |\n| Type | `%s` |\n\n", strings.Join(dists, ", "), md.Type)
	for _, l := range levels {
		fmt.Fprintf(&b, "[%s]: https://github.com/open-telemetry/opentelemetry-collector/blob/main/docs/component-stability.md#%s\n", l, l)
	}
	for _, d := range md.Status.Distributions {
		fmt.Fprintf(&b, "[%s]: ../../builder-config.yaml\n", d)
	}
	return b.String()
}

func renderTelemetry(md *Metadata) string {
	names := make([]string, 0, len(md.Telemetry.Metrics))
	for n := range md.Telemetry.Metrics {
		names = append(names, n)
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString("\n| metric | kind | unit | attributes | description |\n| --- | --- | --- | --- | --- |\n")
	for _, n := range names {
		m := md.Telemetry.Metrics[n]
		var attrs []string
		for _, a := range m.Attributes {
			key := a
			if o := md.Attributes[a].NameOverride; o != "" {
				key = o
			}
			s := "`" + key + "`"
			if e := md.Attributes[a].Enum; len(e) > 0 {
				s += ": " + strings.Join(e, ", ")
			}
			attrs = append(attrs, s)
		}
		fmt.Fprintf(&b, "| `otelcol_%s` | %s | `%s` | %s | %s |\n", n, m.kind(), m.Unit, strings.Join(attrs, "; "), m.Description)
	}
	return b.String()
}

// configKeys are the top-level keys of a config struct (its mapstructure
// names, through squashed embedded structs).
func configKeys(typ reflect.Type) []string {
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	var keys []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		tag := f.Tag.Get("mapstructure")
		name, opts, _ := strings.Cut(tag, ",")
		switch {
		case name == "-" || !f.IsExported():
		case opts == "squash":
			keys = append(keys, configKeys(f.Type)...)
		case name != "":
			keys = append(keys, name)
		default:
			keys = append(keys, strings.ToLower(f.Name))
		}
	}
	return keys
}
