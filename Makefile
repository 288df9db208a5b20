# Argus for OpenTelemetry. Two commands matter: `make run` and `make test`.
SHELL := /bin/bash
export CGO_ENABLED := 0

OCB_VERSION   := v0.165.0
TOOLS         := $(CURDIR)/.tools
OCB           := $(TOOLS)/builder-$(OCB_VERSION)
BINARY        := $(CURDIR)/_build/otelcol-argus
CLI           := $(CURDIR)/_build/argus
CONFIG        ?= config.yaml
GO_SOURCES    := $(shell find . -name '*.go' -not -path './_build/*' -not -path './.tools/*') go.mod go.sum builder-config.yaml
TEST_TIMEOUT  ?= 30m

.PHONY: all build run audit-dev test test-deps postgres-up postgres-down bench load fuzz lint clean ocb record-sdks quality

all: build

ocb: $(OCB)
$(OCB):
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) go install go.opentelemetry.io/collector/cmd/builder@$(OCB_VERSION)
	mv $(TOOLS)/builder $(OCB)

## build: the otelcol-argus distribution with ocb, and the argus CLI, into _build/
build: $(BINARY) $(CLI)
$(BINARY): $(OCB) $(GO_SOURCES)
	$(OCB) --config builder-config.yaml
	@touch $(BINARY)
$(CLI): $(GO_SOURCES)
	go build -o $(CLI) ./cmd/argus

## run: build and start the collector on its SQLite default (.argus/traces.db)
## (GOMEMLIMIT defaults to ARGUS_MEMORY_LIMIT_MIB, the memory_limiter limit;
## the feature gate lets health_check report the components' status)
## (the web UI's address is printed first and logged by the collector once it listens)
run: build
	@echo "Argus web UI: http://$${ARGUS_API_ENDPOINT:-localhost:8889}/ui/   CLI: _build/argus (e.g. _build/argus show --last)"
	@echo "Collector metrics: http://$${ARGUS_METRICS_HOST:-localhost}:$${ARGUS_METRICS_PORT:-8888}/metrics (port taken? ARGUS_METRICS_PORT=9888 make run)"
	GOMEMLIMIT="$${GOMEMLIMIT:-$${ARGUS_MEMORY_LIMIT_MIB:-1024}MiB}" $(BINARY) --config $(CONFIG) \
	  --feature-gates=+extension.healthcheck.useComponentStatus

## test: the whole suite, with a real PostgreSQL started and Chromium for the
## HTML report check (both installed from Debian's packages when missing)
test: build test-deps fuzz
	@dsn=$$(scripts/testpg.sh start) && mkdir -p test-output && \
	ARGUS_TEST_POSTGRES_DSN="$$dsn" ARGUS_REQUIRE_POSTGRES=1 ARGUS_REQUIRE_CHROMIUM=1 \
	ARGUS_BINARY=$(BINARY) ARGUS_TEST_OUTPUT=$(CURDIR)/test-output \
	  go test -count=1 -timeout $(TEST_TIMEOUT) ./...

test-deps:
	@command -v chromium >/dev/null 2>&1 || { echo "installing chromium (HTML report test)"; \
	  export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

## audit-dev: the built collector as a local audit-log service (API on
## localhost:8889, temporary SQLite) for testing pkg/audit integrations
audit-dev: build
	scripts/audit-dev.sh

postgres-up:
	@scripts/testpg.sh start
postgres-down:
	@scripts/testpg.sh stop

## bench: Go benchmarks, then the load script; see BENCHMARKS.md
bench: build
	@dsn=$$(scripts/testpg.sh start) && \
	ARGUS_TEST_POSTGRES_DSN="$$dsn" go test -run '^$$' -bench . -benchmem -benchtime 2s ./...
	scripts/load.sh

## quality: detection quality over healthy runs and injected faults, per rule,
## written into BENCHMARKS.md (make test checks the same measurement)
quality:
	go test -count=1 -run '^TestDetectionQuality$$' ./test/quality -args -write-benchmarks

## load: the built collector under LangGraph-shaped load (LOAD_DURATION s per
## scenario, default 30); figures in test-output/load/summary.json
load: build
	scripts/load.sh

## record-sdks: re-record every SDK's runs into testdata/sdks/ (needs npm and
## the Go module proxy; the recordings are checked in, make test does not need this)
record-sdks:
	@for d in test/sdks/*/; do \
	  if [ -x "$$d/record" ]; then test/sdks/record.sh "$$(basename $$d)" || exit 1; fi; \
	done

## fuzz: a short run of each fuzz target, one after the other (part of make test)
fuzz:
	go test -run '^$$' -fuzz '^FuzzMapTraces$$' -fuzztime 15s ./internal/agentrun
	go test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime 15s ./internal/annotation
	go test -run '^$$' -fuzz '^FuzzBuildRows$$' -fuzztime 15s ./exporter/argusexporter
	@# jsonscan: budgets in executions (~10 s each here), not seconds: a
	@# duration can end in a spurious "context deadline exceeded" on go1.26
	@# (golang/go#75804, fixed in Go 1.27) when the machine is loaded.
	go test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime 20000x ./internal/jsonscan
	go test -run '^$$' -fuzz '^FuzzValid$$' -fuzztime 30000x ./internal/jsonscan
	go test -run '^$$' -fuzz '^FuzzVerbatim$$' -fuzztime 20000x ./internal/jsonscan

lint:
	go vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)

clean:
	rm -rf _build .tools
