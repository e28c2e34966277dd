# redisguard: every target the project needs, self-documented (`make help`).

GO            ?= go
# The Go modules of the repository: the core, and the adapters and the
# example serving /metrics, kept in modules of their own so that the core
# carries no OpenTelemetry or Prometheus dependency. `go test ./...` does
# not enter nested modules.
MODULES       ?= . extra/redisguardotel extra/redisguardprom examples/metrics
GOLANGCI_LINT_VERSION ?= v2.15.0
FUZZTIME      ?= 60s
# Fuzz targets run by `make fuzz`, as package:FuzzName.
FUZZ_TARGETS  ?= ./hooks:FuzzClassify ./profiles:FuzzFromEnv
BENCH_PKGS    ?= ./hooks/... ./batch/... ./internal/pairbench
LOADTEST_FLAGS ?=
# Flags for internal/compat, e.g. COMPAT_FLAGS='-focus "Tx" -run TestX -keep'.
COMPAT_FLAGS  ?=

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: deps
deps: ## Install redis-server and redis-cli (Debian packages) when missing.
	@if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then \
		echo "deps: $$(redis-server --version | cut -d' ' -f1-3)"; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
		echo "deps: installing redis-server and redis-cli with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null && \
		redis-server --version; \
	else \
		echo "deps: redis-server and redis-cli are missing."; \
		echo "      Install them as root with: apt-get update && apt-get install -y redis-server"; \
		echo "      (or your platform's redis package), then run make again."; \
		exit 1; \
	fi

.PHONY: test
test: deps ## go vet, then every test with -race against real redis-server processes, in every module.
	@set -e; for m in $(MODULES); do \
		echo "test: $$m"; \
		(cd $$m && $(GO) vet ./... && $(GO) test -race -count=1 -timeout 15m ./...); \
	done

.PHONY: cover
cover: deps ## Tests with a coverage profile (coverage.out) and a per-function summary.
	$(GO) test -race -count=1 -timeout 15m -coverprofile=coverage.out -covermode=atomic ./...
	$(GO) tool cover -func=coverage.out | tail -1

.PHONY: bench
bench: deps ## Microbenchmarks (-benchmem; the extra modules: metrics off vs on), then the load scenarios bare vs guarded (LOADTEST_FLAGS=-json adds JSON lines).
	@set -e; for m in $(filter extra/%,$(MODULES)); do (cd $$m && $(GO) test -run '^$$' -bench . -benchmem -count=1 ./...); done
	$(GO) test -run '^$$' -bench . -benchmem -count=1 $(BENCH_PKGS)
	$(GO) run ./internal/loadtest $(LOADTEST_FLAGS)

.PHONY: compat
compat: deps ## go-redis's own test suite bare and with the API preset on every client; lists failures only with the hooks (docs/compat.md).
	$(GO) run ./internal/compat $(COMPAT_FLAGS)

.PHONY: fuzz
fuzz: deps ## Run each fuzz target for FUZZTIME (default 60s).
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		if $(GO) test -list "^$$name$$" $$pkg 2>/dev/null | grep -qx "$$name"; then \
			echo "fuzz: $$name in $$pkg for $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) $$pkg; \
		else \
			echo "fuzz: $$name not found in $$pkg"; exit 1; \
		fi; \
	done

.PHONY: lint
lint: ## gofmt check, go vet and golangci-lint (installed at a pinned version when missing) in every module, then the api and sizes targets.
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	@export PATH="$$($(GO) env GOPATH)/bin:$$PATH"; \
	command -v golangci-lint >/dev/null 2>&1 || \
		$(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION); \
	set -e; for m in $(MODULES); do \
		echo "lint: $$m"; \
		(cd $$m && $(GO) vet ./... && golangci-lint run ./...); \
	done
	@$(MAKE) --no-print-directory api sizes

.PHONY: api
api: ## Count the exported names per package against the targets (total 150, hooks 50).
	$(GO) run ./internal/apicount -max-total 150 -max hooks=50

.PHONY: sizes
sizes: ## No non-test Go file over 500 lines (the command table's data excepted), no function over 80 lines, in every module.
	$(GO) run ./internal/sizecheck -exempt hooks/commands_table.go

.PHONY: tidy
tidy: ## go mod tidy, in every module.
	@set -e; for m in $(MODULES); do (cd $$m && $(GO) mod tidy); done
