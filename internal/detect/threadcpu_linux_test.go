package detect

import (
	"runtime"
	"syscall"
	"testing"
	"time"
)

// reportThreadCPU adds cpu-sec/op, the CPU time of the benchmark's own
// thread per op (getrusage RUSAGE_THREAD): on a shared machine, load from
// other processes stretches ns/op but not this. Call it before the loop
// and defer the function it returns.
func reportThreadCPU(b *testing.B) func() {
	runtime.LockOSThread()
	start := threadCPU(b)
	return func() {
		used := threadCPU(b) - start
		runtime.UnlockOSThread()
		if b.N > 0 {
			b.ReportMetric(used.Seconds()/float64(b.N), "cpu-sec/op")
		}
	}
}

func threadCPU(b *testing.B) time.Duration {
	const rusageThread = 1 // RUSAGE_THREAD (Linux)
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		b.Skipf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
