# mk/drift.mk: the nightly checks by hand, with your own AWS credentials (they need the read permissions the
# drift role h2o-drift holds: docs/runbook.md, "Drift").
#   make drift STAGE=dev|prod|ci   drift detection on the stage's stacks (or h2o-ci): scripts/drift.sh
#   make versions STAGE=dev|prod   whether AWS still supports its PostgreSQL and Valkey: scripts/versions.sh

# Keep the Makefile's default goal: this fragment is included before the Makefile's own first rule.
DRIFT_SAVED_GOAL := $(.DEFAULT_GOAL)

.PHONY: drift versions

drift:
	scripts/drift.sh $(STAGE)

versions:
	scripts/versions.sh $(STAGE)

.DEFAULT_GOAL := $(DRIFT_SAVED_GOAL)
