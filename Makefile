# Gatehouse. `make run` starts a development gateway; `make test` runs every test.

GO      ?= go
# The toolchain every build and test uses: the machine's own Go fetches it
# from the module proxy the first time (go.mod needs 1.27).
export GOTOOLCHAIN ?= go1.27.3
MODULE  := github.com/gatehouse-gw/gatehouse
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo devel)
LDFLAGS := -X $(MODULE)/cmd/gatehouse/cli.version=$(VERSION)

# The MinIO community server is archived upstream; this is the pinned build
# used for development and tests. Production points at any S3-compatible
# store with versioning and Object Lock.
MINIO_MODULE  := github.com/minio/minio
MINIO_VERSION := v0.0.0-20260212201848-7aac2a2c5b7c

# Mailpit catches the alerts' e-mail in development and tests: a real SMTP
# server (STARTTLS) with a web UI and an HTTP API.
MAILPIT_MODULE  := github.com/axllent/mailpit
MAILPIT_VERSION := v1.33.1

.PHONY: all run test bench load tls-scan build vet fmt-check lint vuln postgres peers chromium screens clean FORCE

all: build

build: bin/gatehouse

bin/gatehouse: FORCE
	$(GO) build -ldflags "$(LDFLAGS)" -o $@ ./cmd/gatehouse

# The second real S3 store the object-store contract and the Object Lock
# tests run against: the Versity S3 gateway (maintained; posix backend with
# versioning and Object Lock).
VERSITYGW_MODULE  := github.com/versity/versitygw
VERSITYGW_VERSION := v1.8.0

bin/versitygw:
	@echo "installing the pinned Versity S3 gateway into bin/ (takes a few minutes the first time)"
	GOBIN=$(CURDIR)/bin $(GO) install $(VERSITYGW_MODULE)/cmd/versitygw@$(VERSITYGW_VERSION)

bin/minio:
	@echo "installing the pinned MinIO server into bin/ (takes a few minutes the first time)"
	GOBIN=$(CURDIR)/bin $(GO) install $(MINIO_MODULE)@$(MINIO_VERSION)

bin/mailpit:
	@echo "installing Mailpit into bin/"
	GOBIN=$(CURDIR)/bin $(GO) install $(MAILPIT_MODULE)@$(MAILPIT_VERSION)

## run: a development gateway on https://127.0.0.1:8443 with MinIO, SQLite, Mailpit, the demo parties, and the console on https://127.0.0.1:8444/console signing in with a development identity provider
run: bin/minio bin/mailpit bin/gatehouse
	bin/gatehouse dev --dir var --minio bin/minio --mailpit bin/mailpit

## test: every test, against a real MinIO and Versity S3 gateway, SQLite, PostgreSQL, Mailpit and headless Chromium
test: bin/minio bin/versitygw bin/mailpit postgres chromium interop/node_modules clients/js/node_modules
	$(GO) test -race -count=1 -timeout 20m ./...
	@echo "the Object Lock and retention tests again, against the Versity S3 gateway"
	GATEHOUSE_TEST_S3=versitygw $(GO) test -race -count=1 -timeout 10m ./e2e -run '$(OBJECT_LOCK_TESTS)'
	@# The decision's property test decides its full million without -race.
	$(GO) test -count=1 -run '^TestDecideInvariants$$' ./agreements

# The end-to-end tests that rely on the store's versioning and Object Lock,
# run against both real S3 servers (the object-store contract test in
# store/objectstore runs against both on its own).
OBJECT_LOCK_TESTS := ^(TestRetentionDeletesPayloadsAndKeepsTheRecord|TestOrphansAreDeletedOrReported|TestFailedUploadUnderComplianceLockIsReported|TestAuditChainFindsTampering|TestAuditUnrecordedSegments|TestMultipartUploadAbortsCleanly)$$

# Independent implementations of the wire format (panva/jose, WebCrypto),
# the OpenAPI tools (Redocly, openapi-typescript) and axe-core for the
# console's accessibility checks, pinned by the lock file.
interop/node_modules: interop/package.json interop/package-lock.json
	cd interop && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The reference JavaScript partner client, tested against a real gateway.
clients/js/node_modules: clients/js/package.json clients/js/package-lock.json
	cd clients/js && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

## bench: the performance targets of docs/design.md §11, as ratios against baselines measured in the same run, and P3 against the peers a council would use instead (gpg + sftp, an nginx TLS proxy; PEERS=no skips them)
bench: bin/minio postgres $(if $(filter no,$(PEERS)),,peers)
	$(GO) run ./bench $(if $(ONLY),-only $(ONLY)) $(if $(filter no,$(PEERS)),-no-peers)

# The peers P3 is compared with (gpg + sftp to OpenSSH, an nginx TLS proxy):
# installed from Debian's packages if missing; PEERS=no skips them.
peers:
	@scripts/ensure-peers.sh

## load: an open-loop mix (vegeta) of declarations, refusals, uploads, envelope and payload fetches over mTLS at RATE/s (40) for DURATION (60s); checks the audit record afterwards
load: bin/minio
	$(GO) run ./bench -open-load $(if $(RATE),-rate $(RATE)) $(if $(DURATION),-duration $(DURATION))

## tls-scan: scan both listeners of a development gateway with sslscan
tls-scan: bin/minio bin/gatehouse
	scripts/tls-scan.sh

postgres:
	@scripts/ensure-postgres.sh

## screens: screenshots of the console's journeys for reviewers, in var/screens/
screens: bin/minio postgres chromium interop/node_modules
	GATEHOUSE_SCREENS=$(CURDIR)/var/screens $(GO) test -count=1 -run 'TestConsoleScreens$$' ./e2e
	@ls var/screens

# Debian's chromium, for the console's browser tests (e2e TestConsole*).
chromium:
	@scripts/ensure-chromium.sh

vet:
	$(GO) vet ./...

## lint: staticcheck (pinned by the tool line in go.mod)
lint:
	$(GO) tool staticcheck ./...

# The Go vulnerability database, built offline from the OSV entries of
# golang.org/x/vulndb (fetched through the module proxy, like any module)
# and cached under bin/: move VULNDB_VERSION on to take in newer entries.
VULNDB_VERSION := v0.0.0-20261105234957-e22db6528018
VULNDB         := bin/vulndb-$(VULNDB_VERSION)

$(VULNDB):
	@mkdir -p bin
	$(GO) mod download golang.org/x/vulndb@$(VULNDB_VERSION)
	$(GO) run ./scripts/vulndb -osv "$$($(GO) env GOMODCACHE)/golang.org/x/vulndb@$(VULNDB_VERSION)/data/osv" -out $@

## vuln: govulncheck (pinned by the tool line in go.mod) against that database; fails only if a vulnerable symbol is called
vuln: $(VULNDB)
	$(GO) tool govulncheck -db file://$(CURDIR)/$(VULNDB) ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

clean:
	rm -rf bin/gatehouse bench/out
