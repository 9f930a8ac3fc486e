#!/usr/bin/env bash
# tools/bench/bench.sh: `make bench` (issue 8). In one go, on one Node (the project's pinned one unless
# BENCH_NODE=/path/to/node), BENCH_RUNS runs each (default 5) after one untimed warm-up, medians of:
#   1. full synth        the app binary (built once into .build/h2o-app) run directly, with cdk.json's context in
#                        CDK_CONTEXT_JSON (as the CLI passes it) and CDK_OUTDIR a temp dir
#   2. one-stage synth   the same plus "stage": "dev" (the CI stack and the dev Stage)
#   3. floor             tools/bench/floor: one stack, one trivial resource, same context
#   4. cdk synth (CLI)   `cdk synth --quiet -o <tmp>` through node_modules/.bin/cdk; cdk.json's app command finds
#                        the cached binary up to date (`go build` relinks nothing)
#   5. go test warm      `go test -count=1 ./...` after one `go test ./...` that warms the build cache
# then the ratios against the targets of issue 8 (reported, never failing the run), the CLI's overhead, and one
# extra run of 1-3 with the CDK's performance counters: where the synth time went, phase by phase.
# Nothing here writes into cdk.out or the source tree; binaries go to .build/.
set -euo pipefail
# shellcheck source=tools/bench/lib.sh
source "$(dirname "$0")/lib.sh"

echo "== make bench: $RUNS runs each, medians"
machine
LOAD_BEFORE=$(awk '{ print $1 }' /proc/loadavg)

echo "-- building the app and the floor once"
mkdir -p .build/bench
go build -o .build/h2o-app .
go build -o .build/bench/floor ./tools/bench/floor

FULL_CTX=$(ctx_json)
STAGE_CTX=$(ctx_json 'stage="dev"')

echo "-- synth (binary run directly, CDK_OUTDIR in $WORK)"
export CDK_OUTDIR="$WORK/full.out"
CDK_CONTEXT_JSON=$FULL_CTX measure "full synth" .build/h2o-app
export CDK_OUTDIR="$WORK/stage.out"
CDK_CONTEXT_JSON=$STAGE_CTX measure "one-stage synth (stage=dev)" .build/h2o-app
export CDK_OUTDIR="$WORK/floor.out"
CDK_CONTEXT_JSON=$FULL_CTX measure "floor (one stack, one resource)" .build/bench/floor
unset CDK_OUTDIR

echo "-- cdk synth through the CLI ($(cdk --version | awk '{ print $1 }'))"
measure "cdk synth --quiet (CLI)" cdk synth --quiet -o "$WORK/cli.out"
# Two parts of the CLI's overhead on their own: its start-up, and cdk.json's `go build` finding nothing to do.
measure "  CLI start-up (cdk --version)" cdk --version
measure "  no-op go build (cdk.json app)" go build -o .build/h2o-app .

echo "-- go test ./... (warming the build cache first)"
go test ./... >"$WORK/go-test-warm.log" 2>&1 || echo "bench: warning: go test ./... fails; timing it anyway (see below)" >&2
measure "go test -count=1 ./..." --ignore-failure go test -count=1 ./...
if grep -q '^FAIL' "$WORK/go-test-warm.log"; then grep '^FAIL\|^---' "$WORK/go-test-warm.log" | head -5 | sed 's/^/  /'; fi

FULL=$(median "full synth"); STAGE=$(median "one-stage synth (stage=dev)"); FLOOR=$(median "floor (one stack, one resource)")
CLI=$(median "cdk synth --quiet (CLI)"); TEST=$(median "go test -count=1 ./...")

verdict() { awk -v r="$1" -v t="$2" 'BEGIN { print (r <= t) ? "PASS" : "FAIL" }'; }
R1=$(ratio "$FULL" "$FLOOR"); R2=$(ratio "$STAGE" "$FLOOR"); R3=$(ratio "$TEST" "$FULL")
echo "== ratios (targets of issue 8; validation and cdk-nag on)"
printf '  %-32s %5s x   target <= 2.0 x   %s\n' "full synth / floor" "$R1" "$(verdict "$R1" 2.0)"
printf '  %-32s %5s x   target <= 1.4 x   %s\n' "one-stage synth / floor" "$R2" "$(verdict "$R2" 1.4)"
printf '  %-32s %5s x   target <= 3.0 x   %s\n' "go test warm / full synth" "$R3" "$(verdict "$R3" 3.0)"
printf '  %-32s %+5.2f s  (CLI start-up, its extra context, cdk.json'"'"'s no-op go build, reading the assembly)\n' \
  "CLI synth - full synth" "$(awk -v a="$CLI" -v b="$FULL" 'BEGIN { print a - b }')"
printf '  %-32s %5.2f s + no-op go build %.2f s; the rest is the CLI doing its own work around the app\n' \
  "  of which CLI start-up" "$(median "  CLI start-up (cdk --version)")" "$(median "  no-op go build (cdk.json app)")"

echo "== where one run's time went (CDK performance counters; load = node start to App(), construction ="
echo "   App() to synth(), Go side included; rest = Go/jsii process start and exit)"
export CDK_OUTDIR="$WORK/full.out"
CDK_CONTEXT_JSON=$FULL_CTX perf_phases "full synth" .build/h2o-app
export CDK_OUTDIR="$WORK/stage.out"
CDK_CONTEXT_JSON=$STAGE_CTX perf_phases "one-stage synth" .build/h2o-app
export CDK_OUTDIR="$WORK/floor.out"
CDK_CONTEXT_JSON=$FULL_CTX perf_phases "floor" .build/bench/floor

echo "load:    before $LOAD_BEFORE, after $(awk '{ print $1 }' /proc/loadavg) (1-minute averages; a synth keeps ~1.6 cores busy itself,"
echo "         so \"before\" tells whether others were at work: above ~0.5 on 2 cores, expect noise and rerun)"
