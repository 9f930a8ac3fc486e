# h2o-infra: the two commands that matter are `make synth` and `make test` (see README.md).
SHELL       := bash
.SHELLFLAGS := -euo pipefail -c
STAGE       ?= dev
# The project's pinned Node (22 LTS, from npm) and CLI come first on PATH, for the CLI and for jsii alike.
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
CDK         := cdk
# Each mk/*.mk adds its own targets and appends the checks `make test` must run to EXTRA_TESTS.
EXTRA_TESTS :=
-include mk/*.mk
GO_FILES     = $(shell git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './node_modules/*')

.PHONY: deps synth test unit lint cli-check ls diff deploy clean config readme

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@# The CLI ships Go `cdk init` templates; a go.mod here keeps them out of `go test ./...`.
	printf 'module ignored/node_modules\n' > node_modules/go.mod
	touch $@

deps: node_modules/.installed
	go mod download

## synth: every stage into cdk.out/ through the pinned CLI (offline, no credentials)
synth: deps
	$(CDK) synth --quiet
	@ls cdk.out/assembly-*/*.template.json | sed 's/^/  /'

## test: unit + assertion tests, formatting, vet, cfn-lint over the synthesized templates
test: unit lint $(EXTRA_TESTS)

unit: deps
	@unformatted=$$(gofmt -l $(GO_FILES)); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	go vet ./...
	go test ./...

# The variant turns on every optional part (domain, certificates, DNS, Amplify, Slack, tracing, prod's WAF rules in
# count mode with a body limit, backup copies, PDF replication, an imported GitHub OIDC provider, operator roles for an IAM Identity
# Center permission set, prod bridging the HTTP origin while its domain is added) so those templates are linted too; it is
# synthesized beside cdk.out, not into it.
VARIANT := -c domainName=h2o.example.com -c hostedZoneId=Z0123456789ABCDEFGHIJ \
           -c frontendRepository=https://github.com/h2o-allegiant/frontend -c slackWorkspaceId=T0123ABCD -c slackChannelId=C0123ABCD \
           -c tracing=true -c prod.httpOriginTargetGroup=primary -c prod.wafMode=count -c prod.wafBodyLimitKiB=12 -c prod.backupVaultLock=governance \
           -c prod.backupCopyVaultArn=arn:aws:backup:us-west-2:123456789012:backup-vault:h2o-copy \
           -c prod.pdfReplicationBucketArn=arn:aws:s3:::h2o-prod-pdf-replica \
           -c prod.pdfReplicationKmsKeyArn=arn:aws:kms:us-west-2:123456789012:key/0123abcd-0123-4567-89ab-0123456789ab \
           -c ci.githubOidcProviderArn=arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com \
           -c ci.operatorRequireMfa=false \
           -c 'ci.operatorPrincipalArns=arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_H2OOperator_*'

lint: synth cli-check
	$(CDK) synth --quiet $(VARIANT) -o .build/variant.out >/dev/null
	@if command -v cfn-lint >/dev/null; then \
	  echo "cfn-lint $$(cfn-lint --version | awk '{print $$2}') over cdk.out and the all-options variant"; \
	  cfn-lint cdk.out/*.template.json cdk.out/assembly-*/*.template.json .build/variant.out/assembly-*/*.template.json; \
	else echo "cfn-lint not on PATH: skipped"; fi

# A bad context value and a misspelled key must each stop the CLI with a message naming the key.
cli-check: deps
	@out=$$($(CDK) synth --quiet -c alarmEmail=not-an-email -o .build/bad-out 2>&1) && { echo "bad alarmEmail was accepted"; exit 1; }; \
	  grep -q 'alarmEmail = "not-an-email"' <<<"$$out" || { echo "$$out"; echo "error does not name alarmEmail"; exit 1; }; \
	  out=$$($(CDK) synth --quiet -c alarmEmial=ops@company.com -o .build/bad-out 2>&1) && { echo "misspelled alarmEmial was accepted"; exit 1; }; \
	  grep -q 'did you mean "alarmEmail"' <<<"$$out" || { echo "$$out"; echo "error does not suggest alarmEmail"; exit 1; }; \
	  echo "cli-check: bad alarmEmail and misspelled alarmEmial rejected by cdk synth"

ls: deps
	$(CDK) ls

diff: deps
	$(CDK) diff -c stage=$(STAGE) '$(STAGE)/*'

# Deploys go through scripts/deploy.sh, the same path as the deploy workflow: it wakes a sleeping dev, migrates
# before the service switches images, verifies and rolls back. IMAGE_TAG deploys that image (in ECR, or built
# from BACKEND_DIR); without it the stage keeps the image it runs (--keep-image: infrastructure changes only).
# HOTFIX=1 deploys while a deployment alarm is in ALARM, the script watching the release (docs/runbook.md).
deploy: deps
	@go run ./cmd/config -stage $(STAGE) -deploy-check
	$(if $(IMAGE_TAG),IMAGE_TAG=$(IMAGE_TAG) scripts/deploy.sh,scripts/deploy.sh --keep-image)$(if $(HOTFIX), --hotfix) $(STAGE)

clean:
	rm -rf cdk.out .build node_modules

## config: the effective settings of STAGE (dev, prod, ci) and where each value came from (ARGS='-c key=value ...')
config:
	go run ./cmd/config -stage $(STAGE) $(ARGS)

## readme: regenerate README.md's configuration tables from config/ and its NIST exceptions from stacks/nist.go
readme:
	go run ./cmd/config -readme
	go run ./cmd/nistdoc
