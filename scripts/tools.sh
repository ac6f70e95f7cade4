#!/usr/bin/env bash
# Prints the path of a terraform-compatible binary, installing OpenTofu from
# source when none is available. Progress goes to stderr so callers can use
#   TFPR_TERRAFORM_BIN="$(scripts/tools.sh)"
# Only the path is printed on stdout.
#
# Lookup order (the same one the tests use):
#   1. $TFPR_TERRAFORM_BIN, when it points at an executable
#   2. terraform on PATH
#   3. tofu on PATH
#   4. the cached build at $HOME/.cache/tfpr/bin/tofu
#   5. build OpenTofu $TOFU_VERSION from the Go module proxy into that cache
#
# The build needs only Go: the source comes through the module proxy, so no
# release download or package manager is involved. The cache lives outside the
# repository so fresh clones reuse it.
set -euo pipefail

TOFU_VERSION="${TOFU_VERSION:-v1.12.6}"
CACHE_BIN="${HOME}/.cache/tfpr/bin"
TOFU="${CACHE_BIN}/tofu"

log() { printf 'tools.sh: %s\n' "$*" >&2; }

# verify runs the candidate's version command so a broken or foreign binary is
# caught here rather than halfway through the test run.
verify() {
	local bin="$1" out
	if ! out="$("$bin" version 2>&1)"; then
		log "$bin does not run: $out"
		return 1
	fi
	# Terraform prints CLI-config warnings before the version line.
	local line
	line="$(printf '%s\n' "$out" | grep -m 1 -E '^(Terraform|OpenTofu) v' || printf '%s\n' "$out" | head -n 1)"
	log "using ${line} at ${bin}"
}

emit() {
	verify "$1" || exit 1
	printf '%s\n' "$1"
	exit 0
}

if [[ -n "${TFPR_TERRAFORM_BIN:-}" ]]; then
	if [[ -x "${TFPR_TERRAFORM_BIN}" ]]; then
		emit "${TFPR_TERRAFORM_BIN}"
	fi
	log "TFPR_TERRAFORM_BIN=${TFPR_TERRAFORM_BIN} is not executable; looking elsewhere"
fi

for name in terraform tofu; do
	if found="$(command -v "$name" 2>/dev/null)"; then
		emit "$found"
	fi
done

if [[ -x "$TOFU" ]]; then
	emit "$TOFU"
fi

command -v go >/dev/null 2>&1 || { log "go is required to build OpenTofu"; exit 1; }

log "no terraform or tofu found; building OpenTofu ${TOFU_VERSION} (takes several minutes)"

# Download outside any module so the repository's go.mod and go.sum stay
# untouched.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
log "downloading github.com/opentofu/opentofu@${TOFU_VERSION}"
meta="$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "github.com/opentofu/opentofu@${TOFU_VERSION}")" || {
	log "go mod download failed: ${meta:-no output}"
	exit 1
}
# go mod download -json prints an indented object with one field per line.
dir="$(printf '%s\n' "$meta" | sed -n 's/^[[:space:]]*"Dir":[[:space:]]*"\(.*\)",\{0,1\}[[:space:]]*$/\1/p' | head -n 1)"
if [[ -z "$dir" || ! -d "$dir" ]]; then
	log "could not find the module directory in: $meta"
	exit 1
fi

mkdir -p "$CACHE_BIN"
tmp="${CACHE_BIN}/.tofu.$$"
# The module cache is read-only, so the binary is written outside it; the
# temporary name plus mv keeps a half-written binary from ever being found.
log "building ${dir}/cmd/tofu"
# version.dev=no is what OpenTofu's release build sets; without it the binary
# calls itself a -dev prerelease.
ldflags="-s -w -X github.com/opentofu/opentofu/version.dev=no"
if ! (cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath -ldflags "$ldflags" -o "$tmp" ./cmd/tofu); then
	rm -f "$tmp"
	log "building OpenTofu failed"
	exit 1
fi
mv -f "$tmp" "$TOFU"
emit "$TOFU"
