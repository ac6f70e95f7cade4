# tfpr: `make test` is what CI and people run; `make tools` provides terraform.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
TERRAFORM = $$(scripts/tools.sh)

.PHONY: all build tools test test-short test-alerts test-browser bench vet fmt clean image

all: build

COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
DATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)

# bin/tfpr-worker is what every run starts; tfpr finds it beside itself and
# warns when the commits the two record (-buildvcs) differ. bin/tfpr-lint is
# `tfpr lint` without the server's dependencies: tfpr lint runs it when it is
# the same build.
build:
	$(GO) build -buildvcs=auto -ldflags "-X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)" -o bin/tfpr ./cmd/tfpr
	$(GO) build -buildvcs=auto -o bin/tfpr-worker ./cmd/tfpr-worker
	$(GO) build -buildvcs=auto -o bin/tfpr-lint ./cmd/tfpr-lint

# Prints nothing but makes sure a terraform (or OpenTofu) binary exists:
# terraform from PATH, else OpenTofu built from source and cached in ~/.cache/tfpr.
tools:
	@scripts/tools.sh >/dev/null

vet:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi

test: tools vet test-alerts
	$(GO) run ./cmd/tfpr policy test
	TFPR_TERRAFORM_BIN="$(TERRAFORM)" $(GO) test -race -count=1 -timeout 20m ./...
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 20s ./internal/policy/

# Alert rules: syntax, then their unit tests (promtool ships with Debian's
# prometheus package).
test-alerts:
	promtool check rules deploy/prometheus/alerts.yaml
	promtool test rules deploy/prometheus/alerts_test.yaml

# The runs page in headless Chromium (Debian's chromium): it lists a finished
# run and shows a running run's log lines arriving.
test-browser:
	$(GO) test -tags browser -count=1 -run Browser ./internal/runspage/

test-short: tools
	TFPR_TERRAFORM_BIN="$(TERRAFORM)" $(GO) test -count=1 -short ./...

# Prints the speed and memory figures: webhook ack latency, lint throughput,
# project scan, webhook-to-plan-comment overhead, parallel plans, idle RSS.
bench: tools build
	TFPR_TERRAFORM_BIN="$(TERRAFORM)" scripts/bench.sh

# The container image (see Dockerfile and README "Deploy").
IMAGE ?= tfpr:$(VERSION)
image:
	docker build --build-arg VERSION=$(VERSION) -t $(IMAGE) .

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin .tfpr
