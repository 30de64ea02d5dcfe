# Gatehouse: a static binary on a minimal base.
#   docker build -t gatehouse .
# The gateway runs as an unprivileged user; its configuration, PKI and keys
# are mounted read-only under /etc/gatehouse (see docker-compose.yml and
# docs/operations.md).

FROM golang:1.27 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=container
# SQLite is modernc.org/sqlite (pure Go): no cgo, a fully static binary.
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/gatehouse-gw/gatehouse/cmd/gatehouse/cli.version=${VERSION}" \
      -o /out/gatehouse ./cmd/gatehouse

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gatehouse /gatehouse
USER nonroot:nonroot
EXPOSE 8443 8444
ENTRYPOINT ["/gatehouse"]
CMD ["serve", "--config", "/etc/gatehouse/gatehouse.yaml"]
