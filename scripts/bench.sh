#!/usr/bin/env bash
# Prints tfpr's speed and memory figures, one line each, then a summary with
# the targets. `make bench` runs it after `make build` with TFPR_TERRAFORM_BIN
# set. Every figure comes from a Go benchmark (b.ReportMetric) or is measured
# here; nothing is timed by a test.
#
#   webhook ack latency     BenchmarkWebhookAck (internal/e2e), full server;
#                           BenchmarkWebhookAckWhilePlanning, while 20 plans run
#   /metrics, /readyz cost  BenchmarkMetricsScrape, BenchmarkReadyzProbe (internal/server)
#   plan overhead           BenchmarkPlanOverhead: webhook to plan comment minus terraform
#                           (checkouts on /dev/shm when it exists, as deployed)
#   20-project plan         BenchmarkParallelPlan20
#   merge queue latency     BenchmarkMergeQueue50
#   worker start            bin/tfpr-worker (and bin/tfpr worker) -h: wall, CPU, peak RSS
#   RSS                     tfpr-bench idle-rss (bin/tfpr idle) and BenchmarkQueuedRSS
#   micro-benchmarks        webhook, internal/store, internal/policy, internal/project,
#                           internal/workspace
#   lint vs conftest        bin/tfpr lint and conftest on the same 5,000 files,
#                           and on the fabric-shaped corpus (BenchmarkLintFabric)
#
# Missed targets are reported, not fatal; the exit status is 1 only when a
# measurement could not be made. Settings: TFPR_BIN (default bin/tfpr),
# CONFTEST_VERSION, BENCH_LINT_RUNS.
set -uo pipefail

cd "$(dirname "$0")/.."
repo="$PWD"
GO="${GO:-go}"
BIN="${TFPR_BIN:-bin/tfpr}"
CONFTEST_VERSION="${CONFTEST_VERSION:-v0.71.1}"
LINT_RUNS="${BENCH_LINT_RUNS:-3}"
CACHE_BIN="${HOME}/.cache/tfpr/bin"

if [[ -z "${TFPR_TERRAFORM_BIN:-}" || ! -x "${TFPR_TERRAFORM_BIN}" ]]; then
	echo "bench.sh: TFPR_TERRAFORM_BIN must name a terraform binary (make bench sets it)" >&2
	exit 2
fi
if [[ ! -x "$BIN" ]]; then
	echo "bench.sh: $BIN not found; run make build first (make bench does)" >&2
	exit 2
fi
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failed=0
summary=()
cores="$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)"

section() { printf '\n== %s\n' "$*"; }
note() { printf '   note: %s\n' "$*"; }

# record NAME VALUE UNIT [OP TARGET]: print one figure and keep it, with its
# target and verdict, for the summary. OP is < or >. With RECORD_QUIET=1
# the figure only goes to the summary.
record() {
	local name="$1" value="$2" unit="$3" op="${4:-}" target="${5:-}" verdict="" want="-"
	if [[ -z "$value" ]]; then
		fail "$name (no figure in the benchmark output)"
		return
	fi
	[[ -n "${RECORD_QUIET:-}" ]] || printf '%s: %s %s\n' "$name" "$value" "$unit"
	if [[ -n "$op" ]]; then
		want="$op $target $unit"
		if awk -v v="$value" -v t="$target" -v op="$op" 'BEGIN { exit !((op == "<" && v < t) || (op == ">" && v > t)) }'; then
			verdict="met"
		else
			verdict="MISSED"
		fi
	fi
	summary+=("$(printf '%-54s %9s %-7s %-10s %s' "$name" "$value" "$unit" "$want" "$verdict")")
}

fail() {
	failed=1
	printf '   FAILED: %s\n' "$*"
	summary+=("$(printf '%-54s %9s' "$1" "failed")")
}

# metric FILE BENCH UNIT: the value reported with UNIT on the result line of
# benchmark BENCH (name without the -GOMAXPROCS suffix), rounded for reading.
metric() {
	awk -v name="$2" -v unit="$3" '
		$1 ~ /^Benchmark/ {
			n = $1; sub(/-[0-9]+$/, "", n)
			if (n != name) next
			for (i = 3; i < NF; i++) if ($(i + 1) == unit) { v = $i }
		}
		END {
			if (v == "") exit 1
			if (v + 0 == int(v + 0)) printf "%d\n", v; else if (v + 0 >= 100) printf "%.0f\n", v; else if (v + 0 >= 10) printf "%.1f\n", v; else printf "%.2f\n", v
		}' "$1"
}

# phases FILE BENCH WHAT: the mean time of each run phase tfpr timed
# itself (tfpr_run_phase_seconds) during benchmark BENCH, one line each.
phases() {
	local p v
	for p in token fetch checkout scan lint bundle worker_start init plan show report; do
		v="$(metric "$1" "$2" "phase-$p-ms" 2>/dev/null)" || continue
		record "  $3 phase: $p (mean)" "$v" ms
	done
}

# e2e BENCH BENCHTIME: run one benchmark of the compiled e2e test binary,
# output in $work/BENCH.out.
e2e() {
	local out="$work/$1.out"
	(cd internal/e2e && TFPR_BIN="$BIN" "$work/e2e.test" -test.run '^$' -test.bench "^$1\$" \
		-test.benchtime "$2" -test.timeout 20m) >"$out" 2>&1
	local rc=$?
	if [[ $rc -ne 0 ]] || ! grep -q '^Benchmark' "$out"; then
		tail -n 40 "$out" | sed 's/^/   | /'
		return 1
	fi
}

# mib BYTES: BYTES in MiB, one decimal.
mib() { awk -v b="$1" 'BEGIN { printf "%.1f\n", b / 1048576 }'; }

# now: wall clock in seconds with microseconds.
now() { printf '%s\n' "$EPOCHREALTIME"; }

echo "tfpr bench: $cores cores, $("$BIN" version), $("$TFPR_TERRAFORM_BIN" version 2>/dev/null | head -n 1)"

section "end-to-end benchmarks (internal/e2e: real server, SQLite, git, terraform; fake GitHub and GCS)"
if ! "$GO" test -c -o "$work/e2e.test" ./internal/e2e >"$work/build.out" 2>&1; then
	sed 's/^/   | /' "$work/build.out"
	fail "internal/e2e benchmarks (build)"
else
	if e2e BenchmarkWebhookAck 3s; then
		f="$work/BenchmarkWebhookAck.out"
		record "webhook ack p50 (8 senders)" "$(metric "$f" BenchmarkWebhookAck/senders=8 p50-ms)" ms
		record "webhook ack p99 (8 senders)" "$(metric "$f" BenchmarkWebhookAck/senders=8 p99-ms)" ms "<" 5
		record "webhook ack allocations (sender and server)" "$(metric "$f" BenchmarkWebhookAck/senders=8 allocs/op)" allocs
		record "webhook ack bytes allocated (sender and server)" "$(metric "$f" BenchmarkWebhookAck/senders=8 B/op)" B
	else
		fail "webhook ack latency"
	fi

	if e2e BenchmarkWebhookAckWhilePlanning 2s; then
		f="$work/BenchmarkWebhookAckWhilePlanning.out"
		record "webhook ack p50 (8 senders, 20 plans running)" "$(metric "$f" BenchmarkWebhookAckWhilePlanning/senders=8,plans=20 p50-ms)" ms
		record "webhook ack p99 (8 senders, 20 plans running)" "$(metric "$f" BenchmarkWebhookAckWhilePlanning/senders=8,plans=20 p99-ms)" ms "<" 50
	else
		fail "webhook ack latency while planning"
	fi

	if e2e BenchmarkPlanOverhead 7x; then
		f="$work/BenchmarkPlanOverhead.out"
		record "webhook to plan comment, total (median)" "$(metric "$f" BenchmarkPlanOverhead total-ms)" ms
		record "  terraform's own time" "$(metric "$f" BenchmarkPlanOverhead terraform-ms)" ms
		record "  tfpr overhead" "$(metric "$f" BenchmarkPlanOverhead overhead-ms)" ms "<" 100
		record "    webhook to first terraform call" "$(metric "$f" BenchmarkPlanOverhead before-tf-ms)" ms "<" 50
		record "    after terraform (save plan, report)" "$(metric "$f" BenchmarkPlanOverhead after-tf-ms)" ms
		record "  terraform processes per plan, version included" "$(metric "$f" BenchmarkPlanOverhead tf-invocations)" procs "<" 4
		phases "$f" BenchmarkPlanOverhead "one-project plan"
		note "the overhead includes $(metric "$f" BenchmarkPlanOverhead wrapper-ms) ms of the timing wrapper itself ($(metric "$f" BenchmarkPlanOverhead tf-invocations) terraform invocations)"
		[[ -d /dev/shm ]] && note "checkouts on a tmpfs (/dev/shm), as deploy/ mounts one for them"
	else
		fail "plan overhead"
	fi

	if e2e BenchmarkParallelPlan20 3x; then
		f="$work/BenchmarkParallelPlan20.out"
		# Goal: under 0.6 x Atlantis's 12.2 s on the same PR.
		record "20-project plan: wall time" "$(metric "$f" BenchmarkParallelPlan20 wall-ms)" ms "<" 7320
		record "20-project plan: sum of terraform time" "$(metric "$f" BenchmarkParallelPlan20 terraform-sum-ms)" ms
		phases "$f" BenchmarkParallelPlan20 "20-project plan"
		record "20-project plan: sum/wall ($(metric "$f" BenchmarkParallelPlan20 cores) cores, parallelism $(metric "$f" BenchmarkParallelPlan20 tfpr-parallelism))" \
			"$(metric "$f" BenchmarkParallelPlan20 parallelism)" x
	else
		fail "20-project parallel plan"
	fi

	if e2e BenchmarkMergeQueue50 2x; then
		f="$work/BenchmarkMergeQueue50.out"
		note "applies of 50 projects after one merge, TFPR_PARALLELISM $(metric "$f" BenchmarkMergeQueue50 tfpr-parallelism); times from the merge webhook"
		record "merge of 50 projects: first apply starts" "$(metric "$f" BenchmarkMergeQueue50 first-apply-ms)" ms
		record "merge of 50 projects: apply start p50" "$(metric "$f" BenchmarkMergeQueue50 p50-ms)" ms
		record "merge of 50 projects: apply start p99" "$(metric "$f" BenchmarkMergeQueue50 p99-ms)" ms
	else
		fail "merge queue latency"
	fi
fi

section "worker start (every run: bin/tfpr-worker; bin/tfpr worker is the fallback)"
# startcost EXE: wall and CPU ms per start of `EXE worker -h` (mean of 40
# in one loop, for resolution), then its peak RSS in MiB (median of 5).
startcost() {
	local w u s
	read -r w u s < <({ /usr/bin/time -f "%e %U %S" sh -c 'for i in $(seq 40); do "$0" worker -h >/dev/null 2>&1; done' "$1"; } 2>&1 | tail -n 1)
	awk -v w="$w" -v u="$u" -v s="$s" 'BEGIN { printf "%.1f %.1f ", w * 1000 / 40, (u + s) * 1000 / 40 }'
	for _ in 1 2 3 4 5; do /usr/bin/time -f "%M" "$1" worker -h 2>&1 >/dev/null | tail -n 1; done | sort -n | awk 'NR == 3 { printf "%.1f\n", $1 / 1024 }'
}
worker="$(dirname "$BIN")/tfpr-worker"
if [[ ! -x /usr/bin/time ]]; then
	fail "worker start (needs GNU time in /usr/bin/time)"
elif [[ ! -x "$worker" ]]; then
	fail "worker start ($worker not found; make build builds it)"
else
	read -r w c m < <(startcost "$worker")
	record "tfpr-worker start: wall" "$w" ms
	record "tfpr-worker start: CPU" "$c" ms
	record "tfpr-worker start: peak RSS" "$m" MiB
	read -r w c m < <(startcost "$BIN")
	note "tfpr worker (the fallback) for comparison: wall $w ms, CPU $c ms, peak RSS $m MiB"
fi

# installed SRC DST: copy an executable as an install would. The linker
# writes its output so that the page cache holds it in large folios, and a
# touched folio counts whole in RSS: an idle tfpr run straight from the
# build measured about 20 MiB more than the same file copied, or read back
# from disk (what an image gives).
installed() { cp "$1" "$2.tmp" && chmod 755 "$2.tmp" && mv "$2.tmp" "$2"; }

# floor_rss: RSS, anonymous and file-backed bytes of a program that links
# every package cmd/tfpr links from other modules (OPA, client-go, go-github,
# the GCS client, SQLite...), runs their inits and sleeps. tfpr's idle RSS
# cannot go below it while it links them; what is above it is tfpr's own.
floor_rss() {
	local dir="$repo/.benchfloor" pid m
	rm -rf "$dir" && mkdir -p "$dir" || return 1
	{
		printf 'package main\n\nimport (\n\t"time"\n\n'
		"$GO" list -deps ./cmd/tfpr | grep -E '^[a-z0-9-]+\.[a-z]+/' | grep -v '^github.com/tfpr/tfpr' |
			grep -vE '(^|/)(internal|vendor)(/|$)' | sed 's/.*/\t_ "&"/'
		printf ')\n\nfunc main() { time.Sleep(time.Hour) }\n'
	} >"$dir/main.go"
	if ! "$GO" build -o "$work/floor.built" ./.benchfloor >"$work/floor.out" 2>&1 || ! installed "$work/floor.built" "$work/floor"; then
		sed 's/^/   | /' "$work/floor.out" >&2
		rm -rf "$dir"
		return 1
	fi
	rm -rf "$dir"
	"$work/floor" &
	pid=$!
	sleep 3
	m="$(awk '$1 == "VmRSS:" { r = $2 } $1 == "RssAnon:" { a = $2 } $1 == "RssFile:" { f = $2 } END { print r * 1024, a * 1024, f * 1024 }' "/proc/$pid/status")"
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	printf '%s\n' "$m"
}

section "memory (bin/tfpr server)"
if "$GO" build -o "$work/tfpr-bench" ./internal/bench/cmd/tfpr-bench >"$work/helper.out" 2>&1; then
	mkdir -p "$work/installed"
	installed "$BIN" "$work/installed/tfpr" && installed "$(dirname "$BIN")/tfpr-worker" "$work/installed/tfpr-worker"
	if read -r rss anon file < <("$work/tfpr-bench" idle-rss -bin "$work/installed/tfpr" -settle 3s 2>"$work/idle.err"); then
		record "idle RSS" "$(mib "$rss")" MiB "<" 30
		note "of which $(mib "$anon") MiB anonymous (heap, stacks) and $(mib "$file") MiB pages of the executable"
	else
		sed 's/^/   | /' "$work/idle.err"
		fail "idle RSS"
	fi
	if floor="$(floor_rss)"; then
		read -r rss anon file <<<"$floor"
		record "  floor: tfpr's dependencies linked, idle" "$(mib "$rss")" MiB
		note "a program that links every package tfpr links from other modules and sleeps: $(mib "$anon") MiB anonymous, $(mib "$file") MiB of its executable"
	else
		fail "idle RSS floor"
	fi
else
	sed 's/^/   | /' "$work/helper.out"
	fail "idle RSS (tfpr-bench build)"
fi
if [[ -x "$work/e2e.test" ]] && e2e BenchmarkQueuedRSS 1x; then
	f="$work/BenchmarkQueuedRSS.out"
	record "RSS, 100 applies queued (TFPR_PARALLELISM=1)" "$(metric "$f" BenchmarkQueuedRSS queued-MiB)" MiB
	note "same process before the merge: $(metric "$f" BenchmarkQueuedRSS idle-MiB) MiB; anonymous while queued: $(metric "$f" BenchmarkQueuedRSS queued-anon-MiB) MiB"
else
	fail "RSS with 100 queued runs"
fi

section "micro-benchmarks (webhook, internal/store, internal/policy, internal/project, internal/workspace)"
if "$GO" test -run '^$' -bench . -benchmem ./webhook/ ./internal/store/ ./internal/policy/ ./internal/project/ ./internal/workspace/ >"$work/micro.out" 2>&1; then
	awk '$1 ~ /^Benchmark/ {
		n = $1; sub(/-[0-9]+$/, "", n); line = ""
		for (i = 3; i < NF; i += 2) line = line (line == "" ? "" : ", ") $i " " $(i + 1)
		print n ": " line
	}' "$work/micro.out"
	f="$work/micro.out"
	RECORD_QUIET=1
	record "BenchmarkLint cold (5,000 files)" "$(metric "$f" BenchmarkLint/cold files/s)" files/s
	record "BenchmarkLint warm (5,000 files)" "$(metric "$f" BenchmarkLint/warm files/s)" files/s
	ack_ns="$(metric "$f" BenchmarkAckDelivery ns/op)"
	record "BenchmarkAckDelivery (the store's share of an ack)" "$(awk -v n="$ack_ns" 'BEGIN { printf "%.1f\n", n / 1e3 }')" µs
	for v in cold remembered; do
		scan_ns="$(metric "$f" "BenchmarkScan/$v" ns/op)"
		record "BenchmarkScan (1,000 projects, $v)" "$(awk -v n="$scan_ns" 'BEGIN { printf "%.1f\n", n / 1e6 }')" ms
	done
	for v in projects=20 projects=1000 projects=1000,fs=tmpfs; do
		co_ns="$(metric "$f" "BenchmarkCheckout/$v" ns/op)"
		record "BenchmarkCheckout ($v, checkout and removal)" "$(awk -v n="$co_ns" 'BEGIN { printf "%.1f\n", n / 1e6 }')" ms
	done
	unset RECORD_QUIET
else
	tail -n 40 "$work/micro.out" | sed 's/^/   | /'
	fail "micro-benchmarks"
fi

section "operating cost: /metrics scrape and /readyz probe (internal/server)"
if "$GO" test -run '^$' -bench 'BenchmarkMetricsScrape|BenchmarkReadyzProbe' -benchtime 2000x -benchmem ./internal/server/ >"$work/ops.out" 2>&1; then
	f="$work/ops.out"
	scrape_ns="$(metric "$f" BenchmarkMetricsScrape ns/op)"
	record "/metrics scrape" "$(awk -v n="$scrape_ns" 'BEGIN { printf "%.2f\n", n / 1e6 }')" ms
	record "/metrics response" "$(metric "$f" BenchmarkMetricsScrape resp-bytes)" bytes
	record "/readyz probe (cached checks)" "$(metric "$f" BenchmarkReadyzProbe ns/op)" ns
else
	sed 's/^/   | /' "$work/ops.out" | tail -n 20
	fail "operating cost benchmarks"
fi

section "lint throughput: tfpr lint vs conftest, same corpus"
# median_time RUNS CMD...: run CMD in the corpus RUNS times, print the median
# wall time in seconds. Output goes to $work/last.out; a failing run stops.
median_time() {
	local runs="$1" times=() i start end
	shift
	for ((i = 0; i < runs; i++)); do
		start="$(now)"
		(cd "$corpus" && "$@") >"$work/last.out" 2>&1 || return 1
		end="$(now)"
		times+=("$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.6f\n", b - a }')")
	done
	printf '%s\n' "${times[@]}" | sort -n | awk '{ t[NR] = $1 } END { print t[int((NR + 1) / 2)] }'
}

corpus="$work/corpus"
if [[ ! -x "$work/tfpr-bench" ]] || ! files_line="$("$work/tfpr-bench" corpus "$corpus" 2>&1)"; then
	fail "lint corpus"
else
	files="${files_line%% files*}"
	echo "corpus: $files_line (the shape of BenchmarkLint's)"
	tfpr_files_s=""
	if t="$(median_time "$LINT_RUNS" "$BIN" lint .)"; then
		tfpr_files_s="$(awk -v n="$files" -v t="$t" 'BEGIN { printf "%.0f\n", n / t }')"
		record "tfpr lint (bin/tfpr, median of $LINT_RUNS)" "$tfpr_files_s" files/s
	else
		tail -n 20 "$work/last.out" | sed 's/^/   | /'
		fail "tfpr lint on the corpus"
	fi

	conftest="$CACHE_BIN/conftest"
	installed="$("$GO" version -m "$conftest" 2>/dev/null | awk '$1 == "mod" { print $3 }')"
	if [[ "$installed" != "$CONFTEST_VERSION" ]]; then
		echo "installing conftest $CONFTEST_VERSION into $CACHE_BIN (once; a few minutes)"
		mkdir -p "$CACHE_BIN"
		if ! (cd "$work" && GOBIN="$CACHE_BIN" "$GO" install "github.com/open-policy-agent/conftest@$CONFTEST_VERSION") >"$work/conftest-install.out" 2>&1; then
			tail -n 5 "$work/conftest-install.out" | sed 's/^/   | /'
			conftest=""
		fi
	fi
	if [[ -z "$conftest" || ! -x "$conftest" ]]; then
		note "conftest $CONFTEST_VERSION could not be installed from the Go module proxy; comparison skipped"
		summary+=("$(printf '%-54s %9s' "conftest comparison" "skipped")")
	else
		policy="$repo/internal/bench/conftest"
		violations="$repo/internal/bench/testdata/violations"
		# Both must catch the planted violations, or the race is meaningless.
		ct_fail="$(cd "$violations" && "$conftest" test --parser hcl2 --policy "$policy" --no-color . 2>&1 | awk '/tests,/ { for (i = 1; i < NF; i++) if ($(i + 1) ~ /^failures/) print $i }')"
		tf_deny="$(cd "$violations" && "$BIN" lint . 2>&1 >/dev/null | sed -n 's/.* \([0-9][0-9]*\) deny.*/\1/p')"
		if [[ "${ct_fail:-0}" -lt 12 || "${tf_deny:-0}" -lt 12 ]]; then
			note "the planted violations were not all caught (conftest ${ct_fail:-0} failures, tfpr ${tf_deny:-0} denies, want >= 12 each); comparison skipped"
			fail "conftest comparison"
		elif t="$(median_time "$LINT_RUNS" "$conftest" test --parser hcl2 --policy "$policy" --no-color .)" &&
			grep -q ' 0 failures' "$work/last.out"; then
			ct_files_s="$(awk -v n="$files" -v t="$t" 'BEGIN { printf "%.0f\n", n / t }')"
			note "both flag the planted violations (conftest $ct_fail failures, tfpr $tf_deny denies with file:line)"
			record "conftest $CONFTEST_VERSION (12 rules, median of $LINT_RUNS)" "$ct_files_s" files/s
			if [[ -n "$tfpr_files_s" ]]; then
				record "tfpr lint / conftest" "$(awk -v a="$tfpr_files_s" -v b="$ct_files_s" 'BEGIN { printf "%.2f\n", a / b }')" x
			fi
		else
			tail -n 20 "$work/last.out" | sed 's/^/   | /'
			fail "conftest on the corpus"
		fi
	fi
fi

section "tfpr lint on the fabric-shaped corpus (modules calling modules, every dir a project)"
# Wall, CPU and peak RSS of one run, median of LINT_RUNS by wall: on one
# core, on all cores, and conftest on the same files in the same minute.
fabric="$work/fabric"
# fabric_time LABEL CMD...: run CMD in the fabric corpus LINT_RUNS times;
# prints the median run's "wall user sys maxrss-KB".
fabric_time() {
	local runs=() i
	for ((i = 0; i < LINT_RUNS; i++)); do
		# tfpr lint exits 1: the OpenTofu files are denied, as in fabric.
		(cd "$fabric" && /usr/bin/time -f '%e %U %S %M' -o "$work/fabric.time" "$@" >/dev/null 2>&1)
		# GNU time puts "Command exited with non-zero status 1" first.
		runs+=("$(tail -n 1 "$work/fabric.time")")
	done
	printf '%s\n' "${runs[@]}" | sort -n | awk '{ r[NR] = $0 } END { print r[int((NR + 1) / 2)] }'
}
if [[ ! -x "$work/tfpr-bench" ]] || ! fabric_line="$("$work/tfpr-bench" fabric "$fabric" 2>&1)"; then
	fail "fabric-shaped corpus"
elif [[ ! -x /usr/bin/time ]]; then
	note "/usr/bin/time is missing; fabric-shaped lint figures skipped"
	summary+=("$(printf '%-54s %9s' "tfpr lint, fabric-shaped corpus" "skipped")")
else
	echo "corpus: $fabric_line"
	# tfpr lint runs bin/tfpr-lint only when both are one build of a clean
	# tree; otherwise it lints in tfpr itself, whose code pages add ~30 MiB.
	lean="$(dirname "$BIN")/tfpr-lint"
	if "$work/tfpr-bench" same-build "$lean" "$BIN"; then
		note "tfpr lint runs $lean (the same build)"
	else
		note "tfpr lint lints in $BIN itself: $lean is missing or another build (build from a clean tree to use it)"
	fi
	pin=()
	command -v taskset >/dev/null && pin=(taskset -c 0)
	read -r wall user sys kb < <(fabric_time "${pin[@]}" "$BIN" lint .)
	if ! [[ "${kb:-}" =~ ^[0-9]+$ && "${wall:-}" =~ ^[0-9.]+$ ]]; then
		fail "tfpr lint on the fabric-shaped corpus"
	else
		record "tfpr lint fabric-shaped: wall, 1 core (median of $LINT_RUNS)" "$wall" s
		record "tfpr lint fabric-shaped: CPU" "$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f\n", u + s }')" s
		record "tfpr lint fabric-shaped: peak RSS" "$(awk -v k="$kb" 'BEGIN { printf "%.0f\n", k / 1024 }')" MiB "<" 100
		read -r wall2 _ _ kb2 < <(fabric_time "$BIN" lint .)
		record "tfpr lint fabric-shaped: wall, $cores cores" "$wall2" s
		record "tfpr lint fabric-shaped: peak RSS, $cores cores" "$(awk -v k="$kb2" 'BEGIN { printf "%.0f\n", k / 1024 }')" MiB "<" 100
		if [[ -n "${conftest:-}" && -x "${conftest:-}" ]]; then
			read -r ct_wall _ _ ct_kb < <(fabric_time "$conftest" test --parser hcl2 --policy "$repo/internal/bench/conftest" --no-color .)
			record "conftest fabric-shaped: wall, $cores cores" "$ct_wall" s
			record "conftest fabric-shaped: peak RSS" "$(awk -v k="$ct_kb" 'BEGIN { printf "%.0f\n", k / 1024 }')" MiB
			record "tfpr lint fabric-shaped: conftest wall / tfpr wall" "$(awk -v a="$ct_wall" -v b="$wall2" 'BEGIN { printf "%.2f\n", a / b }')" x ">" 10
		fi
	fi
	# The same corpus through the Go benchmark: cold, no process start.
	if "$GO" test -run '^$' -bench '^BenchmarkLintFabric$' -benchtime 1x ./internal/lintcmd/ >"$work/fabric-bench.out" 2>&1; then
		f="$work/fabric-bench.out"
		record "BenchmarkLintFabric, 1 worker" "$(metric "$f" BenchmarkLintFabric/workers=1 files/s)" files/s
		record "BenchmarkLintFabric, 2 workers" "$(metric "$f" BenchmarkLintFabric/workers=2 files/s)" files/s
	else
		tail -n 20 "$work/fabric-bench.out" | sed 's/^/   | /'
		fail "BenchmarkLintFabric"
	fi
fi

printf '\n==== tfpr bench summary (%s cores, %d s) ====\n' "$cores" "$SECONDS"
printf '%-54s %9s %-7s %-10s %s\n' figure value unit target verdict
printf '%s\n' "${summary[@]}"
exit "$failed"
