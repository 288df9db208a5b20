// Command argus reads the runs stored by the Argus collector: it lists them,
// shows one in the terminal, renders reports (json, html, markdown) and
// gates CI/CD on the verdict of a run.
//
//	argus list   [--pipeline P] [--status S] [--since 24h] [--limit N] [--format table|json]
//	argus show   (ID | --last [--pipeline P])
//	argus report (--trace ID | --last [--pipeline P]) [--format json|html|markdown] [--output FILE]
//	argus check  (ID | --last [--pipeline P])
//
// Every command takes --db PATH (default .argus/traces.db) or --dsn DSN
// (PostgreSQL; also the ARGUS_DSN environment variable).
//
// Exit codes: 0 success (check: the run is ok), 1 check: the run failed,
// 2 check: the run has warnings, 3 operational error (no database, unknown
// id, empty store, database error, cannot write the output), 4 check: the
// run is still in progress (no verdict yet), 64 usage error.
package main

import (
	"os"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// Exit codes.
const (
	exitOK         = 0
	exitFailed     = 1 // check: the run failed
	exitWarning    = 2 // check: the run has warnings
	exitError      = 3 // could not answer: no database, unknown id, I/O
	exitInProgress = 4 // check: the run has not completed, no verdict yet
	exitUsage      = 64
)

// env is what a command reads from its surroundings; tests replace it.
type env struct {
	now    func() time.Time
	getenv func(string) string
}

var defaultEnv = env{now: time.Now, getenv: os.Getenv}
