# mk/ops.mk: delivery and operations (issue 7): checks of scripts/, .github/workflows/ and docs/examples/, the guard.
#   make ops-test                               shellcheck + actionlint + the guard's node tests (part of `make test`)
#   make guard BASE_OUT=<dir> HEAD_OUT=<dir>    compare two synthesized cloud assemblies; exit 1 on a stateful loss
#   make review BASE=<git-rev>                  synthesize <git-rev> and the work tree, then run the guard
# The Go tests of scripts/ (fake aws/docker/npx/curl/git) run in `go test ./...` with the others.

# Keep the Makefile's default goal: this fragment is included before the Makefile's own first rule.
OPS_SAVED_GOAL := $(.DEFAULT_GOAL)

OPS_BIN            := $(CURDIR)/.build/bin
ACTIONLINT_VERSION := v1.7.12
ACTIONLINT         := $(OPS_BIN)/actionlint-$(ACTIONLINT_VERSION)/actionlint
REVIEW_DIR         := .build/review
EXTRA_TESTS        += ops-test

.PHONY: ops-test shellcheck actionlint guard-test guard review

ops-test: shellcheck actionlint guard-test

# shellcheck from Debian: installed when missing and running as root (CI), otherwise skipped with a message.
shellcheck:
	@if ! command -v shellcheck >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing shellcheck (apt-get)"; \
	    apt-get install -y -qq shellcheck >/dev/null 2>&1 || { apt-get update -qq >/dev/null && apt-get install -y -qq shellcheck >/dev/null; } || true; \
	  fi; \
	fi; \
	if command -v shellcheck >/dev/null; then \
	  shellcheck -x scripts/*.sh && echo "shellcheck $$(shellcheck --version | awk '/^version:/ {print $$2}'): scripts/*.sh clean"; \
	else echo "shellcheck not installed (apt-get install shellcheck / brew install shellcheck): skipped"; fi

# actionlint, built from source through the Go module proxy into .build/bin (pinned, project-local).
$(ACTIONLINT):
	GOBIN=$(dir $@) go install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)

# actionlint also runs shellcheck over every `run:` block when shellcheck is on PATH. The sample workflows in
# docs/examples (for other repositories, e.g. the backend's) are linted the same way.
ACTIONLINT_FILES = $(wildcard .github/workflows/*.yml .github/workflows/*.yaml docs/examples/*.yml docs/examples/*.yaml)
actionlint: $(ACTIONLINT)
	$(ACTIONLINT) -no-color $(ACTIONLINT_FILES)
	@echo "actionlint $(ACTIONLINT_VERSION): .github/workflows and docs/examples clean"

# Hand-made assemblies, then the real synthesized app with one change at a time (needs cdk.out: synth).
guard-test: node_modules/.installed synth
	node --test tools/guard/guard.test.mjs tools/guard/real.test.mjs

guard: node_modules/.installed
	@if [ -z "$(BASE_OUT)" ] || [ -z "$(HEAD_OUT)" ]; then \
	  echo "usage: make guard BASE_OUT=<cloud assembly dir> HEAD_OUT=<cloud assembly dir>" >&2; exit 2; fi
	node tools/guard/guard.mjs "$(BASE_OUT)" "$(HEAD_OUT)"

# The base revision is checked out as a detached worktree and synthesized there with this checkout's pinned CLI
# and Go toolchain (its go.mod, its code); the work tree is synthesized into $(REVIEW_DIR)/head.out, leaving
# cdk.out alone.
review: deps
	@if [ -z "$(BASE)" ]; then echo "usage: make review BASE=<git-rev>" >&2; exit 2; fi
	@rev=$$(git rev-parse --verify --quiet "$(BASE)^{commit}") || { echo "review: unknown revision '$(BASE)'" >&2; exit 2; }; \
	  git worktree remove --force $(REVIEW_DIR)/base 2>/dev/null || rm -rf $(REVIEW_DIR)/base; \
	  git worktree prune; \
	  mkdir -p $(REVIEW_DIR); \
	  git worktree add --detach --quiet $(REVIEW_DIR)/base "$$rev"; \
	  echo "review: synthesizing base $$(git rev-parse --short "$$rev") into $(REVIEW_DIR)/base.out"; \
	  rm -rf $(REVIEW_DIR)/base.out $(REVIEW_DIR)/head.out; \
	  (cd $(REVIEW_DIR)/base && $(CDK) synth --quiet -o $(CURDIR)/$(REVIEW_DIR)/base.out); \
	  echo "review: synthesizing the work tree into $(REVIEW_DIR)/head.out"; \
	  $(CDK) synth --quiet -o $(REVIEW_DIR)/head.out; \
	  git worktree remove --force $(REVIEW_DIR)/base; \
	  node tools/guard/guard.mjs $(REVIEW_DIR)/base.out $(REVIEW_DIR)/head.out

.DEFAULT_GOAL := $(OPS_SAVED_GOAL)
