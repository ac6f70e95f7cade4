# tfpr: `make test` is what CI and people run; `make tools` provides terraform.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
TERRAFORM = $$(scripts/tools.sh)

.PHONY: all build tools test test-short bench vet fmt clean

all: build

COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
DATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)

build:
	$(GO) build -ldflags "-X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)" -o bin/tfpr ./cmd/tfpr

# Prints nothing but makes sure a terraform (or OpenTofu) binary exists:
# terraform from PATH, else OpenTofu built from source and cached in ~/.cache/tfpr.
tools:
	@scripts/tools.sh >/dev/null

vet:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi

test: tools vet
	$(GO) run ./cmd/tfpr policy test
	TFPR_TERRAFORM_BIN="$(TERRAFORM)" $(GO) test -race -count=1 -timeout 20m ./...
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 20s ./internal/policy/

test-short: tools
	TFPR_TERRAFORM_BIN="$(TERRAFORM)" $(GO) test -count=1 -short ./...

# Prints the speed and memory figures: webhook ack latency, lint throughput,
# project scan, webhook-to-plan-comment overhead, parallel plans, idle RSS.
bench: tools build
	TFPR_TERRAFORM_BIN="$(TERRAFORM)" scripts/bench.sh

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin .tfpr
