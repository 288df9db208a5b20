// Command capture is the OTLP endpoint the SDK recordings are made with: the
// real SDKs under test/sdks/ export to it over OTLP/HTTP (protobuf or JSON)
// and it writes what they sent, run by run, as OTLP JSON files that tests
// replay. It is a recorder, not a collector: nothing is dropped, and the one
// change is that the absolute path of the checkout the agents ran from
// (-checkout; stack traces and code.filepath attributes hold it) becomes
// /repo, so a recording does not depend on where it was made.
//
//	capture -out testdata/sdks/vercel-ai -addr 127.0.0.1:0 -checkout "$PWD"
//
// It prints its base URL on the first line of stdout. An agent names the run
// it is about to make with POST /run?name=NAME (NAME: [a-z0-9_-]+); every
// span request after that, until the next /run, goes into NAME.json, the
// requests' resourceSpans concatenated in arrival order. POST /shutdown (or
// SIGINT/SIGTERM) writes the last run and exits. Metrics and logs requests
// are answered and discarded, so SDKs that send them do not retry.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// checkoutPlaceholder replaces the checkout's absolute path in recordings.
const checkoutPlaceholder = "/repo"

var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,80}$`)

type recorder struct {
	out      string
	checkout []byte // JSON text of the checkout's absolute path; empty: none
	mu       sync.Mutex
	name     string
	current  ptrace.Traces
	written  map[string]bool
}

func (r *recorder) traces(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, 64<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	exp := ptraceotlp.NewExportRequest()
	isJSON := strings.HasPrefix(req.Header.Get("Content-Type"), "application/json")
	if isJSON {
		err = exp.UnmarshalJSON(body)
	} else {
		err = exp.UnmarshalProto(body)
	}
	if err != nil {
		http.Error(w, "decode: "+err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	if r.name == "" {
		r.mu.Unlock()
		log.Printf("capture: %d spans arrived before any POST /run; refused", exp.Traces().SpanCount())
		http.Error(w, "no run named: POST /run?name=... first", http.StatusConflict)
		return
	}
	exp.Traces().ResourceSpans().MoveAndAppendTo(r.current.ResourceSpans())
	r.mu.Unlock()
	resp := ptraceotlp.NewExportResponse()
	var out []byte
	if isJSON {
		out, _ = resp.MarshalJSON()
		w.Header().Set("Content-Type", "application/json")
	} else {
		out, _ = resp.MarshalProto()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}
	_, _ = w.Write(out)
}

// flushLocked writes the current run, if it has spans.
func (r *recorder) flushLocked() error {
	if r.name == "" || r.current.SpanCount() == 0 {
		return nil
	}
	req := ptraceotlp.NewExportRequestFromTraces(r.current)
	raw, err := req.MarshalJSON()
	if err != nil {
		return err
	}
	if len(r.checkout) > 0 {
		raw = bytes.ReplaceAll(raw, r.checkout, []byte(checkoutPlaceholder))
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	pretty, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return err
	}
	path := filepath.Join(r.out, r.name+".json")
	if err := os.WriteFile(path, append(pretty, '\n'), 0o644); err != nil {
		return err
	}
	r.written[r.name] = true
	return nil
}

func (r *recorder) run(w http.ResponseWriter, req *http.Request) {
	name := req.URL.Query().Get("name")
	if !validName.MatchString(name) {
		http.Error(w, "name must match "+validName.String(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.written[name] || name == r.name {
		http.Error(w, "run "+name+" was already recorded", http.StatusConflict)
		return
	}
	if err := r.flushLocked(); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	r.name, r.current = name, ptrace.NewTraces()
	w.WriteHeader(http.StatusNoContent)
}

func main() {
	out := flag.String("out", "", "directory the run files are written to (created)")
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	checkout := flag.String("checkout", "", "absolute path of the checkout, written as "+checkoutPlaceholder)
	flag.Parse()
	if *out == "" {
		log.Fatal("capture: -out is required")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	r := &recorder{out: *out, current: ptrace.NewTraces(), written: map[string]bool{}}
	if *checkout != "" {
		quoted, _ := json.Marshal(filepath.Clean(*checkout))
		r.checkout = quoted[1 : len(quoted)-1] // as it appears inside JSON strings
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", r.traces)
	discard := func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		w.WriteHeader(http.StatusOK)
	}
	mux.HandleFunc("POST /v1/metrics", discard)
	mux.HandleFunc("POST /v1/logs", discard)
	mux.HandleFunc("POST /run", r.run)
	mux.HandleFunc("POST /shutdown", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
		stop()
	})
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	fmt.Printf("http://%s\n", ln.Addr())
	<-ctx.Done()
	_ = srv.Shutdown(context.Background())
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.flushLocked(); err != nil {
		log.Fatal(err)
	}
	log.Printf("capture: %d runs written to %s", len(r.written), *out)
}
