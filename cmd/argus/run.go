package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

const usage = `argus reads the pipeline runs stored by the Argus collector.

Usage:
  argus list   [--pipeline P] [--status ok|warning|failed] [--since 24h|7d|2026-01-31|RFC3339] [--limit N] [--format table|json]
  argus show   (ID | --last [--pipeline P])
  argus report (--trace ID | --last [--pipeline P]) [--format json|html|markdown] [--output FILE]
  argus check  (ID | --last [--pipeline P])

Database (every command):
  --db PATH    SQLite file written by the collector (default .argus/traces.db)
  --dsn DSN    PostgreSQL connection string (default: $ARGUS_DSN)
  --dsn wins over $ARGUS_DSN; an explicit --db wins over $ARGUS_DSN.

Exit codes:
  0   success; for check: the run is ok
  1   check: the run failed
  2   check: the run has warnings
  3   operational error: no database, unknown id, empty store, database or I/O error
  4   check: the run is still in progress (not analysed yet); check again later
  64  usage error: unknown command, bad flag or value
`

// usageError is a mistake in the command line (exit 64).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return usageError{fmt.Sprintf(format, args...)}
}

// verdictExit carries check's exit code (1, 2 or 4) out of the command without
// being an error to print.
type verdictExit int

func (v verdictExit) Error() string { return fmt.Sprintf("exit %d", int(v)) }

// cli is one invocation.
type cli struct {
	env    env
	stdout io.Writer
	stderr io.Writer
	db     dbOpts
}

// run is the whole command: main only turns its result into the exit code,
// and tests call it in-process.
func run(args []string, stdout, stderr io.Writer) int {
	return runEnv(defaultEnv, args, stdout, stderr)
}

func runEnv(e env, args []string, stdout, stderr io.Writer) int {
	c := &cli{env: e, stdout: stdout, stderr: stderr}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return c.exitCode(c.dispatch(ctx, args))
}

func (c *cli) dispatch(ctx context.Context, args []string) error {
	// Database flags may come before the command too: argus --db x list.
	global := flag.NewFlagSet("argus", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	c.db.register(global)
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(c.stdout, usage)
			return nil
		}
		return usagef("%v", err)
	}
	args = global.Args()
	if len(args) == 0 {
		return usagef("missing command (list, show, report or check)")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "list":
		return c.list(ctx, rest)
	case "show":
		return c.show(ctx, rest)
	case "report":
		return c.report(ctx, rest)
	case "check":
		return c.check(ctx, rest)
	case "help":
		fmt.Fprint(c.stdout, usage)
		return nil
	}
	return usagef("unknown command %q (want list, show, report or check)", cmd)
}

func (c *cli) exitCode(err error) int {
	var v verdictExit
	var u usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &v):
		return int(v)
	case errors.As(err, &u):
		fmt.Fprintf(c.stderr, "argus: %s\nRun 'argus help' for usage.\n", u.msg)
		return exitUsage
	}
	fmt.Fprintf(c.stderr, "argus: %s\n", oneLine(err.Error()))
	return exitError
}

// newFlags makes a command's flag set with the database flags registered
// (keeping values given before the command).
func (c *cli) newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("argus "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.db.register(fs)
	return fs
}

// parse parses flags anywhere among the positional arguments
// (argus show ID --db x), returning the positional ones.
func (c *cli) parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(c.stdout, usage)
				return nil, verdictExit(exitOK)
			}
			return nil, usagef("%s: %v", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// oneLine keeps an error to one line: drivers sometimes wrap multi-line
// detail, and the contract is one clear line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
