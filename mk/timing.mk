# mk/timing.mk: modelled deploy timings of the backend service (issue 13), from the synthesized templates.
#   make timing                          model cdk.out and the app as of TIMING_BASE_REV ("before"), print the tables
#                                        and rewrite docs/performance.md's timing section and README's summary of prod
#   make timing TIMING_BASE_REV=         model cdk.out only
# The model is internal/timing (its tests, and stacks' TestRolloutMeetsTheTimingTargets, run in `make test`).

# Keep the Makefile's default goal: this fragment is included before the Makefile's own first rule.
TIMING_SAVED_GOAL := $(.DEFAULT_GOAL)

# The last commit before canary deploys and the circuit breaker threshold (issue 23): its rolling deploy is "before".
TIMING_BASE_REV ?= ccec4ab
TIMING_DIR      := .build/timing

.PHONY: timing

## timing: modelled deploy timings per stage, before (TIMING_BASE_REV) and now, into docs/performance.md
timing: synth
	@if [ -n "$(TIMING_BASE_REV)" ]; then \
	  rev=$$(git rev-parse --verify --quiet "$(TIMING_BASE_REV)^{commit}") || { echo "timing: unknown revision '$(TIMING_BASE_REV)'" >&2; exit 2; }; \
	  git worktree remove --force $(TIMING_DIR)/base 2>/dev/null || rm -rf $(TIMING_DIR)/base; git worktree prune; mkdir -p $(TIMING_DIR); \
	  git worktree add --detach --quiet $(TIMING_DIR)/base "$$rev"; rm -rf $(TIMING_DIR)/base.out; \
	  echo "timing: synthesizing $(TIMING_BASE_REV) into $(TIMING_DIR)/base.out"; \
	  (cd $(TIMING_DIR)/base && $(CDK) synth --quiet -o $(CURDIR)/$(TIMING_DIR)/base.out >/dev/null); \
	  git worktree remove --force $(TIMING_DIR)/base; \
	fi
	go run ./cmd/timing -out cdk.out -readme README.md $(if $(TIMING_BASE_REV),-base $(TIMING_DIR)/base.out -base-label $(TIMING_BASE_REV)) -doc docs/performance.md

.DEFAULT_GOAL := $(TIMING_SAVED_GOAL)
