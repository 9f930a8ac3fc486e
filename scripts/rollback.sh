#!/usr/bin/env bash
# rollback.sh: put the previous (or a given) backend image back on one stage, through CloudFormation by default.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/rollback.sh [--help] [--emergency] <stage> [image-tag]

Rolls the backend of <stage> (dev or prod) back to an earlier image.

Which image: <image-tag> when given. Otherwise "the previous tag" is found in the task definition history of
the running service: starting from the revision the service runs now, the revisions of its family are read
newest first (up to ROLLBACK_SEARCH_DEPTH, default 20, including INACTIVE ones, which CloudFormation
deregisters when it replaces them) and the first whose backend image tag differs from the running one wins.
That is the last image this stage actually ran, unlike "the image pushed to ECR before the current one",
which may be a build that never deployed, or one deployed only to the other stage (both stages share the
h2o-backend repository).

Default path (CloudFormation, no drift):
  checks the tag exists in ECR, then
  `npx cdk deploy '<stage>/*' -c stage=<stage> -c imageTag=<tag> --require-approval never`,
  `aws ecs wait services-stable`, and GET <ApiUrl>/health.
--emergency (when CloudFormation itself is stuck or too slow):
  `aws ecs update-service --task-definition <family>:<previous revision>` directly (a revision that
  CloudFormation deregistered is registered again as a new revision first, since ECS refuses INACTIVE ones),
  then the same wait and health check. WARNING: the service then drifts from stack h2o-<stage>-compute until
  the next `cdk deploy` of the stage, which puts the stack's image back: follow up with
  `scripts/rollback.sh <stage> <tag>` (or revert the commit and deploy) to make the rollback stick.

Environment:
  AWS_ACCOUNT_ID, SMOKE_ATTEMPTS, SMOKE_DELAY  as for deploy.sh
  ROLLBACK_SEARCH_DEPTH  task definition revisions to look back through (default 20)
  DRY_RUN=1              print every cdk/aws/curl command instead of running it (needs no credentials)

Exit status: 0 rolled back and healthy; 1 failed; 2 bad usage or unknown stage.
EOF
}

# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

stage="" tag="" emergency=0 positional=0
for arg in "$@"; do
  case $arg in
    -h | --help) usage; exit 0 ;;
    --emergency) emergency=1 ;;
    -*) die_usage "unknown option '$arg'" ;;
    *)
      positional=$((positional + 1))
      case $positional in
        1) stage=$arg ;;
        2) tag=$arg ;;
        *) die_usage "unexpected argument '$arg'" ;;
      esac
      ;;
  esac
done
[[ -n $stage ]] || die_usage "missing <stage>"
validate_stage "$stage"
if [[ -n $tag && ! $tag =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]]; then
  die_usage "'$tag' is not a valid image tag"
fi
depth=${ROLLBACK_SEARCH_DEPTH:-20}
[[ $depth =~ ^[0-9]+$ ]] || die_usage "ROLLBACK_SEARCH_DEPTH must be a number"

outputs=$(stack_outputs "h2o-$stage-compute") || die "cannot read the outputs of stack h2o-$stage-compute"
cluster=$(output_value "$outputs" ClusterName)
service=$(output_value "$outputs" ServiceName)
container=$(output_value "$outputs" ContainerName)

running=$(running_task_definition "$cluster" "$service") || die "cannot describe service $service"
[[ -n $running && $running != None ]] || die "service $service not found in cluster $cluster"
running_ref=${running##*/} # family:revision
family=${running_ref%:*}
running_rev=${running_ref##*:}
info=$(task_definition_info "$running" "$container") || die "cannot describe $running"
running_tag=$(image_tag "${info#*$'\t'}")
log "$service runs $running_ref, image tag ${running_tag:-<none>}"

# find_revision: the newest revision older than the running one whose image tag is $tag (when given) or
# differs from the running one; sets target_rev, target_tag, target_status.
target_rev="" target_tag=$tag target_status=""
find_revision() {
  local r info t lowest=$((running_rev - depth))
  ((lowest >= 1)) || lowest=1
  for ((r = running_rev - 1; r >= lowest; r--)); do
    info=$(task_definition_info "$family:$r" "$container") || continue
    t=$(image_tag "${info#*$'\t'}")
    [[ -n $t ]] || continue
    if [[ -n $tag && $t == "$tag" ]] || [[ -z $tag && $t != "$running_tag" ]]; then
      target_rev=$r target_tag=$t target_status=${info%%$'\t'*}
      return 0
    fi
  done
  return 1
}

if [[ -z $tag || $emergency == 1 ]]; then
  if [[ $DRY_RUN != 0 ]]; then
    # The dry run cannot know the running revision: show the first look-up, answer with placeholders.
    task_definition_info "$family:<revision - 1>" "$container" >/dev/null
    target_rev='<previous-revision>' target_tag=${tag:-<previous-tag>} target_status=ACTIVE
  elif ! find_revision; then
    if [[ -n $tag ]]; then
      die "no revision of $family in the last $depth runs image tag $tag: roll back without --emergency"
    fi
    die "no earlier image than $running_tag in the last $depth revisions of $family: pass <image-tag>"
  fi
fi

smoke() {
  local edge url
  edge=$(stack_outputs "h2o-$stage-edge") || die "cannot read the outputs of stack h2o-$stage-edge"
  url=$(output_value "$edge" ApiUrl)
  smoke_test "${url%/}/health" || die "rolled back to $target_tag, but $url/health still fails: see docs/runbook.md"
}

if [[ $emergency == 0 ]]; then
  log "rolling $stage back to image tag $target_tag through CloudFormation"
  run aws ecr describe-images --region "$REGION" --repository-name "$ECR_REPOSITORY" \
    --image-ids "imageTag=$target_tag" --query 'imageDetails[0].imageDigest' --output text >/dev/null ||
    die "image tag $target_tag is not in ECR repository $ECR_REPOSITORY"
  cdk_deploy "$stage" "$target_tag" || die "cdk deploy of $target_tag failed"
  wait_stable "$cluster" "$service" || die "service $service did not become stable on $target_tag"
  smoke
  log "rolled $stage back to $target_tag"
  exit 0
fi

taskdef="$family:$target_rev"
warn "--emergency: updating service $service directly to $taskdef (image tag $target_tag)."
warn "The service now drifts from stack h2o-$stage-compute: the next cdk deploy of $stage puts the stack's"
warn "image back. Make it stick with: scripts/rollback.sh $stage $target_tag"
if [[ $target_status == INACTIVE ]]; then
  command -v jq >/dev/null || die "$taskdef is INACTIVE and jq is needed to register it again"
  log "$taskdef is INACTIVE (deregistered by CloudFormation): registering it again as a new revision"
  json=$(capture '{}' aws ecs describe-task-definition --region "$REGION" --task-definition "$taskdef" \
    --query taskDefinition --output json)
  tmp=$(mktemp)
  trap 'rm -f "$tmp"' EXIT
  jq -c 'del(.taskDefinitionArn, .revision, .status, .requiresAttributes, .compatibilities,
          .registeredAt, .registeredBy, .deregisteredAt)' <<<"$json" >"$tmp"
  taskdef=$(capture "$family:<new-revision>" aws ecs register-task-definition --region "$REGION" \
    --cli-input-json "file://$tmp" --query 'taskDefinition.taskDefinitionArn' --output text)
fi
run aws ecs update-service --region "$REGION" --cluster "$cluster" --service "$service" \
  --task-definition "$taskdef" --query 'service.taskDefinition' --output text >/dev/null
wait_stable "$cluster" "$service" || die "service $service did not become stable on $taskdef"
smoke
warn "rolled $stage back to $taskdef outside CloudFormation: run scripts/rollback.sh $stage $target_tag next"
