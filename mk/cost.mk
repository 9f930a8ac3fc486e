# mk/cost.mk: monthly cost estimate per stage (issue 9) and what a change costs (issue 22).
#   make cost                 price cdk.out (synthesized first only if cdk.out/manifest.json is missing), print one
#                             table per stage and write cdk.out/cost-report.json
#   make cost COST_OUT=<dir>  price another synthesized cloud assembly
#   make cost-diff BASE=<git-rev>
#                             synthesize <git-rev> (a detached worktree, built with this checkout's CLI) and the work
#                             tree, price both and print, as markdown, every stage's total before and after and every
#                             line item that changed; COST_DIFF_MD=<file> also writes the markdown to a file
#   make cost-diff BASE_OUT=<dir> HEAD_OUT=<dir> [BASE_LABEL=.. HEAD_LABEL=..]
#                             the same for two assemblies already synthesized (the PR workflow reuses `make review`'s)
#   make cost-fixtures        regenerate cost/testdata/diff (the cost diff tests' real templates; needs jq)
# cmd/cost imports no CDK/jsii code, so it builds in seconds; its tests (package cost) run in `go test ./...`.

# Keep the Makefile's default goal: this fragment is included before the Makefile's own first rule.
COST_SAVED_GOAL := $(.DEFAULT_GOAL)

COST_OUT      ?= cdk.out
COST_DIFF_DIR := .build/cost-diff
COST_DIFF_MD  ?=
BASE_LABEL    ?= base
HEAD_LABEL    ?= head
# The labels reach cost-diff's recipe through its environment, not its text: a label may hold quotes or backticks.
export BASE_LABEL HEAD_LABEL

.PHONY: cost cost-diff cost-fixtures

## cost: monthly cost estimate per stage from the synthesized templates (prices: pricing/, usage: cost/usage.go)
cost: $(if $(wildcard $(COST_OUT)/manifest.json),,synth)
	go run ./cmd/cost -out $(COST_OUT)

# Both builds are priced with this checkout's price table and usage model (cost/usage.go): the diff shows what the
# templates change. Progress goes to stderr, so stdout is the markdown alone.
## cost-diff: what a change costs a month, per stage and line item (BASE=<git-rev>, or BASE_OUT= HEAD_OUT=)
cost-diff: deps
	@if [ -n "$(BASE_OUT)$(HEAD_OUT)" ]; then \
	  [ -f "$(BASE_OUT)/manifest.json" ] && [ -f "$(HEAD_OUT)/manifest.json" ] || \
	    { echo "cost-diff: BASE_OUT and HEAD_OUT must both be synthesized cloud assemblies" >&2; exit 2; }; \
	  base_out="$(BASE_OUT)"; head_out="$(HEAD_OUT)"; base_label="$$BASE_LABEL"; head_label="$$HEAD_LABEL"; \
	else \
	  if [ -z "$(BASE)" ]; then echo "usage: make cost-diff BASE=<git-rev> | BASE_OUT=<dir> HEAD_OUT=<dir>" >&2; exit 2; fi; \
	  rev=$$(git rev-parse --verify --quiet "$(BASE)^{commit}") || { echo "cost-diff: unknown revision '$(BASE)'" >&2; exit 2; }; \
	  git worktree remove --force $(COST_DIFF_DIR)/base 2>/dev/null || rm -rf $(COST_DIFF_DIR)/base; \
	  git worktree prune; mkdir -p $(COST_DIFF_DIR); rm -rf $(COST_DIFF_DIR)/base.out $(COST_DIFF_DIR)/head.out; \
	  trap 'git worktree remove --force $(COST_DIFF_DIR)/base 2>/dev/null || true' EXIT; \
	  git worktree add --detach --quiet $(COST_DIFF_DIR)/base "$$rev"; \
	  base_label="$$(git rev-parse --short "$$rev") ($(BASE))"; \
	  head_label="the work tree at $$(git rev-parse --short HEAD)$$(test -z "$$(git status --porcelain)" || echo ' with uncommitted changes')"; \
	  echo "cost-diff: synthesizing $$base_label into $(COST_DIFF_DIR)/base.out" >&2; \
	  (cd $(COST_DIFF_DIR)/base && $(CDK) synth --quiet -o $(CURDIR)/$(COST_DIFF_DIR)/base.out) >&2; \
	  echo "cost-diff: synthesizing $$head_label into $(COST_DIFF_DIR)/head.out" >&2; \
	  $(CDK) synth --quiet -o $(COST_DIFF_DIR)/head.out >&2; \
	  base_out=$(COST_DIFF_DIR)/base.out; head_out=$(COST_DIFF_DIR)/head.out; \
	fi; \
	go run ./cmd/cost -base "$$base_out" -out "$$head_out" -base-label "$$base_label" -head-label "$$head_label" \
	  $(if $(COST_DIFF_MD),-md "$(COST_DIFF_MD)")

# The cost diff tests (cost/diff_test.go) price real templates: prod as committed (base/) and, per case, the
# templates its config change rewrites (a stack a case lacks is the base's). Synthesized by the pinned CLI,
# compacted with jq, manifests cut to what cost.LoadAssembly reads. Regenerate after an app change.
COST_FIXTURES       := cost/testdata/diff
COST_FIXTURE_DIR    := .build/cost-fixtures
COST_FIXTURE_CASES  := prod-tasks-doubled prod-nat-gateways-1
COST_FIXTURE_prod-tasks-doubled  := -c prod.minTasks=4 -c prod.maxTasks=6
COST_FIXTURE_prod-nat-gateways-1 := -c prod.natGateways=1
COST_FIXTURE_STACKS := {artifacts: (.artifacts | with_entries(select(.value.type == "aws:cloudformation:stack")) \
  | map_values({type, displayName, properties: (.properties | {templateFile, stackName})}))}
cost-fixtures: deps
	@command -v jq >/dev/null || { echo "cost-fixtures: needs jq" >&2; exit 1; }
	rm -rf $(COST_FIXTURE_DIR) $(COST_FIXTURES)
	$(CDK) synth --quiet -o $(COST_FIXTURE_DIR)/base
	$(foreach c,$(COST_FIXTURE_CASES),$(CDK) synth --quiet $(COST_FIXTURE_$(c)) -o $(COST_FIXTURE_DIR)/$(c) &&) true
	@set -e; src=$(COST_FIXTURE_DIR)/base; dst=$(COST_FIXTURES)/base; mkdir -p $$dst/assembly-prod; \
	  jq -c '{artifacts: {"assembly-prod": .artifacts["assembly-prod"]}}' $$src/manifest.json >$$dst/manifest.json; \
	  jq -c '$(COST_FIXTURE_STACKS)' $$src/assembly-prod/manifest.json >$$dst/assembly-prod/manifest.json; \
	  for f in $$src/assembly-prod/*.template.json; do jq -c . $$f >$$dst/assembly-prod/$$(basename $$f); done; \
	  { echo "Generated by \`make cost-fixtures\` from $$(git rev-parse --short HEAD): \`cdk synth\` of prod into base/, then per case:"; \
	    $(foreach c,$(COST_FIXTURE_CASES),echo "- $(c)/: \`cdk synth $(COST_FIXTURE_$(c))\`, the templates that differ from base/";) \
	  } >$(COST_FIXTURES)/SOURCE.md; \
	  for c in $(COST_FIXTURE_CASES); do \
	    mkdir -p $(COST_FIXTURES)/$$c/assembly-prod; \
	    for f in $$src/assembly-prod/*.template.json; do \
	      g=$(COST_FIXTURE_DIR)/$$c/assembly-prod/$$(basename $$f); \
	      cmp -s $$f $$g || jq -c . $$g >$(COST_FIXTURES)/$$c/assembly-prod/$$(basename $$f); \
	    done; \
	  done; \
	  du -sh $(COST_FIXTURES)/* | sed 's/^/cost-fixtures: /'

.DEFAULT_GOAL := $(COST_SAVED_GOAL)
