# shellcheck shell=bash
# tools/bench/lib.sh: shared by bench.sh and explain.sh (sourced, not run).
# Sets ROOT, WORK (a temp dir removed on exit), RUNS, PATH (the benchmark Node first), and defines:
#   ctx_json [key=json ...]   cdk.json's context as one JSON line, plus extra keys (values are JSON)
#   measure NAME CMD...       RUNS timed runs of CMD (hyperfine when installed, else a bash loop); records
#                             the median, min, max in seconds and the mean CPU time (user+sys) under NAME
#   interleave LABEL FN ...   A/B variants run in rotating order, RUNS rounds (explain.sh)
#   median NAME / cpu NAME    what measure or interleave recorded
#   ratio A B                 A ÷ B with two decimals
# The environment of CMD is the caller's: export CDK_CONTEXT_JSON and the like before calling measure.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 2
RUNS=${BENCH_RUNS:-5}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/h2o-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# The Node under test: the project's pinned one unless BENCH_NODE names another. A `node` link ahead of
# everything on PATH makes the CLI (#!/usr/bin/env node) and jsii (spawns `node`) both use it.
BENCH_NODE=${BENCH_NODE:-$ROOT/node_modules/.bin/node}
if ! [ -x "$BENCH_NODE" ]; then
  echo "bench: $BENCH_NODE not found; run \`make deps\` first" >&2
  exit 2
fi
mkdir -p "$WORK/nodebin"
ln -s "$(readlink -f "$BENCH_NODE")" "$WORK/nodebin/node"
export PATH="$WORK/nodebin:$ROOT/node_modules/.bin:$PATH"
export JSII_NODE="$WORK/nodebin/node"
# Silence jsii's "this Node version is untested" banner on the alternatives, not the timing.
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION=1 JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1

# BENCH_NO_HYPERFINE=1 forces the bash loop (to check it, or to compare).
HYPERFINE=$([ "${BENCH_NO_HYPERFINE:-}" = 1 ] || command -v hyperfine || true)

ctx_json() {
  node -e '
    const ctx = require(process.argv[1]).context;
    for (const kv of process.argv.slice(2)) { const i = kv.indexOf("="); ctx[kv.slice(0, i)] = JSON.parse(kv.slice(i + 1)); }
    process.stdout.write(JSON.stringify(ctx));' "$ROOT/cdk.json" "$@"
}

declare -A MEDIAN MIN MAX CPU

# measure NAME [--ignore-failure] CMD...: one warm-up run (not timed), then RUNS timed runs.
measure() {
  local name=$1 ignore=0
  shift
  if [ "${1:-}" = --ignore-failure ]; then ignore=1; shift; fi
  local slug
  slug=$(tr -c 'a-zA-Z0-9\n' _ <<<"$name")
  local json="$WORK/$slug.json" times="$WORK/$slug.times"
  if [ -n "$HYPERFINE" ]; then
    local args=(--style none --shell=none --runs "$RUNS" --export-json "$json")
    [ "${BENCH_WARMUP:-1}" = 0 ] || args+=(--warmup 1)
    [ "$ignore" = 0 ] || args+=(--ignore-failure)
    # --shell=none splits the command on blanks: every argument here is a plain word.
    hyperfine "${args[@]}" -- "$*" >/dev/null 2>"$WORK/$slug.err" || { cat "$WORK/$slug.err" >&2; echo "bench: '$*' failed" >&2; return 1; }
    node -e '
      const r = require(process.argv[1]).results[0];
      const bad = (r.exit_codes || []).filter(c => c !== 0).length;
      console.log(r.median, r.min, r.max, r.user + r.system, bad);' "$json" >"$times.summary"
  else
    local i t0 t1 rc bad=0
    [ "${BENCH_WARMUP:-1}" = 0 ] || "$@" >/dev/null 2>&1 || [ "$ignore" = 1 ] || { echo "bench: '$*' failed" >&2; return 1; }
    : >"$times"
    for ((i = 0; i < RUNS; i++)); do
      t0=$EPOCHREALTIME
      rc=0; "$@" >/dev/null 2>&1 || rc=$?
      t1=$EPOCHREALTIME
      if [ "$rc" != 0 ]; then
        [ "$ignore" = 1 ] || { echo "bench: '$*' failed (exit $rc)" >&2; return 1; }
        bad=$((bad + 1))
      fi
      awk -v a="$t1" -v b="$t0" 'BEGIN { print a - b }' >>"$times"
    done
    # No CPU time from a plain loop: reported as "-".
    sort -g "$times" | awk -v bad="$bad" '{ t[NR] = $1 } END {
      m = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
      print m, t[1], t[NR], "-", bad }' >"$times.summary"
  fi
  local med lo hi c bad
  read -r med lo hi c bad <"$times.summary"
  MEDIAN[$name]=$med MIN[$name]=$lo MAX[$name]=$hi CPU[$name]=$c
  if [ "$bad" != 0 ]; then echo "bench: warning: $bad of $RUNS runs of '$*' exited non-zero" >&2; fi
  printf '  %-34s median %6.2f s   (min %.2f, max %.2f, cpu %s s, %d runs)\n' "$name" "${MEDIAN[$name]}" \
    "${MIN[$name]}" "${MAX[$name]}" "$(fmt_cpu "${CPU[$name]}")" "$RUNS"
}

# interleave LABEL FUNCTION [LABEL FUNCTION ...]: A/B comparisons for explain.sh. One untimed warm-up of each,
# then RUNS rounds that run every variant once, the order rotated each round, so a change in the background
# load hits all variants alike. Wall and CPU time (user+sys of the children) come from bash's `time`; records
# median wall, min, max and median CPU per label like measure. FUNCTION is a shell function running one synth.
interleave() {
  local -a labels=() fns=()
  while [ $# -gt 0 ]; do labels+=("$1"); fns+=("$2"); shift 2; done
  local n=${#fns[@]} r i k rc TIMEFORMAT='%R %U %S'
  for ((i = 0; i < n; i++)); do
    "${fns[$i]}" >/dev/null 2>&1 || { echo "bench: ${labels[$i]} (${fns[$i]}) failed" >&2; return 1; }
    : >"$WORK/il.$i"
  done
  for ((r = 0; r < RUNS; r++)); do
    for ((k = 0; k < n; k++)); do
      i=$(((k + r) % n))
      rc=0
      { time "${fns[$i]}" >/dev/null 2>&1; } 2>>"$WORK/il.$i" || rc=$?
      [ "$rc" = 0 ] || echo "bench: warning: ${labels[$i]} exited $rc" >&2
    done
  done
  for ((i = 0; i < n; i++)); do
    local name=${labels[$i]}
    # (mawk has no asort: sort first, then take the middle.)
    # shellcheck disable=SC2016 # awk program
    local stats='{ v[NR] = $1 } END { printf "%s %s %s\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2, v[1], v[NR] }'
    local med lo hi c
    read -r med lo hi < <(awk '{ print $1 }' "$WORK/il.$i" | sort -g | awk "$stats")
    read -r c _ _ < <(awk '{ print $2 + $3 }' "$WORK/il.$i" | sort -g | awk "$stats")
    MEDIAN[$name]=$med MIN[$name]=$lo MAX[$name]=$hi CPU[$name]=$c
    printf '  %-34s median %6.2f s   (min %.2f, max %.2f, cpu %.2f s, %d runs interleaved)\n' "$name" \
      "${MEDIAN[$name]}" "${MIN[$name]}" "${MAX[$name]}" "${CPU[$name]}" "$RUNS"
  done
}

fmt_cpu() { if [ "$1" = - ]; then echo -; else printf '%.2f' "$1"; fi; }
median() { echo "${MEDIAN[$1]}"; }
cpu() { echo "${CPU[$1]}"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

machine() {
  local mem node_v
  mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null || echo '?')
  node_v=$(node --version)
  echo "machine: $(nproc) cores ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)), $mem," \
    "$(go version | awk '{ print $3 }'), node $node_v ($(readlink -f "$BENCH_NODE")), aws-cdk $(cdk --version 2>/dev/null | awk '{ print $1 }')," \
    "$(if [ -n "$HYPERFINE" ]; then hyperfine --version; else echo 'hyperfine not installed (bash loop)'; fi)"
  echo "load:    $(uptime | sed 's/.*load average/load average/')   (before the runs: above ~0.5 on 2 cores means others are at work)"
  echo "tree:    $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!tools/bench' ':!mk/bench.mk' ':!docs/performance.md' 2>/dev/null || echo ' + uncommitted changes')"
}

# perf_phases NAME CMD...: one more run with the CDK's own performance counters (the file the CLI asks for
# through CDK_PERF_COUNTERS_FILE; written when a stack takes longer than @aws-cdk/core.slowSynthThreshold ms,
# so the threshold is set to 0) and prints where that run's time went.
perf_phases() {
  local name=$1 file="$WORK/perf.$RANDOM.json" t0 t1 saved=$CDK_CONTEXT_JSON
  shift
  CDK_CONTEXT_JSON=$(node -e 'const c = JSON.parse(process.argv[1]); c["@aws-cdk/core.slowSynthThreshold"] = 0;
    process.stdout.write(JSON.stringify(c))' "$saved")
  t0=$EPOCHREALTIME
  CDK_PERF_COUNTERS_FILE=$file "$@" >/dev/null 2>&1 || true
  t1=$EPOCHREALTIME
  CDK_CONTEXT_JSON=$saved
  [ -s "$file" ] || { echo "  $name: no performance counters written"; return 0; }
  # shellcheck disable=SC2016 # JavaScript template strings
  node -e '
    const c = require(process.argv[1]).counters, wall = +process.argv[3] * 1000, s = k => Math.round(c[k] || 0);
    const load = s("phase:Load"), cons = s("phase:Construction"), syn = s("phase:Synthesis");
    const val = s("validateTemplates"), cfn = s("CloudFormationValidate.validate"), n = c["CloudFormationValidate.validate(cnt)"] || 0;
    const other = Math.round(wall) - load - cons - syn;
    const row = (k, v) => `${k} ${String(v).padStart(5)} ms`;
    console.log(`  ${process.argv[2].padEnd(18)} ${row("wall", Math.round(wall))} = ${row("load", load)} + ${row("construction", cons)} + ${row("synthesis", syn)} + ${row("rest", other)}`);
    console.log(`  ${"".padEnd(18)}   synthesis: CloudFormation validation ${val} ms (${n} templates ${cfn} ms, engine start and report ${val - cfn} ms), the rest ${syn - val} ms; ${c["count:Constructs(cnt)"] || "?"} constructs`);
  ' "$file" "$name" "$(awk -v a="$t1" -v b="$t0" 'BEGIN { print a - b }')"
}
