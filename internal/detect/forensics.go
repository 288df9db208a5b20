package detect

import "github.com/arguslabs/argus-otel/internal/pipeline"

// Correlate is a placeholder until forensics lands.
func Correlate(run *pipeline.Run, fs []Finding) *Forensics { return nil }
