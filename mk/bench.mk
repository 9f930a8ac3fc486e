# mk/bench.mk: synth and test performance (issue 8); results and findings in docs/performance.md.
#   make bench                          medians of full, one-stage and floor synth, `cdk synth` through the CLI and
#                                       warm `go test ./...`; the ratios against the targets (reported, never failing)
#   make bench BENCH_RUNS=9             more runs each (default 5)
#   make bench BENCH_NODE=/usr/bin/node the same on another Node (jsii and the CLI alike)
#   make bench-explain                  where synth time goes: validation off, cdk-nag off (on a copy of the app),
#                                       Node compile cache, the other Node, jsii round trips, a CPU profile, test phases
# Not part of `make test`: timings are not tests.

# Keep the Makefile's default goal: this fragment is included before the Makefile's own first rule.
BENCH_SAVED_GOAL := $(.DEFAULT_GOAL)

BENCH_RUNS ?= 5
BENCH_NODE ?=
BENCH_ENV   = BENCH_RUNS=$(BENCH_RUNS) $(if $(BENCH_NODE),BENCH_NODE=$(BENCH_NODE))

.PHONY: bench bench-explain hyperfine

# hyperfine from Debian: installed when missing and running as root, otherwise the scripts time with a bash loop.
hyperfine:
	@if ! command -v hyperfine >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing hyperfine (apt-get)"; \
	    apt-get install -y -qq hyperfine >/dev/null 2>&1 || { apt-get update -qq >/dev/null && apt-get install -y -qq hyperfine >/dev/null; } || true; \
	  fi; \
	  command -v hyperfine >/dev/null || echo "hyperfine not installed (apt-get install hyperfine / brew install hyperfine): timing with a bash loop"; \
	fi

bench: deps hyperfine
	$(BENCH_ENV) tools/bench/bench.sh

bench-explain: deps hyperfine
	$(BENCH_ENV) tools/bench/explain.sh

.DEFAULT_GOAL := $(BENCH_SAVED_GOAL)
