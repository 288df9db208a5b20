// Command argus-load drives an otelcol-argus (or any OTLP gRPC endpoint on
// loopback) with LangGraph-shaped agent traffic and reports what was
// acknowledged. scripts/load.sh uses its three modes:
//
//	argus-load [run] -endpoint 127.0.0.1:4317 -duration 30s ...   load, JSON summary on stdout
//	argus-load drain -driver sqlite -target .argus/traces.db ...  wait until the store stops growing
//	argus-load report -dir test-output/load                        table + summary.json
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/arguslabs/argus-otel/internal/loadgen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "argus-load:", err)
		if errors.Is(err, errUsage) {
			os.Exit(64)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, out io.Writer) error {
	mode := "run"
	if len(args) > 0 && (args[0] == "run" || args[0] == "drain" || args[0] == "report") {
		mode, args = args[0], args[1:]
	}
	switch mode {
	case "drain":
		return drain(ctx, args, out)
	case "report":
		return report(args, out)
	default:
		return load(ctx, args, out)
	}
}

func parse(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(os.Stderr)
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}

func load(ctx context.Context, args []string, out io.Writer) error {
	cfg := loadgen.DefaultConfig()
	fs := flag.NewFlagSet("argus-load", flag.ContinueOnError)
	fs.StringVar(&cfg.Endpoint, "endpoint", "127.0.0.1:4317", "OTLP gRPC endpoint (loopback only)")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long to send")
	fs.IntVar(&cfg.Workers, "workers", cfg.Workers, "concurrent senders, one connection each")
	fs.Float64Var(&cfg.Rate, "rate", 0, "target runs (traces) per second over all workers; 0 = as fast as acknowledged")
	fs.IntVar(&cfg.TracesPerRequest, "traces-per-request", cfg.TracesPerRequest, "whole runs per export request at most")
	fs.IntVar(&cfg.MaxRequestBytes, "max-request-bytes", cfg.MaxRequestBytes, "encoded size bound of one request")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "timeout of one export request")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed of the generated runs")
	fs.IntVar(&cfg.Shape.NodesMin, "nodes-min", cfg.Shape.NodesMin, "node executions per run, minimum")
	fs.IntVar(&cfg.Shape.NodesMax, "nodes-max", cfg.Shape.NodesMax, "node executions per run, maximum")
	fs.IntVar(&cfg.Shape.StateMin, "state-min", cfg.Shape.StateMin, "bytes of a node's input/output JSON state, minimum")
	fs.IntVar(&cfg.Shape.StateMax, "state-max", cfg.Shape.StateMax, "bytes of a node's input/output JSON state, maximum")
	fs.Float64Var(&cfg.Shape.FailShare, "fail-share", cfg.Shape.FailShare, "fraction of runs that fail like the RAG silent failure")
	fs.StringVar(&cfg.Shape.Service, "service", cfg.Shape.Service, "service.name of the runs")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	s, err := loadgen.Run(ctx, cfg)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

func drain(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("argus-load drain", flag.ContinueOnError)
	driver := fs.String("driver", "sqlite", "sqlite or postgres")
	target := fs.String("target", "", "SQLite file or PostgreSQL DSN")
	wantTraces := fs.Int64("want-traces", 0, "trace rows expected (acknowledged runs)")
	wantSteps := fs.Int64("want-steps", 0, "step rows expected (acknowledged node spans)")
	client := fs.String("client", "", "argus-load summary JSON: expect its acknowledged traces and node spans")
	poll := fs.Duration("poll", 250*time.Millisecond, "poll interval")
	quiet := fs.Duration("quiet", 5*time.Second, "the store is drained after this long without growth")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up waiting after this long")
	pid := fs.Int("pid", 0, "collector process: drained also means its CPU went idle")
	clkTck := fs.Float64("clk-tck", 100, "clock ticks per second of /proc/<pid>/stat (getconf CLK_TCK)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *target == "" {
		return fmt.Errorf("%w: -target is required", errUsage)
	}
	if *client != "" {
		b, err := os.ReadFile(*client)
		if err != nil {
			return err
		}
		var s loadgen.Summary
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("%s: %w", *client, err)
		}
		*wantTraces, *wantSteps = s.Acked.Traces, s.Acked.NodeSpans
	}
	db, err := loadgen.OpenStore(*driver, *target)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	defer db.Close()
	var cpu func() (float64, error)
	if *pid > 0 {
		cpu = loadgen.ProcCPU(*pid, *clkTck)
	}
	d := loadgen.WaitStable(ctx, db, loadgen.Rows{Traces: *wantTraces, Steps: *wantSteps}, cpu, *poll, *quiet, *timeout)
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(d)
}

func report(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("argus-load report", flag.ContinueOnError)
	dir := fs.String("dir", "test-output/load", "directory with one sub-directory per scenario")
	command := fs.String("command", "scripts/load.sh", "command line recorded in the summary")
	duration := fs.Duration("duration", 0, "load duration of each scenario, recorded in the summary")
	if err := parse(fs, args); err != nil {
		return err
	}
	rep, err := loadgen.BuildReport(*dir)
	if err != nil {
		return err
	}
	rep.Command, rep.DurationS = *command, duration.Seconds()
	if err := rep.WriteTable(out); err != nil {
		return err
	}
	path := filepath.Join(*dir, "summary.json")
	if err := rep.WriteJSON(path); err != nil {
		return err
	}
	fmt.Fprintln(out, "summary:", path)
	return nil
}
