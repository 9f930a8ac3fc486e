# mk/cost.mk: monthly cost estimate per stage (issue 9).
#   make cost                 price cdk.out (synthesized first only if cdk.out/manifest.json is missing), print one
#                             table per stage and write cdk.out/cost-report.json
#   make cost COST_OUT=<dir>  price another synthesized cloud assembly
# cmd/cost imports no CDK/jsii code, so it builds in seconds; its tests (package cost) run in `go test ./...`.

# Keep the Makefile's default goal: this fragment is included before the Makefile's own first rule.
COST_SAVED_GOAL := $(.DEFAULT_GOAL)

COST_OUT ?= cdk.out

.PHONY: cost

## cost: monthly cost estimate per stage from the synthesized templates (prices: pricing/, usage: cost/usage.go)
cost: $(if $(wildcard $(COST_OUT)/manifest.json),,synth)
	go run ./cmd/cost -out $(COST_OUT)

.DEFAULT_GOAL := $(COST_SAVED_GOAL)
