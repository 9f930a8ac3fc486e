#!/usr/bin/env bash
# rollback.sh: put the previous (or a given) backend image back on one stage, through CloudFormation by default.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/rollback.sh [--help] [--emergency] [--] <stage> [image-tag]

Rolls the backend of <stage> (dev or prod) back to an earlier image. The stage and tag are checked before any
AWS call (bad ones, an empty tag included, exit 2); after `--` no argument is read as an option, so a tag such as
`--emergency` is refused as a tag (the rollback workflow passes its inputs that way). A marker tag (live-<stage>,
previous-<stage>) stands for the image it names now: the image's own tag is deployed, never the marker.

Which image: <image-tag> when given. Otherwise "the previous tag" comes from the image-tag history of the
service's task definition family: the revisions older than the running one are read newest first (up to
ROLLBACK_SEARCH_DEPTH, default 20, INACTIVE ones included: CloudFormation deregisters a revision when it
replaces it), and the previous tag is the one of the newest revision older than the OLDEST revision that runs
the current tag, i.e. what ran before the running image was first deployed. Revisions between two runs of the
current tag were rolled away from, so a second rollback does not go back to them. Example, newest first:
r11 A (running), r10 B, r9 A, r8 Z: the previous tag is Z. This is what the stage really ran, unlike "the image
pushed to ECR before the current one" (a build that never deployed, or deployed only to the other stage: both
stages share the h2o-backend repository).

The stack h2o-<stage>-compute must be in a stable state: an operation in progress on it is waited for (at
most STACK_WAIT_CHECKS x STACK_POLL_DELAY s), a stack that needs repair (UPDATE_ROLLBACK_FAILED, DELETE_FAILED)
stops the rollback with the command to repair it (--emergency goes ahead, around CloudFormation). A failed AWS
read (throttled beyond AWS_READ_ATTEMPTS, access denied, expired credentials, no network) stops it too: a revision
that cannot be read is never skipped.

Default path (CloudFormation, no drift):
  checks the tag exists in ECR, then
  `npx cdk deploy '<stage>/compute' --exclusively -c stage=<stage> --require-approval never
      --parameters h2o-<stage>-compute:ImageTag=<tag>`,
  `aws ecs wait services-stable`, and GET <ApiUrl>/health.
--emergency (when CloudFormation itself is stuck or too slow):
  `aws ecs update-service --task-definition <family>:<revision>` directly, with the newest revision of that
  image (older than the running one) that is not being deleted (DELETE_IN_PROGRESS); a revision that is not
  ACTIVE is registered again as a new revision first, with its tags (ECS refuses INACTIVE ones), then the same
  wait and health check. WARNING: the service then drifts from stack h2o-<stage>-compute, whose ImageTag
  parameter still names the image rolled away from: scripts/deploy.sh keeps the running image (it passes it as
  ImageTag), but a plain `cdk deploy` of the stage would put the stack's image back: follow up with
  `scripts/rollback.sh <stage> <tag>` (or revert the commit and deploy) to make the rollback stick.
Both paths move the ECR tags previous-<stage> (the image rolled away from) and live-<stage> (the one running now).

Environment:
  AWS_ACCOUNT_ID, SMOKE_ATTEMPTS, SMOKE_DELAY  as for deploy.sh
  ROLLBACK_SEARCH_DEPTH  task definition revisions to look back through (default 20)
  STACK_WAIT_CHECKS, STACK_POLL_DELAY, AWS_READ_ATTEMPTS, AWS_RETRY_DELAY  as for deploy.sh
  DRY_RUN=1              print every cdk/aws/curl command instead of running it (needs no credentials)

Exit status: 0 rolled back and healthy; 1 failed; 2 bad usage or unknown stage.
EOF
}

# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

stage="" tag="" tag_given=0 emergency=0 positional=0 options=1
for arg in "$@"; do
  if ((options)); then
    case $arg in
      --) options=0; continue ;;
      -h | --help) usage; exit 0 ;;
      --emergency) emergency=1; continue ;;
      -*) die_usage "unknown option '$arg'" ;;
    esac
  fi
  positional=$((positional + 1))
  case $positional in
    1) stage=$arg ;;
    2) tag=$arg tag_given=1 ;;
    *) die_usage "unexpected argument '$arg'" ;;
  esac
done
[[ -n $stage ]] || die_usage "missing <stage>"
validate_stage "$stage"
# An empty tag is a mistake (an empty workflow input passed on), not "the previous image": that is no tag at all.
if ((tag_given)) && [[ -z $tag ]]; then
  die_usage "empty <image-tag>: leave it out to roll back to the previous image"
fi
if [[ -n $tag && ! $tag =~ $TAG_PATTERN ]]; then
  die_usage "'$tag' is not a valid image tag"
fi
depth=${ROLLBACK_SEARCH_DEPTH:-20}
positive_number ROLLBACK_SEARCH_DEPTH "$depth"

# previous-<stage> names what ran before: its image's own tag is the target.
if [[ -n $tag ]]; then
  resolve_tag "$tag"
  tag=$resolved_tag
fi

mode=""
[[ $emergency == 0 ]] || mode=tolerant
open_stack compute "$mode" ||
  die "stack h2o-$stage-compute $(no_stack_reason): no service to roll back (deploy the stage: scripts/deploy.sh)"
open_stack edge "$mode" || die "stack h2o-$stage-edge $(no_stack_reason): no health check possible (deploy the stage first)"
cluster=$(output_value compute ClusterName)
service=$(output_value compute ServiceName)
container=$(output_value compute ContainerName)

running=$(running_task_definition "$cluster" "$service") || die "cannot describe service $service (the AWS CLI's error is above)"
[[ -n $running && $running != None ]] || die "service $service not found in cluster $cluster"
running_ref=${running##*/} # family:revision
family=${running_ref%:*}
running_rev=${running_ref##*:}
info=$(task_definition_info "$running" "$container") || die "cannot describe $running (the AWS CLI's error is above)"
running_tag=$(image_tag "${info#*$'\t'}")
[[ $DRY_RUN == 0 ]] || running_tag='<running-tag>'
log "$service runs $running_ref, image tag ${running_tag:-<none>}"

# Hints for a failure, with --region, for AWS CLI v1 and v2 alike.
events_hint() {
  log "what ECS says: $(words aws ecs describe-services --region "$REGION" --cluster "$cluster" --services "$service" \
    --query 'services[0].events[:10].[createdAt,message]' --output text)"
  log "what CloudFormation says: $(words aws cloudformation describe-stack-events --region "$REGION" \
    --stack-name "h2o-$stage-compute" --max-items 20 \
    --query 'StackEvents[].[Timestamp,LogicalResourceId,ResourceStatus,ResourceStatusReason]' --output text)"
}

# History: revisions older than the running one, newest first, as parallel arrays (bash 3.2 has no maps). A revision
# ECS no longer has (deleted) is skipped; one that could not be read stops the rollback: skipping it could make
# "previous" an image from two releases ago.
hist_rev=() hist_status=() hist_tag=()
read_history() {
  local r info t rc lowest=$((running_rev - depth))
  ((lowest >= 1)) || lowest=1
  for ((r = running_rev - 1; r >= lowest; r--)); do
    rc=0
    info=$(task_definition_info "$family:$r" "$container") || rc=$?
    case $rc in
      0) ;;
      3) continue ;;
      *) die "cannot read revision $r of $family (the AWS CLI's error is above): stopped rather than skip it" ;;
    esac
    t=$(image_tag "${info#*$'\t'}")
    [[ -n $t && $t != None ]] || continue
    hist_rev+=("$r") hist_status+=("${info%%$'\t'*}") hist_tag+=("$t")
  done
}

# choose_target: sets target_tag (and, for --emergency, target_rev and target_status) from the history.
target_tag=$tag target_rev="" target_status=""
choose_target() {
  local i boundary=$running_rev n=${#hist_rev[@]}
  if [[ -z $tag ]]; then
    # The oldest revision that runs the current tag; what ran before it is the previous image.
    for ((i = 0; i < n; i++)); do
      [[ ${hist_tag[i]} != "$running_tag" ]] || boundary=${hist_rev[i]}
    done
    for ((i = 0; i < n; i++)); do
      if ((hist_rev[i] < boundary)); then
        target_tag=${hist_tag[i]}
        break
      fi
    done
    [[ -n $target_tag ]] ||
      die "no earlier image than ${running_tag:-<none>} in the last $depth revisions of $family: pass <image-tag>"
    log "the previous image (before $running_tag was first deployed, revision $boundary) is $target_tag"
  fi
  [[ $emergency == 1 ]] || return 0
  # A revision being deleted (DELETE_IN_PROGRESS) cannot be the target of update-service
  # (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeleteTaskDefinitions.html): the newest
  # other revision of the image wins; when only such revisions run it, its definition is registered again.
  local fallback=""
  for ((i = 0; i < n; i++)); do
    if ((hist_rev[i] >= boundary)) || [[ ${hist_tag[i]} != "$target_tag" ]]; then
      continue
    fi
    if [[ ${hist_status[i]} == DELETE_IN_PROGRESS ]]; then
      [[ -n $fallback ]] || fallback=$i
      continue
    fi
    target_rev=${hist_rev[i]} target_status=${hist_status[i]}
    log "revision $target_rev ($target_status) runs $target_tag"
    return 0
  done
  if [[ -n $fallback ]]; then
    target_rev=${hist_rev[fallback]} target_status=${hist_status[fallback]}
    return 0
  fi
  die "no revision of $family in the last $depth runs image tag $target_tag: roll back without --emergency"
}

if [[ -z $tag || $emergency == 1 ]]; then
  if [[ $DRY_RUN != 0 ]]; then
    # The dry run cannot know the running revision: show the first look-up, answer with placeholders.
    task_definition_info "$family:<revision - 1>" "$container" >/dev/null
    dry_note "... and the older revisions, up to ROLLBACK_SEARCH_DEPTH=$depth"
    target_rev='<previous-revision>' target_tag=${tag:-<previous-tag>} target_status=ACTIVE
  else
    read_history
    choose_target
  fi
fi

# finish WHAT: the ending of both paths, once the service was pointed at WHAT (the tag, or the task definition):
# wait until it is stable, GET /health, move the ECR tags.
finish() {
  wait_stable "$cluster" "$service" || { events_hint; die "service $service did not become stable on $1"; }
  stage_health ||
    { events_hint; die "rolled back to $target_tag, but ${health_url:-<ApiUrl>/health} still fails: see docs/runbook.md"; }
  move_ecr_tags "$stage" "$running_tag" "$target_tag"
}

if [[ $emergency == 0 ]]; then
  # A marker tag found in the history (deployed by an older version of these scripts) is no fixed image.
  resolve_tag "$target_tag"
  target_tag=$resolved_tag
  log "rolling $stage back to image tag $target_tag through CloudFormation"
  ecr_has_tag "$target_tag" || die "image tag $target_tag is not in ECR repository $ECR_REPOSITORY"
  cdk_deploy_service "$stage" "$target_tag" || {
    events_hint
    die "cdk deploy of $target_tag failed; if CloudFormation is stuck: scripts/rollback.sh --emergency $stage $target_tag"
  }
  finish "$target_tag"
  log "rolled $stage back to $target_tag"
  exit 0
fi

taskdef="$family:$target_rev"
warn "--emergency: updating service $service directly to $taskdef (image tag $target_tag)."
warn "The service now drifts from stack h2o-$stage-compute: a plain cdk deploy of $stage would put the stack's"
warn "image back (scripts/deploy.sh keeps the running one). Make it stick with: scripts/rollback.sh $stage $target_tag"
if [[ $target_status != ACTIVE ]]; then
  command -v jq >/dev/null || die "$taskdef is $target_status and jq is needed to register it again"
  log "$taskdef is $target_status: registering its definition again as a new revision"
  json=$(aws_read '{"taskDefinition":{}}' '' aws ecs describe-task-definition --region "$REGION" \
    --task-definition "$taskdef" --include TAGS --output json) || die "cannot describe $taskdef (the AWS CLI's error is above)"
  tmp=$(mktemp)
  trap 'rm -f "$tmp"' EXIT
  # Read-only fields go; the revision's tags stay (but not aws:* ones, which only AWS may set).
  jq -c '(.tags // [] | map(select(.key | startswith("aws:") | not))) as $tags
    | .taskDefinition
    | del(.taskDefinitionArn, .revision, .status, .requiresAttributes, .compatibilities,
          .registeredAt, .registeredBy, .deregisteredAt, .deleteRequestedAt)
    | if ($tags | length) > 0 then . + {tags: $tags} else . end' <<<"$json" >"$tmp"
  taskdef=$(capture "$family:<new-revision>" aws ecs register-task-definition --region "$REGION" \
    --cli-input-json "file://$tmp" --query 'taskDefinition.taskDefinitionArn' --output text) ||
    die "cannot register $family again"
fi
run aws ecs update-service --region "$REGION" --cluster "$cluster" --service "$service" \
  --task-definition "$taskdef" --query 'service.taskDefinition' --output text >/dev/null ||
  die "update-service to $taskdef failed"
finish "$taskdef"
warn "rolled $stage back to $taskdef outside CloudFormation: run scripts/rollback.sh $stage $target_tag next"
