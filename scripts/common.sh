# shellcheck shell=bash
# Shared helpers of deploy.sh, rollback.sh and migrate.sh. Sourced, never run; bash 3.2 compatible (macOS).
#
# Contract with the CDK stacks (see stacks/): region us-east-1, ECR repository h2o-backend, stack
# h2o-<stage>-compute with the outputs ClusterName, ServiceName, TaskDefinitionFamily, ContainerName,
# TaskSubnetIds, TaskSecurityGroupId, AssignPublicIp, LogGroupName; stack h2o-<stage>-edge with ApiUrl.

REGION=us-east-1
ECR_REPOSITORY=h2o-backend
STAGES="dev prod"
SCRIPTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPTS_DIR/.." && pwd)
DRY_RUN=${DRY_RUN:-0}

# Command traces go to fd 3: stdout in a dry run (they are the output), stderr otherwise (stdout stays clean).
if [[ $DRY_RUN != 0 ]]; then exec 3>&1; else exec 3>&2; fi

log() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; }
warn() { printf '%s: WARNING: %s\n' "$(basename "$0")" "$*" >&2; }
die() { printf '%s: error: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }
# die_usage: a wrong command line (unknown stage, bad option): exit 2, as the callers document.
die_usage() {
  printf '%s: %s\n' "$(basename "$0")" "$*" >&2
  printf "Run '%s --help' for usage.\n" "$(basename "$0")" >&2
  exit 2
}

# validate_stage NAME: only the stages the CDK app defines.
validate_stage() {
  local s
  for s in $STAGES; do [[ $1 == "$s" ]] && return 0; done
  die_usage "unknown stage '$1' (known stages: ${STAGES// /, })"
}

# quote ARG: ARG as a shell word, quoted only when it needs to be, so traces can be pasted into a shell.
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

quote() {
  if [[ $1 =~ ^[A-Za-z0-9_@%+=:,./-]+$ ]]; then
    printf '%s' "$1"
  elif [[ $1 == *"'"* && $1 != *[\"\$\`\\!]* ]]; then
    printf '"%s"' "$1"
  else
    printf "'%s'" "${1//\'/\'\\\'\'}"
  fi
}

# words ARGS...: the arguments as one shell command line.
words() {
  local out="" a
  for a in "$@"; do out+="${out:+ }$(quote "$a")"; done
  printf '%s' "$out"
}

# trace CMD ARGS...: print "+ CMD ARGS" on fd 3.
trace() {
  printf '+ %s\n' "$(words "$@")" >&3
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

# stack_outputs STACK: the stack's outputs as "Key<TAB>Value" lines. A dry run answers with the values fixed by
# the contract with the stacks (cluster, service, container names) and <Key> placeholders for the others.
stack_outputs() {
  local stack=$1 stage=${1#h2o-}
  stage=${stage%%-*}
  local placeholder
  placeholder=$(printf '%s\t%s\n' \
    ClusterName "h2o-$stage" ServiceName h2o-backend-service ContainerName backend \
    TaskDefinitionFamily '<TaskDefinitionFamily>' TaskSubnetIds '<TaskSubnetIds>' \
    TaskSecurityGroupId '<TaskSecurityGroupId>' AssignPublicIp '<AssignPublicIp>' \
    LogGroupName '<LogGroupName>' ApiUrl '<ApiUrl>')
  capture "$placeholder" aws cloudformation describe-stacks --region "$REGION" --stack-name "$stack" \
    --query 'Stacks[0].Outputs[].[OutputKey,OutputValue]' --output text
}

# output_value OUTPUTS KEY: the value of KEY in stack_outputs' answer; an error names the stack's missing output.
output_value() {
  local value
  value=$(awk -F'\t' -v k="$2" '$1 == k { print $2; exit }' <<<"$1")
  [[ -n $value && $value != None ]] || die "stack output '$2' not found (was the stack deployed by this version of the app?)"
  printf '%s\n' "$value"
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

# wait_stable CLUSTER SERVICE: the ECS waiter (polls every 15 s, up to 40 times).
wait_stable() {
  run aws ecs wait services-stable --region "$REGION" --cluster "$1" --services "$2"
}

# cdk_deploy STAGE TAG: deploy every stack of the stage with that image tag, through CloudFormation.
cdk_deploy() {
  (cd "$REPO_ROOT" && run npx cdk deploy "$1/*" -c "stage=$1" -c "imageTag=$2" --require-approval never)
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

# ecr_login REGISTRY: docker login to ECR with a short-lived token (the token goes through a pipe, never argv).
ecr_login() {
  printf '+ %s | %s\n' "$(words aws ecr get-login-password --region "$REGION")" \
    "$(words docker login --username AWS --password-stdin "$1")" >&3
  [[ $DRY_RUN != 0 ]] && return 0
  aws ecr get-login-password --region "$REGION" | docker login --username AWS --password-stdin "$1"
}
