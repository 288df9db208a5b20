# syntax=docker/dockerfile:1
#
# otelcol-argus image: the collector built with ocb exactly as `make build`
# does (same builder version, same builder-config.yaml, CGO_ENABLED=0), plus
# the `argus` CLI for querying the store from inside the pod.
#
#   docker build -t ghcr.io/arguslabs/otelcol-argus:0.1.0 .
#   docker run -p 4317:4317 -p 4318:4318 -p 13133:13133 \
#     -v argus-data:/var/lib/argus ghcr.io/arguslabs/otelcol-argus:0.1.0
#
# The baked config is the repository's config.yaml; the ENV lines below make
# it listen on all interfaces and keep the SQLite database, the detector's
# write-ahead log and the audit logs' sending queue on the /var/lib/argus
# volume. Override any of them with -e, or mount another config and pass
# --config.
# deploy/deploy_test.go checks this file against the Makefile and go.mod.

# Build stage: the Go release named by go.mod's go line (major.minor).
FROM golang:1.26 AS build
ENV CGO_ENABLED=0
ARG OCB_VERSION=v0.165.0
RUN --mount=type=cache,target=/root/.cache/go-build \
    --mount=type=cache,target=/go/pkg/mod \
    go install go.opentelemetry.io/collector/cmd/builder@${OCB_VERSION}

WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# builder-config.yaml writes ./_build/otelcol-argus and replaces the argus
# module with this checkout (../ from _build).
RUN --mount=type=cache,target=/root/.cache/go-build \
    --mount=type=cache,target=/go/pkg/mod \
    builder --config builder-config.yaml && \
    go build -trimpath -ldflags="-s -w" -o /src/_build/argus ./cmd/argus && \
    mkdir -p /out/var/lib/argus

# Final stage: static binary on distroless, no shell, non-root.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /src/_build/otelcol-argus /otelcol-argus
COPY --from=build /src/_build/argus /argus
COPY config.yaml /etc/otelcol-argus/config.yaml
# An empty, writable data directory: the volume mounted there inherits it.
COPY --from=build --chown=65532:65532 /out/var/lib/argus /var/lib/argus

ENV ARGUS_OTLP_GRPC_ENDPOINT=0.0.0.0:4317 \
    ARGUS_OTLP_HTTP_ENDPOINT=0.0.0.0:4318 \
    ARGUS_HEALTH_ENDPOINT=0.0.0.0:13133 \
    ARGUS_API_ENDPOINT=0.0.0.0:8889 \
    ARGUS_METRICS_HOST=0.0.0.0 \
    ARGUS_DB_PATH=/var/lib/argus/traces.db \
    ARGUS_QUEUE_DIR=/var/lib/argus/queue \
    ARGUS_DETECTOR_DIR=/var/lib/argus/detector

USER 65532:65532
VOLUME ["/var/lib/argus"]
# OTLP gRPC, OTLP HTTP, health_check, argusapi, the collector's metrics.
EXPOSE 4317 4318 13133 8889 8888
ENTRYPOINT ["/otelcol-argus"]
# The feature gate lets health_check report the components' status
# (config.yaml's health_check section).
CMD ["--config=/etc/otelcol-argus/config.yaml", "--feature-gates=+extension.healthcheck.useComponentStatus"]
