package detect

import "github.com/arguslabs/argus-otel/internal/pipeline"

// Baselines is a placeholder until the layer lands.
type Baselines struct{}

// Observe is a placeholder.
func (b *Baselines) Observe(run *pipeline.Run) {}

// Statistical is a placeholder until the layer lands.
func Statistical(run *pipeline.Run, cfg *Config, base *Baselines) []Finding { return nil }
