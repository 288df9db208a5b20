package argusexporter

import "time"

// timeoutSpans is the request size the configured timeout is meant for:
// the detector forwards at most 8192 spans (flushSpans) in one request,
// unless a single trace is larger.
const timeoutSpans = 8192

// writeTimeout is the deadline of one attempt to store a traces request of
// the given number of spans: the configured timeout per timeoutSpans. With
// one deadline for every size, a trace of 100k spans (~3 CPU s to map and
// write) ran out of time at every attempt on a busy 2-core machine and was
// retried, and re-offered by the detector, without end. 0: no deadline.
func (e *argusExporter) writeTimeout(spans int) time.Duration {
	t := e.cfg.TimeoutConfig.Timeout
	if t <= 0 {
		return 0
	}
	return t * time.Duration(max(1, (spans+timeoutSpans-1)/timeoutSpans))
}
