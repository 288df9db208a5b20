// Package pathbench holds benchmarks of the collector's whole write path
// (receiver decode, argusdetector, argus exporter, database) in one process,
// fed with the load client's LangGraph-shaped runs. They exist to profile
// where the time of scripts/load.sh goes: the collector binary has no pprof
// extension, these give the same path under `go test -cpuprofile`.
package pathbench
