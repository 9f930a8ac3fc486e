# shellcheck shell=bash
# Shared helpers of the scripts in scripts/. Sourced, never run; bash 3.2 compatible (macOS).
#
# Contract with the CDK stacks (see stacks/ and docs/runbook.md, "Names"): region us-east-1, ECR repository
# h2o-backend (shared by the stages; tags immutable except live-* and previous-*), stacks h2o-<stage>-<layer> for
# the LAYERS below. The outputs a script reads are named where it reads them (output_value LAYER KEY, ...): the
# scripts' tests check each against the synthesized templates of the stages. The compute stack also has the
# parameters ImageTag (the service's image) and MigrationImageTag (the migration task's).

REGION=us-east-1
ECR_REPOSITORY=h2o-backend
STAGES="dev prod"
# A stage's stacks, in deploy order (stacks/stage.go, H2oStage.Stacks); used by the sourcing scripts.
# shellcheck disable=SC2034
LAYERS="network data compute edge observability"
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
  aws_read '<account>' '' aws sts get-caller-identity --region "$REGION" --query Account --output text
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
        MinTasks '<MinTasks>' MaxTasks '<MaxTasks>' TargetGroupArn '<TargetGroupArn>' \
        AlternateTargetGroupArn '<AlternateTargetGroupArn>' DeploymentAlarmNames '<DeploymentAlarmNames>' \
        CanaryBakeMinutes '<CanaryBakeMinutes>' DeployBakeMinutes '<DeployBakeMinutes>' \
        CloudFrontPrefixListId '<CloudFrontPrefixListId>'
      ;;
    data)
      printf '%s\t%s\n' DatabaseInstanceId "h2o-$stage-postgres" DatabaseSecretArn '<DatabaseSecretArn>' \
        DatabaseEngineVersion '<DatabaseEngineVersion>' CacheReplicationGroupId "h2o-$stage-cache" \
        CacheEngineVersion '<CacheEngineVersion>'
      [[ $stage != prod ]] || printf '%s\t%s\n' BackupVaultName '<BackupVaultName>' \
        BackupVaultLockMode '<BackupVaultLockMode>' BackupVaultMinRetentionDays '<BackupVaultMinRetentionDays>'
      ;;
    edge)
      printf '%s\t%s\n' ApiUrl '<ApiUrl>' DistributionId '<DistributionId>'
      [[ $stage != prod ]] || printf '%s\t%s\n' WebAclArn '<WebAclArn>' WafLogDestination '<WafLogDestination>'
      ;;
    observability)
      printf '%s\t%s\n' AlarmTopicArn '<AlarmTopicArn>' AlarmTopicName '<AlarmTopicName>' \
        CanaryAlarmName '<CanaryAlarmName>'
      ;;
  esac
}

# load_outputs LAYER: the outputs of stack h2o-<stage>-LAYER ($stage) into outputs_LAYER, as "Key<TAB>Value" lines.
# Read after check_stack said the stack is ready (a failed create has no outputs: the query then prints None).
load_outputs() {
  [[ $1 =~ ^[a-z]+$ ]] || die "no such layer: '$1'"
  local text
  text=$(aws_read "$(placeholder_outputs "h2o-$stage-$1")" '' aws cloudformation describe-stacks --region "$REGION" \
    --stack-name "h2o-$stage-$1" --query 'Stacks[0].Outputs[].[OutputKey,OutputValue]' --output text) ||
    die "cannot read the outputs of stack h2o-$stage-$1 (the AWS CLI's error is above)"
  eval "outputs_$1=\$text"
}

# open_stack LAYER [tolerant]: check_stack of h2o-<stage>-LAYER, then its outputs; 1 when there is no stack to read.
open_stack() {
  check_stack "h2o-$stage-$1" "${2:-}" || return 1
  load_outputs "$1"
}

# output_optional LAYER KEY: the value of output KEY of the layer's stack (load_outputs), empty when it has none.
output_optional() {
  [[ $1 =~ ^[a-z]+$ ]] || die "no such layer: '$1'"
  local text key value
  eval "text=\${outputs_$1-}"
  while IFS=$'\t' read -r key value; do
    if [[ $key == "$2" ]]; then
      [[ $value == None ]] || printf '%s\n' "$value"
      return 0
    fi
  done <<<"$text"
}

# output_value LAYER KEY: the value of output KEY of the layer's stack; an error names the stack's missing output.
output_value() {
  local value
  value=$(output_optional "$1" "$2")
  [[ -n $value ]] || die "stack h2o-$stage-$1 has no output '$2' (was it deployed by this version of the app?)"
  printf '%s\n' "$value"
}

# output_or LAYER KEY: the value of output KEY, or <KEY> when there is none (for printed guidance).
output_or() {
  local value
  value=$(output_optional "$1" "$2")
  printf '%s' "${value:-<$2>}"
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

# target_states TARGET_GROUP_ARN: the states of the group's registered targets, space-separated; nothing when it
# has none. Fails (the CLI's error on stderr) when they cannot be read.
target_states() {
  local states
  states=$(aws_read '<State>' '' aws elbv2 describe-target-health --region "$REGION" --target-group-arn "$1" \
    --query 'TargetHealthDescriptions[].TargetHealth.State' --output text) || return 1
  states=${states%$'\n'}
  states=${states//$'\t'/ }
  [[ $states != None ]] || states=""
  printf '%s' "$states"
}

# holds_tasks STATES: whether a target group whose targets are in STATES (target_states) holds tasks: a target
# that is not draining. After a canary deploy the old tasks drain out of the group they served (ALB user guide,
# "Deregistration delay"); the service's tasks are in the other group (stacks/rollout.go).
holds_tasks() {
  local s
  for s in $1; do [[ $s == draining ]] || return 0; done
  return 1
}

# stage_health: smoke_test of <ApiUrl>/health, ApiUrl being the output of the edge stack (load_outputs edge first);
# the URL tried goes to $health_url.
stage_health() {
  health_url=$(output_value edge ApiUrl) || return 1
  health_url="${health_url%/}/health"
  smoke_test "$health_url"
}

# wait_rounds ROUNDS CMD ARGS...: run the waiter CMD (traced) until it succeeds, at most ROUNDS times: for waits
# that may outlast one run of an AWS CLI waiter. A waiter fails with "Waiter <Name> failed: <reason>" (botocore
# waiter.py): "Max attempts exceeded" (it gave up: run it again), "Waiter encountered a terminal failure state"
# (an answer: the thing will not get there; return 1), or the error of its describe call. A throttled round is run
# again (AWS_READ_ATTEMPTS in all, as any read); any other error (access denied, expired credentials, no network)
# is no answer about what it waits for: the script stops with it.
wait_rounds() {
  local rounds=$1 round=1 throttles=1 delay=$AWS_RETRY_DELAY err errfile
  shift
  while ((round <= rounds)); do
    trace "$@"
    [[ $DRY_RUN == 0 ]] || return 0
    errfile=$(mktemp "${TMPDIR:-/tmp}/h2o-wait.XXXXXX")
    if "$@" 2>"$errfile"; then
      rm -f "$errfile"
      return 0
    fi
    err=$(cat "$errfile")
    rm -f "$errfile"
    [[ -z $err ]] || printf '%s\n' "$err" >&2
    case $err in
      *"Max attempts exceeded"*)
        round=$((round + 1))
        continue
        ;;
      *"terminal failure state"*) return 1 ;;
    esac
    if throttled "$err" && ((throttles < AWS_READ_ATTEMPTS)); then
      log "throttled by AWS: waiting again in ${delay} s (attempt $throttles of $AWS_READ_ATTEMPTS)"
      sleep "$delay"
      delay=$((delay * 2))
      throttles=$((throttles + 1))
      continue
    fi
    die "$(words "$@") failed with an error, not with an answer about what it waits for (above): stopped here"
  done
  return 1
}

# wait_stable CLUSTER SERVICE: the ECS waiter, which polls every 15 s and gives up after 40 checks (10 minutes):
# "aws ecs wait services-stable", https://docs.aws.amazon.com/cli/latest/reference/ecs/wait/services-stable.html
wait_stable() {
  wait_rounds 1 aws ecs wait services-stable --region "$REGION" --cluster "$1" --services "$2"
}

# Image parameters of the compute stack. The CDK CLI matches the part before ':' against the CloudFormation stack
# name, so only h2o-<stage>-compute gets them (an unprefixed --parameters goes to every stack and fails those that
# do not declare it); a parameter left out keeps the stack's previous value (`cdk deploy --previous-parameters`,
# on by default). https://docs.aws.amazon.com/cdk/v2/guide/ref-cli-cmd-deploy.html

# cdk_deploy_stage STAGE MIGRATION_TAG [SERVICE_TAG]: every stack of the stage (infrastructure changes of this
# commit and the migration task definition on MIGRATION_TAG); the service on SERVICE_TAG when given (deploy.sh
# always gives it: the image the service runs, or on a first deploy the new one); without it the CDK CLI keeps the
# stack's previous ImageTag.
cdk_deploy_stage() {
  local args=(npx cdk deploy "$1/*" -c "stage=$1" --require-approval never
    --parameters "h2o-$1-compute:MigrationImageTag=$2")
  [[ -z ${3:-} ]] || args+=(--parameters "h2o-$1-compute:ImageTag=$3")
  (cd "$REPO_ROOT" && run "${args[@]}")
}

# cdk_deploy_service STAGE TAG: only h2o-<stage>-compute (--exclusively: not the stacks it depends on), with the
# service on image TAG, through CloudFormation: ECS's canary deploy, circuit breaker and deployment alarms apply.
cdk_deploy_service() {
  (cd "$REPO_ROOT" && run npx cdk deploy "$1/compute" --exclusively -c "stage=$1" --require-approval never \
    --parameters "h2o-$1-compute:ImageTag=$2")
}

# running_task_definition CLUSTER SERVICE: the ARN of the task definition the ECS service runs now; None when ECS
# does not know the service (DescribeServices answers a missing one in "failures", not with an error).
running_task_definition() {
  aws_read "arn:aws:ecs:$REGION:<account>:task-definition/<TaskDefinitionFamily>:<revision>" '' \
    aws ecs describe-services --region "$REGION" --cluster "$1" --services "$2" \
    --query 'services[0].taskDefinition' --output text
}

# task_definition_info TASKDEF CONTAINER: "STATUS<TAB>IMAGE" of that container in that task definition revision
# (INACTIVE revisions, which CloudFormation deregisters when it replaces them, can still be described). Returns 3
# when ECS has no such revision (a deleted one: DescribeTaskDefinition fails with "ClientException: Unable to
# describe task definition.", as for hashicorp/terraform-provider-aws issue 29749); 1 on any other error.
task_definition_info() {
  aws_read "$(printf 'ACTIVE\t<registry>/%s:<previous-tag>' "$ECR_REPOSITORY")" \
    'ClientException|Unable to describe task definition' \
    aws ecs describe-task-definition --region "$REGION" --task-definition "$1" \
    --query "taskDefinition.[status, containerDefinitions[?name=='$2'] | [0].image]" --output text
}

# ecr_has_tag TAG: whether ECR has an image tagged TAG (traced; a dry run answers yes). Only ECR's answer
# ImageNotFoundException means "not there" (DescribeImages, "Errors",
# https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribeImages.html); any other failure (access
# denied, throttling, no credentials, no repository) stops the script with the AWS error, rather than being taken
# for a missing image (which would make deploy.sh build and push one).
ecr_has_tag() {
  local rc=0
  aws_read '' 'ImageNotFoundException' aws ecr describe-images --region "$REGION" \
    --repository-name "$ECR_REPOSITORY" --image-ids "imageTag=$1" --query 'imageDetails[0].imageDigest' \
    --output text >/dev/null || rc=$?
  case $rc in
    0) return 0 ;;
    3) return 1 ;;
  esac
  die "cannot tell whether $ECR_REPOSITORY:$1 is in ECR (the AWS error is above)"
}

# resolve_tag TAG: sets resolved_tag to TAG, or, for a marker tag (live-*, previous-*: the repository's mutable
# tags, which every deploy and rollback moves), to the immutable tag of the same image: what is deployed must not
# move under the stage. DescribeImages of a tag answers that image's details, whose imageTags are every tag of the
# same digest (ECR API Reference, DescribeImages and ImageDetail).
# shellcheck disable=SC2034 # resolved_tag is the result
resolve_tag() {
  local tags rc=0 t found=""
  resolved_tag=$1
  case $1 in live-* | previous-*) ;; *) return 0 ;; esac
  tags=$(aws_read "<the immutable tag of $1>" 'ImageNotFoundException' aws ecr describe-images \
    --region "$REGION" --repository-name "$ECR_REPOSITORY" --image-ids "imageTag=$1" \
    --query 'imageDetails[0].imageTags' --output text) || rc=$?
  case $rc in
    0) ;;
    3) die "the marker tag $1 names no image in ECR repository $ECR_REPOSITORY: pass the image's own tag" ;;
    *) die "cannot read which image the marker tag $1 names (the AWS CLI's error is above)" ;;
  esac
  if [[ $DRY_RUN != 0 ]]; then
    resolved_tag=${tags%$'\n'}
    return 0
  fi
  for t in $tags; do
    case $t in live-* | previous-* | None) ;; *) found+="${found:+ }$t" ;; esac
  done
  [[ -n $found ]] || die "the marker tag $1 names an image with no tag of its own ($tags): pass an image tag"
  [[ $found != *" "* ]] || die "the marker tag $1 names an image with several tags ($found): pass the one to deploy"
  log "$1 names the image tagged $found: using $found (a marker tag moves; it is never deployed itself)"
  resolved_tag=$found
}

# ecr_login REGISTRY: docker login to ECR with a short-lived token, read first (a failed read stops here, before
# docker runs) and handed over through a pipe from a shell builtin: never in any process's argv.
ecr_login() {
  printf '+ %s | %s\n' "$(words aws ecr get-login-password --region "$REGION")" \
    "$(words docker login --username AWS --password-stdin "$1")" >&3
  [[ $DRY_RUN != 0 ]] && return 0
  local token
  token=$(aws_try '' aws ecr get-login-password --region "$REGION") ||
    die "cannot get a login token for $1 (the AWS CLI's error is above)"
  printf '%s\n' "$token" | docker login --username AWS --password-stdin "$1"
}

# ecr_image_field TAG FIELD: imageManifest or imageManifestMediaType of the image tagged TAG, byte for byte (the
# text output's one trailing newline is removed, any newline of the manifest itself kept). BatchGetImage answers a
# missing image in "failures" (the field is then None): return 3; 1 when ECR could not be read (error on stderr).
ecr_image_field() {
  local value
  value=$(aws_read "<$2>" '' aws ecr batch-get-image --region "$REGION" --repository-name "$ECR_REPOSITORY" \
    --image-ids "imageTag=$1" --query "images[0].$2" --output text && printf x) || return 1
  value=${value%x}
  value=${value%$'\n'}
  [[ -n $value && $value != None ]] || return 3
  printf '%s' "$value"
}

# ecr_retag SOURCE_TAG TAG: point TAG (live-* or previous-*, the repository's mutable tags) at the image tagged
# SOURCE_TAG, without pulling it: the manifest is put again under the new tag ("Retagging an image",
# https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-retag.html). PutImage answers
# ImageAlreadyExistsException when TAG already names that manifest (ECR API Reference, PutImage, "Errors":
# https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_PutImage.html): nothing to do, a success.
ecr_retag() {
  local manifest media out rc=0
  manifest=$(ecr_image_field "$1" imageManifest) || rc=$?
  if ((rc == 0)); then media=$(ecr_image_field "$1" imageManifestMediaType) || rc=$?; fi
  if ((rc == 3)); then
    warn "image $1 not found in ECR: $2 not moved"
    return 1
  elif ((rc != 0)); then
    warn "cannot read image $1 from ECR (the AWS CLI's error is above): $2 not moved"
    return 1
  fi
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

# shellcheck source=scripts/aws.sh
source "$SCRIPTS_DIR/aws.sh"
