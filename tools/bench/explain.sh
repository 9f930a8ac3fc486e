#!/usr/bin/env bash
# tools/bench/explain.sh: `make bench-explain` (issue 8): where synth and test time goes. Same Node and runs as
# bench.sh, but each lever is an A/B comparison whose variants run interleaved (rotating order, RUNS rounds), so
# background load on this 2-core machine hits them alike; medians of wall time and of CPU time (user+sys):
#   1. CloudFormation validation off (CDK_VALIDATION=false): full, one-stage, floor
#   2. cdk-nag off: a copy of the work tree (in a temp dir) whose addNagChecks adds nothing; also with both off
#   3. Node runtime: on-disk compile cache (NODE_COMPILE_CACHE), a larger young generation, V8's WebAssembly
#      baseline compiler only (--liftoff-only, set by a NODE_OPTIONS=--require preload)
#   4. the other Node: BENCH_ALT_NODE, by default the first `node` on PATH outside node_modules (Node 20 here)
#   5. Go→JS round trips of one full synth (JSII_DEBUG=1) and what one costs (tools/bench/roundtrip)
#   6. a CPU profile of the jsii kernel during one full synth (node --cpu-prof), by bucket
#   7. `go test ./stacks`: the shared synth in TestMain against the tests
# The app source is never edited; the cdk-nag-off copy lives in a temp dir.
set -euo pipefail
# shellcheck source=tools/bench/lib.sh
source "$(dirname "$0")/lib.sh"

echo "== make bench-explain: $RUNS rounds, medians"
machine
LOAD_BEFORE=$(awk '{ print $1 }' /proc/loadavg)

mkdir -p .build/bench
go build -o .build/h2o-app .
go build -o .build/bench/floor ./tools/bench/floor
go build -o .build/bench/roundtrip ./tools/bench/roundtrip
FULL_CTX=$(ctx_json)
STAGE_CTX=$(ctx_json 'stage="dev"')
APP=.build/h2o-app
FLOOR=.build/bench/floor
diff_s() { awk -v a="$(median "$1")" -v b="$(median "$2")" 'BEGIN { printf "%.2f", a - b }'; }
diff_cpu() { awk -v a="$(cpu "$1")" -v b="$(cpu "$2")" 'BEGIN { printf "%.2f", a - b }'; }

# One synth each; the environment of the caller (CDK_VALIDATION, JSII_RUNTIME, ...) applies.
full() { CDK_OUTDIR="$WORK/full.out" CDK_CONTEXT_JSON=$FULL_CTX "${1:-$APP}"; }
stage() { CDK_OUTDIR="$WORK/stage.out" CDK_CONTEXT_JSON=$STAGE_CTX "${1:-$APP}"; }
floor() { CDK_OUTDIR="$WORK/floor.out" CDK_CONTEXT_JSON=$FULL_CTX "$FLOOR"; }

echo "-- 1. CloudFormation validation off (CDK_VALIDATION=false)"
full_noval() { CDK_VALIDATION=false full; }
stage_noval() { CDK_VALIDATION=false stage; }
floor_noval() { CDK_VALIDATION=false floor; }
interleave "full" full "full, no validation" full_noval "one-stage" stage "one-stage, no validation" stage_noval \
  "floor" floor "floor, no validation" floor_noval
printf '  validation costs (wall / cpu): full %s / %s s, one-stage %s / %s s, floor %s / %s s\n' \
  "$(diff_s full 'full, no validation')" "$(diff_cpu full 'full, no validation')" \
  "$(diff_s one-stage 'one-stage, no validation')" "$(diff_cpu one-stage 'one-stage, no validation')" \
  "$(diff_s floor 'floor, no validation')" "$(diff_cpu floor 'floor, no validation')"
printf '  ratios with validation: full / floor %s x, one-stage / floor %s x; without: %s x, %s x\n' \
  "$(ratio "$(median full)" "$(median floor)")" "$(ratio "$(median one-stage)" "$(median floor)")" \
  "$(ratio "$(median 'full, no validation')" "$(median 'floor, no validation')")" \
  "$(ratio "$(median 'one-stage, no validation')" "$(median 'floor, no validation')")"

echo "-- 2. cdk-nag off (a copy of the work tree; addNagChecks emptied)"
NONAG="$WORK/nonag"
mkdir -p "$NONAG"
git ls-files -z --cached --others --exclude-standard | tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C "$NONAG"
ln -s "$ROOT/node_modules" "$NONAG/node_modules"
# shellcheck disable=SC2016 # Perl, not shell
NAG_OFF='$n += s/(func addNagChecks\((\w+) [^)]*\) \{\n).*?\n\}\n/$1\t_ = $2 \/\/ cdk-nag off: bench-explain\n}\n/s; END { exit($n ? 0 : 1) }'
if perl -0777 -pi -e "$NAG_OFF" "$NONAG/stacks/stage.go" &&
  ! grep -rq --include='*.go' --exclude='*_test.go' 'NewAwsSolutionsChecks' "$NONAG" &&
  (cd "$NONAG" && go build -o "$WORK/h2o-nonag" .); then
  full_nonag() { full "$WORK/h2o-nonag"; }
  stage_nonag() { stage "$WORK/h2o-nonag"; }
  full_neither() { CDK_VALIDATION=false full "$WORK/h2o-nonag"; }
  interleave "full" full "full, no cdk-nag" full_nonag "one-stage" stage "one-stage, no cdk-nag" stage_nonag \
    "full, no validation" full_noval "full, neither" full_neither "floor, no validation" floor_noval
  printf '  cdk-nag costs (wall / cpu): full %s / %s s, one-stage %s / %s s, full without validation %s / %s s\n' \
    "$(diff_s full 'full, no cdk-nag')" "$(diff_cpu full 'full, no cdk-nag')" \
    "$(diff_s one-stage 'one-stage, no cdk-nag')" "$(diff_cpu one-stage 'one-stage, no cdk-nag')" \
    "$(diff_s 'full, no validation' 'full, neither')" "$(diff_cpu 'full, no validation' 'full, neither')"
  printf '  with neither: full / floor-without-validation %s x\n' \
    "$(ratio "$(median 'full, neither')" "$(median 'floor, no validation')")"
else
  echo "  skipped: no addNagChecks(scope) in stacks/stage.go to empty, cdk-nag added elsewhere too, or the copy does not build"
fi

echo "-- 3. Node runtime options (through the environment jsii passes on)"
variants=("full" full "floor" floor)
if [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 22 ]; then
  full_cc() { NODE_COMPILE_CACHE="$WORK/compile-cache" full; }
  floor_cc() { NODE_COMPILE_CACHE="$WORK/compile-cache" floor; }
  variants+=("full, compile cache" full_cc "floor, compile cache" floor_cc)
fi
# jsii sets NODE_OPTIONS=--max-old-space-size=4069 only when NODE_OPTIONS is unset: keep it.
full_semi() { NODE_OPTIONS="--max-old-space-size=4069 --max-semi-space-size=64" full; }
variants+=("full, 64 MB semi-space" full_semi)
# V8 flags are not allowed in NODE_OPTIONS, but --require is, and a preload may set them before any
# WebAssembly is compiled. --liftoff-only keeps the CloudFormation validator's 9 MB WebAssembly on V8's baseline
# compiler: no optimizing tier-up competing for the two cores, and no exit waiting for those compile jobs.
echo "require('v8').setFlagsFromString('--liftoff-only');" >"$WORK/liftoff.cjs"
LIFTOFF="--max-old-space-size=4069 --require $WORK/liftoff.cjs"
full_liftoff() { NODE_OPTIONS=$LIFTOFF full; }
stage_liftoff() { NODE_OPTIONS=$LIFTOFF stage; }
floor_liftoff() { NODE_OPTIONS=$LIFTOFF floor; }
variants+=("one-stage" stage "full, --liftoff-only" full_liftoff "one-stage, --liftoff-only" stage_liftoff
  "floor, --liftoff-only" floor_liftoff)
interleave "${variants[@]}"
[ -z "${CPU['full, compile cache']:-}" ] ||
  echo "  compile cache: $(find "$WORK/compile-cache" -type f | wc -l) files, $(du -sh "$WORK/compile-cache" | awk '{ print $1 }')"
[ -z "${CPU['full, --liftoff-only']:-}" ] ||
  printf '  with --liftoff-only: full / floor %s x, one-stage / floor %s x\n' \
    "$(ratio "$(median 'full, --liftoff-only')" "$(median 'floor, --liftoff-only')")" \
    "$(ratio "$(median 'one-stage, --liftoff-only')" "$(median 'floor, --liftoff-only')")"

echo "-- 4. the other Node"
ALT_NODE=${BENCH_ALT_NODE:-$(PATH=$(tr ':' '\n' <<<"$PATH" | grep -v -e node_modules -e "^$WORK" | paste -sd:) command -v node || true)}
if [ -n "$ALT_NODE" ] && [ "$("$ALT_NODE" --version)" != "$(node --version)" ]; then
  ALT_V=$("$ALT_NODE" --version)
  echo "  $ALT_NODE $ALT_V for jsii (JSII_NODE), against $(node --version)"
  full_alt() { JSII_NODE=$ALT_NODE full; }
  floor_alt() { JSII_NODE=$ALT_NODE floor; }
  interleave "full" full "full, $ALT_V" full_alt "floor" floor "floor, $ALT_V" floor_alt
  printf '  %s / %s: full %s x, floor %s x\n' "$ALT_V" "$(node --version)" \
    "$(ratio "$(median "full, $ALT_V")" "$(median full)")" "$(ratio "$(median "floor, $ALT_V")" "$(median floor)")"
else
  echo "  no other Node found (set BENCH_ALT_NODE=/path/to/node): skipped"
fi

echo "-- 5. Go→JS round trips of one full synth (JSII_DEBUG=1)"
JSII_DEBUG=1 full 2>"$WORK/jsii-debug.log" >/dev/null || true
# shellcheck disable=SC2016 # JavaScript template strings
grep '^> {' "$WORK/jsii-debug.log" | node -e '
  const lines = require("fs").readFileSync(0, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l.slice(2)));
  const by = {}, site = {};
  for (const r of lines) {
    const api = r.api ?? Object.keys(r)[0];
    by[api] = (by[api] ?? 0) + 1;
    const target = r.fqn ?? r.objref?.["$jsii.byref"]?.replace(/@\d+$/, "") ?? "";
    const k = `${api} ${target.replace(/^aws-cdk-lib\./, "")}${r.method || r.property ? "." + (r.method ?? r.property) : ""}`;
    site[k] = (site[k] ?? 0) + 1;
  }
  console.log(`  ${lines.length} requests: ` + Object.entries(by).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${v} ${k}`).join(", "));
  console.log("  most frequent: " + Object.entries(site).sort((a, b) => b[1] - a[1]).slice(0, 8).map(([k, v]) => `${v}× ${k}`).join("; "));'
echo "  callbacks JS→Go: $(grep -c '^< {"callback"' "$WORK/jsii-debug.log" || true)"
echo "  one round trip (tools/bench/roundtrip, 2000 calls each):"
.build/bench/roundtrip "$WORK/roundtrip.out" | sed 's/^/    /'

echo "-- 6. CPU profile of the jsii kernel, one full synth (node --cpu-prof)"
NODE_OPTIONS="--max-old-space-size=4069 --cpu-prof --cpu-prof-dir=$WORK/prof" full >/dev/null 2>&1 || true
# Two processes: jsii's launcher and the kernel it spawns; the kernel's profile is the large one.
PROFILE=$(find "$WORK/prof" -name '*.cpuprofile' -printf '%s %p\n' 2>/dev/null | sort -n | tail -1 | cut -d' ' -f2)
if [ -n "$PROFILE" ]; then node tools/bench/cpuprofile.mjs "$PROFILE" 8; else echo "  no profile written"; fi

echo "-- 7. go test ./stacks: the shared synth (TestMain) against the tests"
go test ./stacks >/dev/null 2>&1 || true
T0=$EPOCHREALTIME
go test -count=1 -v ./stacks >"$WORK/stacks-test.log" 2>&1 || true
T1=$EPOCHREALTIME
awk -v wall="$(awk -v a="$T1" -v b="$T0" 'BEGIN { print a - b }')" '
  /^--- (PASS|FAIL|SKIP): / { gsub(/[()s]/, "", $4); t = $4 + 0; sum += t; if (t > 0.5) slow = slow sprintf("    %s %.2f s\n", $3, t) }
  /^(ok|FAIL)[ \t]+h2o-infra\/stacks/ { pkg = $3; gsub(/s$/, "", pkg) }
  END {
    printf "  go test -count=1 ./stacks: %.1f s wall (go: %.1f s in the test binary); top-level tests %.1f s,\n", wall, pkg, sum
    printf "  so TestMain (one jsii process, the app and the variant synthesized) and start-up take %.1f s\n", pkg - sum
    if (slow != "") printf "  tests over 0.5 s:\n%s", slow
  }' "$WORK/stacks-test.log"
stacks_test() { go test -count=1 ./stacks; }
stacks_test_liftoff() { NODE_OPTIONS=$LIFTOFF go test -count=1 ./stacks; }
stacks_test_no_nag_test() { go test -count=1 -skip '^TestCdkNagHasNoUnsuppressedFindings$' ./stacks; }
RUNS=$(((RUNS + 1) / 2)) interleave "go test ./stacks" stacks_test "go test ./stacks, --liftoff-only" stacks_test_liftoff \
  "go test ./stacks -skip TestCdkNag..." stacks_test_no_nag_test
T0=$EPOCHREALTIME
go test -c -o "$WORK/stacks.test" ./stacks >/dev/null 2>&1 || true
T1=$EPOCHREALTIME
printf '  linking the stacks test binary (warm cache): %.1f s\n' "$(awk -v a="$T1" -v b="$T0" 'BEGIN { print a - b }')"

echo "load:    before $LOAD_BEFORE, after $(awk '{ print $1 }' /proc/loadavg)"
