//go:build !linux

package detect

import "testing"

// reportThreadCPU reports nothing where RUSAGE_THREAD does not exist.
func reportThreadCPU(*testing.B) func() { return func() {} }
