# shellcheck shell=bash
# Shared helpers of the scripts in scripts/. Sourced, never run; bash 3.2 compatible (macOS).
#
# Contract with the CDK stacks (see stacks/ and docs/runbook.md, "Names"): region us-east-1, ECR repository
# h2o-backend (shared by the stages; tags immutable except live-* and previous-*), stacks h2o-<stage>-network,
# -data, -compute, -edge, -observability, with the outputs
#   compute:        ClusterName, ServiceName, TaskDefinitionFamily, ContainerName, TaskSubnetIds, TaskSecurityGroupId,
#                   AssignPublicIp, LogGroupName, MigrationTaskDefinitionArn, MinTasks, MaxTasks, TargetGroupArn
#                   and the parameters ImageTag (the service's image) and MigrationImageTag (the migration task's);
#   data:           DatabaseInstanceId, DatabaseSecretArn, BackupVaultName (only with an AWS Backup plan: prod);
#   edge:           ApiUrl, DistributionId, WebAclArn (only with a WAF: not in dev);
#   observability:  AlarmTopicArn, AlarmTopicName, CanaryAlarmName.

REGION=us-east-1
ECR_REPOSITORY=h2o-backend
STAGES="dev prod"
SCRIPTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPTS_DIR/.." && pwd)
DRY_RUN=${DRY_RUN:-0}
# A Docker tag, as Docker and the compute stack's ImageTag parameter accept it (used by the sourcing scripts).
# shellcheck disable=SC2034
TAG_PATTERN='^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$'

# Command traces go to fd 3: stdout in a dry run (they are the output), stderr otherwise (stdout stays clean).
if [[ $DRY_RUN != 0 ]]; then exec 3>&1; else exec 3>&2; fi

SCRIPT_NAME=${0##*/}
log() { printf '%s: %s\n' "$SCRIPT_NAME" "$*" >&2; }
warn() { printf '%s: WARNING: %s\n' "$SCRIPT_NAME" "$*" >&2; }
die() { printf '%s: error: %s\n' "$SCRIPT_NAME" "$*" >&2; exit 1; }
# die_usage: a wrong command line (unknown stage, bad option): exit 2, as the callers document.
die_usage() {
  printf '%s: %s\n' "$SCRIPT_NAME" "$*" >&2
  printf "Run '%s --help' for usage.\n" "$SCRIPT_NAME" >&2
  exit 2
}

# validate_stage NAME: only the stages the CDK app defines.
validate_stage() {
  local s
  for s in $STAGES; do [[ $1 == "$s" ]] && return 0; done
  die_usage "unknown stage '$1' (known stages: ${STAGES// /, })"
}

# parse_stage_argument ARGS...: sets $stage from the one <stage> argument of a script that takes no other;
# --help prints the script's usage and exits 0, bad usage exits 2.
parse_stage_argument() {
  stage=""
  local arg
  for arg in "$@"; do
    case $arg in
      -h | --help) usage; exit 0 ;;
      -*) die_usage "unknown option '$arg'" ;;
      *) [[ -z $stage ]] || die_usage "unexpected argument '$arg'"; stage=$arg ;;
    esac
  done
  [[ -n $stage ]] || die_usage "missing <stage>"
  validate_stage "$stage"
}

# positive_number NAME VALUE: VALUE must be a whole number >= 1 (for the *_ROUNDS settings), else exit 2.
positive_number() {
  [[ $2 =~ ^[1-9][0-9]*$ ]] || die_usage "$1 must be a positive whole number, not '$2'"
}

# quote ARG: ARG as a shell word, quoted only when it needs to be, so traces can be pasted into a shell; the
# result goes to $quoted (no subshell: traces are frequent).
quote() {
  if [[ $1 =~ ^[A-Za-z0-9_@%+=:,./-]+$ ]]; then
    quoted=$1
  elif [[ $1 == *"'"* && $1 != *[\"\$\`\\!]* ]]; then
    quoted="\"$1\""
  else
    quoted="'${1//\'/\'\\\'\'}'"
  fi
}

# words ARGS...: the arguments as one shell command line.
words() {
  local out="" a quoted
  for a in "$@"; do
    quote "$a"
    out+="${out:+ }$quoted"
  done
  printf '%s' "$out"
}

# trace CMD ARGS...: print "+ CMD ARGS" on fd 3.
trace() {
  printf '+ %s\n' "$(words "$@")" >&3
}

# dry_note TEXT: in a dry run, print "# TEXT" (a step that depends on an answer the dry run cannot know).
dry_note() {
  [[ $DRY_RUN != 0 ]] || return 0
  printf '# %s\n' "$*" >&3
}

# run CMD ARGS...: trace the command, then run it unless DRY_RUN is set.
run() {
  trace "$@"
  [[ $DRY_RUN != 0 ]] && return 0
  "$@"
}

# capture PLACEHOLDER CMD ARGS...: trace the command and print its output; a dry run prints PLACEHOLDER instead.
capture() {
  local placeholder=$1
  shift
  trace "$@"
  if [[ $DRY_RUN != 0 ]]; then
    printf '%s\n' "$placeholder"
    return 0
  fi
  "$@"
}

# aws_account: AWS_ACCOUNT_ID, or the caller's account.
aws_account() {
  if [[ -n ${AWS_ACCOUNT_ID:-} ]]; then
    printf '%s\n' "$AWS_ACCOUNT_ID"
    return 0
  fi
  capture '<account>' aws sts get-caller-identity --query Account --output text
}

# placeholder_outputs STACK: what a dry run answers for the stack's outputs: the values fixed by the contract
# (names), <Key> for the others; the optional outputs as a default config has them (WAF and AWS Backup in prod).
placeholder_outputs() {
  local stage=${1#h2o-} layer
  layer=${stage#*-}
  stage=${stage%%-*}
  case $layer in
    compute)
      printf '%s\t%s\n' ClusterName "h2o-$stage" ServiceName h2o-backend-service ContainerName backend \
        TaskDefinitionFamily '<TaskDefinitionFamily>' TaskSubnetIds '<TaskSubnetIds>' \
        TaskSecurityGroupId '<TaskSecurityGroupId>' AssignPublicIp '<AssignPublicIp>' \
        LogGroupName '<LogGroupName>' MigrationTaskDefinitionArn '<MigrationTaskDefinitionArn>' \
        MinTasks '<MinTasks>' MaxTasks '<MaxTasks>' TargetGroupArn '<TargetGroupArn>'
      ;;
    data)
      printf '%s\t%s\n' DatabaseInstanceId "h2o-$stage-postgres" DatabaseSecretArn '<DatabaseSecretArn>'
      [[ $stage != prod ]] || printf '%s\t%s\n' BackupVaultName '<BackupVaultName>'
      ;;
    edge)
      printf '%s\t%s\n' ApiUrl '<ApiUrl>' DistributionId '<DistributionId>'
      [[ $stage != prod ]] || printf '%s\t%s\n' WebAclArn '<WebAclArn>'
      ;;
    observability)
      printf '%s\t%s\n' AlarmTopicArn '<AlarmTopicArn>' AlarmTopicName '<AlarmTopicName>' \
        CanaryAlarmName '<CanaryAlarmName>'
      ;;
  esac
}

# stack_outputs STACK: the stack's outputs as "Key<TAB>Value" lines; fails when the stack does not exist.
stack_outputs() {
  capture "$(placeholder_outputs "$1")" aws cloudformation describe-stacks --region "$REGION" --stack-name "$1" \
    --query 'Stacks[0].Outputs[].[OutputKey,OutputValue]' --output text
}

# output_optional OUTPUTS KEY: the value of KEY in stack_outputs' answer, empty when the stack has no such output.
output_optional() {
  local key value
  while IFS=$'\t' read -r key value; do
    if [[ $key == "$2" ]]; then
      [[ $value == None ]] || printf '%s\n' "$value"
      return 0
    fi
  done <<<"$1"
}

# output_value OUTPUTS KEY: the value of KEY in stack_outputs' answer; an error names the stack's missing output.
output_value() {
  local value
  value=$(output_optional "$1" "$2")
  [[ -n $value ]] || die "stack output '$2' not found (was the stack deployed by this version of the app?)"
  printf '%s\n' "$value"
}

# json_list "a,b": ["a","b"] (the values are AWS ids: no quotes or backslashes to escape).
json_list() {
  local out="" item
  local IFS=,
  for item in $1; do
    item=${item// /}
    [[ -n $item ]] && out+="${out:+,}\"$item\""
  done
  printf '[%s]' "$out"
}

# network_configuration SUBNETS SECURITY_GROUPS ASSIGN_PUBLIC_IP: run-task's --network-configuration for a one-off
# task beside the service (the stack outputs TaskSubnetIds, TaskSecurityGroupId, AssignPublicIp).
network_configuration() {
  printf '{"awsvpcConfiguration":{"subnets":%s,"securityGroups":%s,"assignPublicIp":"%s"}}' \
    "$(json_list "$1")" "$(json_list "$2")" "$3"
}

# iso_utc EPOCH: 2006-01-02T15:04:05Z, with GNU date or BSD date (macOS).
iso_utc() {
  date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || date -u -r "$1" +%Y-%m-%dT%H:%M:%SZ
}

# image_tag IMAGE: the tag of an image reference (registry/repo:tag).
image_tag() {
  local ref=${1##*/}
  if [[ $ref == *:* ]]; then printf '%s\n' "${ref##*:}"; fi
}

# smoke_test URL: GET URL until it answers 2xx, SMOKE_ATTEMPTS times (default 5), SMOKE_DELAY s apart (default 10).
smoke_test() {
  local url=$1 attempts=${SMOKE_ATTEMPTS:-5} delay=${SMOKE_DELAY:-10} i
  for ((i = 1; i <= attempts; i++)); do
    if run curl -fsS --max-time 10 -o /dev/null "$url"; then
      log "smoke test passed: $url"
      return 0
    fi
    log "smoke test attempt $i/$attempts failed: $url"
    ((i < attempts)) && sleep "$delay"
  done
  return 1
}

# stage_health STAGE: smoke_test of <ApiUrl>/health, ApiUrl being the output of h2o-<stage>-edge; the URL tried goes
# to $health_url (empty when the outputs could not be read).
stage_health() {
  local edge
  health_url=""
  edge=$(stack_outputs "h2o-$1-edge") || { warn "cannot read the outputs of stack h2o-$1-edge"; return 1; }
  health_url=$(output_value "$edge" ApiUrl) || return 1
  health_url="${health_url%/}/health"
  smoke_test "$health_url"
}

# wait_rounds ROUNDS CMD ARGS...: run the waiter CMD (traced) until it succeeds, at most ROUNDS times: for waits
# that may outlast one run of an AWS CLI waiter (a waiter gives up with exit 255). Fails when no round succeeded.
wait_rounds() {
  local rounds=$1 round
  shift
  for ((round = 1; round <= rounds; round++)); do
    run "$@" && return 0
  done
  return 1
}

# wait_stable CLUSTER SERVICE: the ECS waiter, which polls every 15 s and gives up after 40 checks (10 minutes):
# "aws ecs wait services-stable", https://docs.aws.amazon.com/cli/latest/reference/ecs/wait/services-stable.html
wait_stable() {
  run aws ecs wait services-stable --region "$REGION" --cluster "$1" --services "$2"
}

# Image parameters of the compute stack. The CDK CLI matches the part before ':' against the CloudFormation stack
# name, so only h2o-<stage>-compute gets them (an unprefixed --parameters goes to every stack and fails those that
# do not declare it); a parameter left out keeps the stack's previous value (`cdk deploy --previous-parameters`,
# on by default). https://docs.aws.amazon.com/cdk/v2/guide/ref-cli-cmd-deploy.html

# cdk_deploy_stage STAGE MIGRATION_TAG [SERVICE_TAG]: every stack of the stage (infrastructure changes of this
# commit and the migration task definition on MIGRATION_TAG); the service keeps its image unless SERVICE_TAG is
# given (a first deploy, when there is no previous value to keep).
cdk_deploy_stage() {
  local args=(npx cdk deploy "$1/*" -c "stage=$1" --require-approval never
    --parameters "h2o-$1-compute:MigrationImageTag=$2")
  [[ -z ${3:-} ]] || args+=(--parameters "h2o-$1-compute:ImageTag=$3")
  (cd "$REPO_ROOT" && run "${args[@]}")
}

# cdk_deploy_service STAGE TAG: only h2o-<stage>-compute (--exclusively: not the stacks it depends on), with the
# service on image TAG, through CloudFormation: the rolling deploy, circuit breaker and alarms apply.
cdk_deploy_service() {
  (cd "$REPO_ROOT" && run npx cdk deploy "$1/compute" --exclusively -c "stage=$1" --require-approval never \
    --parameters "h2o-$1-compute:ImageTag=$2")
}

# running_task_definition CLUSTER SERVICE: the ARN of the task definition the ECS service runs now.
running_task_definition() {
  capture "arn:aws:ecs:$REGION:<account>:task-definition/<TaskDefinitionFamily>:<revision>" \
    aws ecs describe-services --region "$REGION" --cluster "$1" --services "$2" \
    --query 'services[0].taskDefinition' --output text
}

# task_definition_info TASKDEF CONTAINER: "STATUS<TAB>IMAGE" of that container in that task definition revision
# (INACTIVE revisions, which CloudFormation deregisters when it replaces them, can still be described).
task_definition_info() {
  capture "$(printf 'ACTIVE\t<registry>/%s:<previous-tag>' "$ECR_REPOSITORY")" \
    aws ecs describe-task-definition --region "$REGION" --task-definition "$1" \
    --query "taskDefinition.[status, containerDefinitions[?name=='$2'] | [0].image]" --output text
}

# ecr_has_tag TAG: whether ECR has an image tagged TAG (traced; a dry run answers yes). Only ECR's answer
# ImageNotFoundException means "not there" (DescribeImages, "Errors",
# https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribeImages.html); any other failure (access
# denied, throttling, no credentials, no repository) stops the script with the AWS error, rather than being taken
# for a missing image (which would make deploy.sh build and push one).
ecr_has_tag() {
  local err
  local describe=(aws ecr describe-images --region "$REGION" --repository-name "$ECR_REPOSITORY"
    --image-ids "imageTag=$1" --query 'imageDetails[0].imageDigest' --output text)
  trace "${describe[@]}"
  [[ $DRY_RUN == 0 ]] || return 0
  err=$("${describe[@]}" 2>&1 >/dev/null) && return 0
  [[ $err == *ImageNotFoundException* ]] && return 1
  printf '%s\n' "$err" >&2
  die "cannot tell whether $ECR_REPOSITORY:$1 is in ECR (the AWS error is above)"
}

# ecr_login REGISTRY: docker login to ECR with a short-lived token (the token goes through a pipe, never argv).
ecr_login() {
  printf '+ %s | %s\n' "$(words aws ecr get-login-password --region "$REGION")" \
    "$(words docker login --username AWS --password-stdin "$1")" >&3
  [[ $DRY_RUN != 0 ]] && return 0
  aws ecr get-login-password --region "$REGION" | docker login --username AWS --password-stdin "$1"
}

# ecr_image_field TAG FIELD: imageManifest or imageManifestMediaType of the image tagged TAG, byte for byte (the
# text output's one trailing newline is removed, any newline of the manifest itself kept).
ecr_image_field() {
  local value
  value=$(capture "<$2>" aws ecr batch-get-image --region "$REGION" --repository-name "$ECR_REPOSITORY" \
    --image-ids "imageTag=$1" --query "images[0].$2" --output text && printf x) || return 1
  value=${value%x}
  value=${value%$'\n'}
  [[ -n $value && $value != None ]] || return 1
  printf '%s' "$value"
}

# ecr_retag SOURCE_TAG TAG: point TAG (live-* or previous-*, the repository's mutable tags) at the image tagged
# SOURCE_TAG, without pulling it: the manifest is put again under the new tag ("Retagging an image",
# https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-retag.html). PutImage answers
# ImageAlreadyExistsException when TAG already names that manifest (ECR API Reference, PutImage, "Errors":
# https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_PutImage.html): nothing to do, a success.
ecr_retag() {
  local manifest media out
  manifest=$(ecr_image_field "$1" imageManifest) || { warn "image $1 not found in ECR: $2 not moved"; return 1; }
  media=$(ecr_image_field "$1" imageManifestMediaType) || { warn "no media type for image $1: $2 not moved"; return 1; }
  local put=(aws ecr put-image --region "$REGION" --repository-name "$ECR_REPOSITORY" --image-tag "$2"
    --image-manifest "$manifest" --image-manifest-media-type "$media" --query image.imageId.imageDigest --output text)
  trace "${put[@]}"
  [[ $DRY_RUN == 0 ]] || return 0
  if out=$("${put[@]}" 2>&1 >/dev/null); then
    log "ECR tag $2 -> $1"
  elif [[ $out == *ImageAlreadyExistsException* ]]; then
    log "ECR tag $2 already names $1"
  else
    printf '%s\n' "$out" >&2
    warn "could not move ECR tag $2 to $1"
    return 1
  fi
}

# move_ecr_tags STAGE BEFORE NOW: after a healthy deploy or rollback, previous-<stage> names the image the stage
# ran before (BEFORE, empty on a first deploy) and live-<stage> the one it runs now. The lifecycle policy never
# expires these tags, so both images stay pullable for a rollback. A failure is a warning: the stage is healthy.
move_ecr_tags() {
  local failed=0
  if [[ -z $2 ]]; then
    log "no earlier image: previous-$1 not moved"
  elif [[ $2 == "$3" ]]; then
    log "the stage ran $3 before too: previous-$1 left as it is"
  else
    ecr_retag "$2" "previous-$1" || failed=1
  fi
  ecr_retag "$3" "live-$1" || failed=1
  if ((failed)); then
    warn "the ECR tags live-$1/previous-$1 are not where they should be (the stage itself is fine):"
    warn "a later rollback to an image without such a tag may find it expired by the lifecycle policy"
  fi
  return 0
}

# wait_db_available ID ROUNDS: until the RDS instance is available. The waiter polls every 30 s and gives up after
# 60 checks (30 minutes: "aws rds wait db-instance-available",
# https://docs.aws.amazon.com/cli/latest/reference/rds/wait/db-instance-available.html), and starting or restoring
# an instance can take longer: up to ROUNDS waiter runs.
wait_db_available() {
  wait_rounds "$2" aws rds wait db-instance-available --region "$REGION" --db-instance-identifier "$1" ||
    die "database $1 is not available after $2 wait rounds: see its events in the RDS console"
}
