package detect

import "github.com/arguslabs/argus-otel/internal/pipeline"

// Structural is a placeholder until the layer lands.
func Structural(run *pipeline.Run, cfg *Config) []Finding { return nil }
