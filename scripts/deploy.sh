#!/usr/bin/env bash
# deploy.sh: build and push the backend image, deploy it to one stage through CloudFormation, verify it,
# and roll back to the image that ran before if anything fails. The same steps as .github/workflows/deploy.yml.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/deploy.sh [--help] <stage>

Deploys the backend to <stage> (dev or prod) in us-east-1:
  1. records the image tag the ECS service runs now (the automatic rollback's target);
  2. builds the image for the service's CPU architecture with `docker buildx build --platform linux/$ARCH`
     and pushes it to ECR as <account>.dkr.ecr.us-east-1.amazonaws.com/h2o-backend:<tag>
     (skipped when that tag is already in ECR, e.g. pushed by the workflow's build step);
  3. `npx cdk deploy '<stage>/*' -c stage=<stage> -c imageTag=<tag> --require-approval never`;
  4. `aws ecs wait services-stable` on the service (stack outputs ClusterName, ServiceName of h2o-<stage>-compute);
  5. smoke test: GET <ApiUrl>/health (output of h2o-<stage>-edge) must answer 2xx, with retries.
If step 3, 4 or 5 fails, it runs `scripts/rollback.sh <stage> <tag recorded in step 1>` and exits 1
(exits 1 without a rollback on a first deploy, when nothing ran before).

Environment:
  IMAGE_TAG       image tag (default: `git rev-parse HEAD` of the backend directory's repository)
  BACKEND_DIR     docker build context (default: backend/ of this repository)
  ARCH            arm64 (default, Graviton tasks) or amd64; must match the task definition's CPU architecture
  AWS_ACCOUNT_ID  account of the ECR registry (default: `aws sts get-caller-identity`)
  SMOKE_ATTEMPTS  health check attempts (default 5), SMOKE_DELAY seconds between them (default 10)
  DRY_RUN=1       print every docker/cdk/aws/git/curl command instead of running it (needs no credentials)

Exit status: 0 deployed and healthy; 1 failed (rolled back when possible); 2 bad usage or unknown stage.
EOF
}

# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

parse_stage_argument "$@"

arch=${ARCH:-arm64}
case $arch in arm64 | amd64) ;; *) die_usage "ARCH must be arm64 or amd64, not '$arch'" ;; esac
backend_dir=${BACKEND_DIR:-$REPO_ROOT/backend}
if [[ $DRY_RUN == 0 && ! -d $backend_dir ]]; then
  die "backend directory '$backend_dir' not found (set BACKEND_DIR to the directory with the Dockerfile)"
fi

tag=${IMAGE_TAG:-}
if [[ -z $tag ]]; then
  tag=$(capture '<git-sha>' git -C "$backend_dir" rev-parse HEAD)
fi
if [[ $tag != '<git-sha>' && ! $tag =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]]; then
  die_usage "'$tag' is not a valid image tag"
fi

account=$(aws_account)
registry="$account.dkr.ecr.$REGION.amazonaws.com"
image="$registry/$ECR_REPOSITORY:$tag"

# running_tag: the image tag the service runs now; fails when there is no service yet.
running_tag() {
  local outputs cluster service container taskdef info
  outputs=$(stack_outputs "h2o-$stage-compute") || return 1
  cluster=$(output_value "$outputs" ClusterName) || return 1
  service=$(output_value "$outputs" ServiceName) || return 1
  container=$(output_value "$outputs" ContainerName) || return 1
  taskdef=$(running_task_definition "$cluster" "$service") || return 1
  [[ -n $taskdef && $taskdef != None ]] || return 1
  info=$(task_definition_info "$taskdef" "$container") || return 1
  image_tag "${info#*$'\t'}"
}

# deploy_and_verify: steps 3 to 5; fails at the first step that fails.
deploy_and_verify() {
  local outputs cluster service edge url
  cdk_deploy "$stage" "$tag" || return 1
  outputs=$(stack_outputs "h2o-$stage-compute") || return 1
  cluster=$(output_value "$outputs" ClusterName) || return 1
  service=$(output_value "$outputs" ServiceName) || return 1
  wait_stable "$cluster" "$service" || return 1
  edge=$(stack_outputs "h2o-$stage-edge") || return 1
  url=$(output_value "$edge" ApiUrl) || return 1
  smoke_test "${url%/}/health"
}

log "deploying $image to $stage"
previous_tag=""
if previous_tag=$(running_tag) && [[ -n $previous_tag && $previous_tag != None ]]; then
  log "the service runs $previous_tag now: the rollback target"
else
  previous_tag=""
  log "no running service found (first deploy?): no automatic rollback"
fi

if [[ $DRY_RUN == 0 ]] && run aws ecr describe-images --region "$REGION" --repository-name "$ECR_REPOSITORY" \
  --image-ids "imageTag=$tag" --query 'imageDetails[0].imageDigest' --output text >/dev/null 2>&1; then
  log "$image is already in ECR: not rebuilt"
else
  [[ $DRY_RUN == 0 ]] || trace aws ecr describe-images --region "$REGION" --repository-name "$ECR_REPOSITORY" \
    --image-ids "imageTag=$tag" --query 'imageDetails[0].imageDigest' --output text
  ecr_login "$registry"
  run docker buildx build --platform "linux/$arch" --tag "$image" --push "$backend_dir"
fi

if deploy_and_verify; then
  [[ $DRY_RUN == 0 ]] || printf '# on failure: %s\n' "$(words scripts/rollback.sh "$stage" "${previous_tag:-<previous-tag>}")"
  log "deployed $tag to $stage: healthy"
  exit 0
fi

log "deploy of $tag to $stage failed"
if [[ -z $previous_tag ]]; then
  die "nothing ran before this deploy: no automatic rollback (see docs/runbook.md)"
fi
if [[ $previous_tag == "$tag" ]]; then
  die "the service already ran $tag before this deploy: nothing to roll back to"
fi
log "rolling back to $previous_tag"
if "$SCRIPTS_DIR/rollback.sh" "$stage" "$previous_tag"; then
  die "deploy of $tag failed; rolled back to $previous_tag"
fi
die "deploy of $tag failed and the rollback to $previous_tag failed too: see docs/runbook.md"
