# mk/diagram.mk: architecture diagram generated from the synthesized app (issue 7, "Docs").
#   make diagram                    render cdk.out (synthesized first only if cdk.out/manifest.json is missing) into
#                                   docs/architecture.dot and docs/architecture.png; commit both after a change
#   make diagram DIAGRAM_OUT=<dir>  render another synthesized cloud assembly
# tools/diagram/diagram.mjs reads <dir>/tree.json and the stack templates (plain Node, no packages, no network) and
# writes the dot source, following Ref, Fn::GetAtt, Fn::ImportValue and Fn::GetStackOutput (the network's weak
# references); Graphviz's `dot` renders it. cdk-dia was tried first: it ignores Fn::GetStackOutput and merges
# same-named stacks of different stages.

# Keep the Makefile's default goal: this fragment is included before the Makefile's own first rule.
DIAGRAM_SAVED_GOAL := $(.DEFAULT_GOAL)

DIAGRAM_OUT ?= cdk.out
DIAGRAM_DOT ?= docs/architecture.dot
DIAGRAM_PNG ?= docs/architecture.png

.PHONY: diagram graphviz

## diagram: docs/architecture.png (+ .dot) from the synthesized app (cdk.out/tree.json and templates) via Graphviz
diagram: $(if $(wildcard $(DIAGRAM_OUT)/manifest.json),,synth) node_modules/.installed graphviz
	node tools/diagram/diagram.mjs --out $(DIAGRAM_OUT) --dot $(DIAGRAM_DOT)
	dot -Tpng $(DIAGRAM_DOT) -o $(DIAGRAM_PNG).tmp
	mv $(DIAGRAM_PNG).tmp $(DIAGRAM_PNG)
	@echo "diagram: $(DIAGRAM_PNG) ($$(file -b $(DIAGRAM_PNG) 2>/dev/null | grep -o '[0-9]* x [0-9]*' || true), $$(du -k $(DIAGRAM_PNG) | cut -f1) KiB)"

# Graphviz: installed with apt-get when `dot` is missing and we are root (CI containers, dev containers); otherwise
# a clear message, since installing system packages is the user's call.
graphviz:
	@command -v dot >/dev/null && exit 0; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "graphviz: \`dot\` not found, installing with apt-get"; \
	  apt-get install -y graphviz || { apt-get update && apt-get install -y graphviz; }; \
	else \
	  echo "graphviz: \`dot\` not found on PATH. Install Graphviz (Debian/Ubuntu: sudo apt-get install graphviz," \
	       "macOS: brew install graphviz) or run \`make diagram\` as root to have it installed." >&2; \
	  exit 1; \
	fi

.DEFAULT_GOAL := $(DIAGRAM_SAVED_GOAL)
