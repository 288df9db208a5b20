package detect

import "github.com/arguslabs/argus-otel/internal/pipeline"

// Semantic is a placeholder until the layer lands.
func Semantic(run *pipeline.Run, cfg *Config) []Finding { return nil }
