package detect

import "github.com/arguslabs/argus-otel/internal/pipeline"

// Behavioral is a placeholder until the layer lands.
func Behavioral(run *pipeline.Run, cfg *Config) []Finding { return nil }
