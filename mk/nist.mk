# mk/nist.mk: what cdk-nag says about a build, and what a change does to it (issue 22).
#   make nist                   per pack (NIST 800-53 rev 5, AWS Solutions) and stage of cdk.out (synthesized first only
#                               if cdk.out/manifest.json is missing): rules checked, resources suppressed and failing
#   make nist NIST_OUT=<dir>    the same for another synthesized cloud assembly
#   make nist-diff [BASE_OUT=<dir> HEAD_OUT=<dir>] [BASE_LABEL=.. HEAD_LABEL=..]
#                               compare two synthesized assemblies (default: the two `make review BASE=<git-rev>` built
#                               in .build/review) and print, as markdown, per pack and stage the rules checked, the
#                               suppressions added and removed with their reasons, and every finding that fails synth;
#                               NIST_DIFF_MD=<file> also writes it to a file (the PR comment's 20-nist section)
# Both read the <pack>-<stage>-<stack>-NagReport.csv files cdk-nag writes into an assembly; a build whose synth failed
# on a finding still has them. cmd/nist imports no CDK/jsii code; its tests (internal/nagreport) run in `go test ./...`.

# Keep the Makefile's default goal: this fragment is included before the Makefile's own first rule.
NIST_SAVED_GOAL := $(.DEFAULT_GOAL)

NIST_OUT     ?= cdk.out
NIST_DIFF_MD ?=

.PHONY: nist nist-diff

## nist: cdk-nag's findings and suppressions per pack and stage of the synthesized app
nist: $(if $(wildcard $(NIST_OUT)/manifest.json),,synth)
	go run ./cmd/nist -out $(NIST_OUT)

# The labels reach the recipe through its environment (exported by mk/cost.mk), not its text.
## nist-diff: what a change does to compliance: suppressions added/removed, findings (BASE_OUT= HEAD_OUT=, default make review's)
nist-diff:
	@go run ./cmd/nist -base "$(or $(BASE_OUT),$(REVIEW_DIR)/base.out)" -out "$(or $(HEAD_OUT),$(REVIEW_DIR)/head.out)" \
	  -base-label "$$BASE_LABEL" -head-label "$$HEAD_LABEL" $(if $(NIST_DIFF_MD),-md "$(NIST_DIFF_MD)")

.DEFAULT_GOAL := $(NIST_SAVED_GOAL)
