# syntax=docker/dockerfile:1
#
# The fleetscale-controller image: a static Go binary on distroless, running as the distroless
# "nonroot" user (65532), which the Helm chart's securityContext expects.
#
# NOTE: no image has been built from this file where fleetscale is developed: that machine has
# no Docker engine (or any other image builder). The build steps are checked there by building
# the same package from the same subset of the tree that .dockerignore sends as context.
#
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     -t ghcr.io/fleetscale/fleetscale-controller:0.1.0 .

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS builder
ARG TARGETOS=linux
ARG TARGETARCH=amd64
WORKDIR /src
# Modules first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY api/ api/
COPY cmd/ cmd/
COPY internal/ internal/
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags="-s -w" -o /out/fleetscale-controller ./cmd/fleetscale-controller

FROM gcr.io/distroless/static:nonroot
LABEL org.opencontainers.image.source="https://github.com/fleetscale/fleetscale" \
      org.opencontainers.image.description="fleetscale hub controller: multi-cluster autoscaling" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder /out/fleetscale-controller /fleetscale-controller
USER 65532:65532
ENTRYPOINT ["/fleetscale-controller"]
