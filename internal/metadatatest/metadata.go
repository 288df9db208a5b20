// Package metadatatest holds each component's metadata.yaml to the code and
// the README that restate it: the project does not run mdatagen, so the
// tests check what mdatagen would generate. Each component calls Check from
// its TestMetadata.
package metadatatest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/arguslabs/argus-otel/internal/testutil"
)

// Metadata is the part of mdatagen's metadata.yaml schema the components
// use. Unknown keys are an error, so a second syntax for the same thing
// (e.g. `stability: {level: alpha}` beside `stability: alpha`) cannot creep in.
type Metadata struct {
	Type        string `yaml:"type"`
	DisplayName string `yaml:"display_name"`
	ScopeName   string `yaml:"scope_name"`
	Status      struct {
		Class         string              `yaml:"class"`
		Stability     map[string][]string `yaml:"stability"` // level -> signals
		Distributions []string            `yaml:"distributions"`
	} `yaml:"status"`
	Telemetry struct {
		Metrics map[string]Metric `yaml:"metrics"`
	} `yaml:"telemetry"`
	Attributes map[string]Attribute `yaml:"attributes"`
}

// Metric is one internal telemetry instrument.
type Metric struct {
	Enabled     bool     `yaml:"enabled"`
	Stability   string   `yaml:"stability"`
	Description string   `yaml:"description"`
	Unit        string   `yaml:"unit"`
	Attributes  []string `yaml:"attributes"`
	Sum         *struct {
		ValueType string `yaml:"value_type"`
		Monotonic bool   `yaml:"monotonic"`
	} `yaml:"sum"`
	Histogram *struct {
		ValueType        string    `yaml:"value_type"`
		BucketBoundaries []float64 `yaml:"bucket_boundaries"`
	} `yaml:"histogram"`
}

// Attribute is a metric attribute and the values it takes.
type Attribute struct {
	// NameOverride is the attribute key when it differs from the YAML
	// name (two metrics with a "reason" of different values).
	NameOverride string   `yaml:"name_override"`
	Description  string   `yaml:"description"`
	Type         string   `yaml:"type"`
	Enum         []string `yaml:"enum"`
}

// Load reads metadata.yaml from dir, strictly.
func Load(t testing.TB, dir string) *Metadata {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "metadata.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var md Metadata
	if err := dec.Decode(&md); err != nil {
		t.Fatalf("metadata.yaml: %v", err)
	}
	return &md
}

// distribution is the name of the collector distribution ocb builds
// (builder-config.yaml dist.name), the one distribution every component
// of this repository is in.
func distribution(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testutil.ModuleRoot(t), "builder-config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Dist struct {
			Name string `yaml:"name"`
		} `yaml:"dist"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil || cfg.Dist.Name == "" {
		t.Fatalf("builder-config.yaml: no dist.name (%v)", err)
	}
	return cfg.Dist.Name
}
