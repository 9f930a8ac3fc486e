#!/usr/bin/env bash
# drift.sh: CloudFormation drift detection on every stack of a stage (or on h2o-ci), with the differences the app
# causes itself (scripts/drift-rules.txt) set apart from real drift. Read-only, except --notify's one message.
#
# Why not `cdk drift` (aws-cdk CLI 2.1148.1): its only option is --fail, whose exit 1 means drift *or* a failed
# check (cli.js sets exitCode 1 for any error); it cannot leave out resource types (the secrets, whose read needs
# their values), has no allowlist and prints text meant for people. The CloudFormation APIs it calls give the
# same answer with a status per detection and per resource, which this reads instead: DetectStackDrift,
# DescribeStackDriftDetectionStatus, DescribeStackResourceDrifts.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/drift.sh [--help] [--notify] <dev|prod|ci>

Runs CloudFormation drift detection on h2o-<stage>-network, -data, -compute, -edge, -observability (or on h2o-ci)
and prints one line per finding:
  DRIFT      a property changed outside CloudFormation (stack, logical ID, type, property path, expected and
             actual value), or a resource deleted outside it;
  EXPECTED   a difference the app causes itself, listed with its reason in scripts/drift-rules.txt (generated
             from stacks/driftexpected.go): autoscaling's desired count, the schedule's bounds, a canary's
             listener weights, ingress rules another stack adds;
  UNCHECKED  CloudFormation could not tell (UNKNOWN, NOT_CHECKED): counted as a failed check, never as in sync;
  FAILED     a stack could not be checked: missing, not in a state drift detection runs on, detection failed or
             did not finish within DRIFT_WAIT_CHECKS x DRIFT_POLL_DELAY s;
  IN_SYNC    a stack whose checked resources match their template (with how many were checked and skipped:
             types drift detection cannot read, or that the drift role may not read, such as secrets).
It needs the read permissions of the stacks' resource types (h2o-drift, the nightly workflow's role, holds
exactly those); `make drift STAGE=...` runs it with your own credentials.

Options:
  --notify   publish DRIFT, UNCHECKED and FAILED lines to the stage's alarm topic (output AlarmTopicArn of
             h2o-<stage>-observability; h2o-ci's go to prod's): e-mail and, when configured, Slack

Environment:
  DRIFT_WAIT_CHECKS  status reads per stack before giving up (default 60), DRIFT_POLL_DELAY s apart (default 5)
  AWS_READ_ATTEMPTS, AWS_RETRY_DELAY  as for deploy.sh: throttling is retried, any other AWS error stops the
                     script with the CLI's message (exit 1)

Exit status: 0 no drift (expected differences only); 3 drift found and every stack checked; 1 a stack or resource
could not be checked, AWS could not be read, or --notify could not publish (findings are still printed);
2 bad usage.
EOF
}

# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck source=scripts/notify.sh
source "$SCRIPTS_DIR/notify.sh"

# The account-level stack (stacks/ci.go); its findings go to prod's alarm topic.
CI_STACK=h2o-ci
RULES_FILE="$SCRIPTS_DIR/drift-rules.txt"

parse_check_args "$@"
if [[ $target == ci ]]; then
  stage=prod
  stacks=$CI_STACK
else
  validate_stage "$target"
  stage=$target
  stacks=""
  for layer in $LAYERS; do stacks+="${stacks:+ }h2o-$stage-$layer"; done
fi
[[ $DRY_RUN == 0 ]] || die_usage "drift.sh only reads: DRY_RUN does not apply"
wait_checks=${DRIFT_WAIT_CHECKS:-60}
poll_delay=${DRIFT_POLL_DELAY:-5}
positive_number DRIFT_WAIT_CHECKS "$wait_checks"
[[ $poll_delay =~ ^[0-9]+$ ]] || die_usage "DRIFT_POLL_DELAY must be a number of seconds, not '$poll_delay'"
[[ -r $RULES_FILE ]] || die "no $RULES_FILE (UPDATE_GOLDEN=1 go test ./stacks -run TestDriftRulesFile writes it)"

# The rules, one per line: checked types, skipped type patterns with their reason, expected differences.
checked=" " skips="" expects=""
while IFS=$'\t' read -r kind rest; do
  case $kind in
    check) checked+="$rest " ;;
    skip) skips+="$rest"$'\n' ;;
    expect) expects+="$rest"$'\n' ;;
  esac
done <"$RULES_FILE"

drifted=0 expected=0 failures=0 findings=""
# finding KIND TEXT: one line on stdout; DRIFT, UNCHECKED and FAILED are what --notify sends.
finding() {
  printf '%-9s  %s\n' "$1" "$2"
  case $1 in
    DRIFT | UNCHECKED | FAILED) findings+="$1  $2"$'\n' ;;
  esac
}

# short TEXT: at most 300 characters of an AWS value, on one line.
short() {
  local s=${1//$'\n'/ }
  ((${#s} <= 300)) || s="${s:0:297}..."
  printf '%s' "$s"
}

# resource_table: "stack<TAB>logical ID<TAB>type<TAB>physical ID" lines of the stacks read so far, and one
# "stack<TAB>" line per stack read (with or without resources).
resource_table=$'\n'

# load_resources STACK [STATUS]: the stack's resources into resource_table, once; none for a stack that is absent
# or has none to compare (a stack named by an expected difference may be). STATUS: already read by the caller.
load_resources() {
  [[ $resource_table != *$'\n'"$1"$'\t\n'* ]] || return 0
  local rows id type physical
  if [[ -n ${2:-} ]]; then stack_status=$2; else read_stack_status "$1"; fi
  case $stack_status in
    ABSENT | ROLLBACK_COMPLETE | REVIEW_IN_PROGRESS) ;;
    *)
      rows=$(aws_read '' '' aws cloudformation describe-stack-resources --region "$REGION" --stack-name "$1" \
        --query 'StackResources[].[LogicalResourceId,ResourceType,PhysicalResourceId]' --output text) ||
        die "cannot list the resources of $1 (the AWS CLI's error is above)"
      while IFS=$'\t' read -r id type physical; do
        [[ -z $id || $id == None ]] || resource_table+="$1"$'\t'"$id"$'\t'"$type"$'\t'"$physical"$'\n'
      done <<<"$rows"
      ;;
  esac
  resource_table+="$1"$'\t\n'
}

# resources_of STACK: "logical ID<TAB>type<TAB>physical ID" lines of a loaded stack.
resources_of() {
  local stack id type physical
  while IFS=$'\t' read -r stack id type physical; do
    [[ $stack != "$1" || -z $id ]] || printf '%s\t%s\t%s\n' "$id" "$type" "$physical"
  done <<<"$resource_table"
}

# physical_id STACK:LOGICAL_ID: that resource's physical ID, from a loaded stack (empty when it is not there).
physical_id() {
  local want=${1#*:} id type physical
  while IFS=$'\t' read -r id type physical; do
    [[ $id != "$want" ]] || printf '%s' "$physical"
  done < <(resources_of "${1%%:*}")
}

# skip_reason TYPE: why TYPE is left out of detection; 1 when it is checked; "unknown" when the rules do not name it.
skip_reason() {
  [[ $checked != *" $1 "* ]] || return 1
  local pattern reason
  while IFS=$'\t' read -r pattern reason; do
    # shellcheck disable=SC2053 # the rules' type patterns (Custom::*) are globs
    [[ -n $pattern && $1 == $pattern ]] && { printf '%s' "$reason"; return 0; }
  done <<<"$skips"
  printf 'unknown'
}

# path_matches PATH PATTERN: PATTERN's "*" stands for one path segment.
path_matches() {
  local re=${2//\*/[^/]+}
  [[ $1 =~ ^${re}$ ]]
}

# expectation STACK ID PATH DIFFERENCE ACTUAL: the reason when the rules expect this difference, else 1.
expectation() {
  local stack id pattern difference mention reason phys
  while IFS=$'\t' read -r stack id pattern difference mention reason; do
    [[ $stack == "$1" && $id == "$2" && $difference == "$4" ]] || continue
    path_matches "$3" "$pattern" || continue
    if [[ $mention != - ]]; then
      phys=$(physical_id "$mention")
      [[ -n $phys && $5 == *"$phys"* ]] || continue
    fi
    printf '%s' "$reason"
    return 0
  done <<<"$expects"
  return 1
}

# check_stack_drift STACK: detection on the stack's checked resources, then each finding.
check_stack_drift() {
  local name=$1 ids=() skipped=0 unknown="" id type physical reason
  read_stack_status "$name"
  # Drift detection runs on CREATE_COMPLETE, UPDATE_COMPLETE, UPDATE_ROLLBACK_COMPLETE and UPDATE_ROLLBACK_FAILED
  # stacks (CloudFormation user guide, "Detect drift on an entire CloudFormation stack").
  case $stack_status in
    CREATE_COMPLETE | UPDATE_COMPLETE | UPDATE_ROLLBACK_COMPLETE | UPDATE_ROLLBACK_FAILED) ;;
    ABSENT)
      finding FAILED "$name does not exist: not checked"
      failures=$((failures + 1))
      return 0
      ;;
    *)
      finding FAILED "$name is $stack_status: drift detection runs only on a *_COMPLETE or UPDATE_ROLLBACK_FAILED stack; not checked"
      failures=$((failures + 1))
      return 0
      ;;
  esac
  load_resources "$name" "$stack_status"
  while IFS=$'\t' read -r id type physical; do
    if reason=$(skip_reason "$type"); then
      skipped=$((skipped + 1))
      [[ $reason != unknown ]] || unknown+="${unknown:+, }$id ($type)"
    else
      ids+=("$id")
    fi
  done < <(resources_of "$name")
  if [[ -n $unknown ]]; then
    finding UNCHECKED "$name: $unknown: type(s) not in scripts/drift-rules.txt (deployed by a newer app?)"
    failures=$((failures + 1))
  fi
  if ((${#ids[@]} == 0)); then
    [[ -n $unknown ]] || finding IN_SYNC "$name: no resource drift detection can check ($skipped skipped)"
    return 0
  fi

  local detection state stack_drift status_reason checks=0
  detection=$(aws_read '' '' aws cloudformation detect-stack-drift --region "$REGION" --stack-name "$name" \
    --logical-resource-ids "${ids[@]}" --query StackDriftDetectionId --output text) ||
    die "cannot start drift detection on $name (the AWS CLI's error is above)"
  detection=${detection%$'\n'}
  while :; do
    state=$(aws_read '' '' aws cloudformation describe-stack-drift-detection-status --region "$REGION" \
      --stack-drift-detection-id "$detection" --query '[DetectionStatus,StackDriftStatus,DetectionStatusReason]' \
      --output text) || die "cannot read drift detection $detection of $name (the AWS CLI's error is above)"
    IFS=$'\t' read -r state stack_drift status_reason <<<"$state"
    checks=$((checks + 1))
    [[ $state == DETECTION_IN_PROGRESS ]] || break
    if ((checks >= wait_checks)); then
      finding FAILED "$name: drift detection $detection still in progress after $checks checks; not checked"
      failures=$((failures + 1))
      return 0
    fi
    sleep "$poll_delay"
  done
  case $state in
    DETECTION_COMPLETE) ;;
    DETECTION_FAILED)
      # "Results will be available for resources on which CloudFormation successfully completed drift detection"
      # (DescribeStackDriftDetectionStatus): they are reported below, the stack counts as not checked.
      finding FAILED "$name: drift detection failed: $(short "$status_reason")"
      failures=$((failures + 1))
      ;;
    *)
      finding FAILED "$name: drift detection $detection ended in '$state'; not checked"
      failures=$((failures + 1))
      return 0
      ;;
  esac

  local rows status before="$drifted/$failures"
  rows=$(aws_read '' '' aws cloudformation describe-stack-resource-drifts --region "$REGION" --stack-name "$name" \
    --query "StackResourceDrifts[?StackResourceDriftStatus!='IN_SYNC'].[LogicalResourceId,ResourceType,StackResourceDriftStatus]" \
    --output text) || die "cannot read the drift results of $name (the AWS CLI's error is above)"
  while IFS=$'\t' read -r id type status; do
    [[ -n $id && $id != None ]] || continue
    case $status in
      MODIFIED) resource_differences "$name" "$id" "$type" ;;
      DELETED)
        finding DRIFT "$name $id ($type): deleted outside CloudFormation"
        drifted=$((drifted + 1))
        ;;
      *)
        finding UNCHECKED "$name $id ($type): drift status $status (missing read permission, throttling, or a type CloudFormation cannot check)"
        failures=$((failures + 1))
        ;;
    esac
  done <<<"$rows"
  if [[ $state == DETECTION_COMPLETE && "$drifted/$failures" == "$before" && -z $unknown ]]; then
    finding IN_SYNC "$name: ${#ids[@]} resource(s) checked${stack_drift:+ ($stack_drift)}, $skipped skipped (see scripts/drift-rules.txt)"
  fi
}

# resource_differences STACK ID TYPE: the property differences of one modified resource, each expected or drift.
resource_differences() {
  local name=$1 id=$2 type=$3 diffs path difference expect actual reason real=0 rule_stack rule_id mention
  # The stacks whose resources an expected difference of this resource names (read here, not in a subshell).
  while IFS=$'\t' read -r rule_stack rule_id _ _ mention _; do
    [[ $rule_stack != "$name" || $rule_id != "$id" || $mention == - || -z $mention ]] || load_resources "${mention%%:*}"
  done <<<"$expects"
  diffs=$(aws_read '' '' aws cloudformation describe-stack-resource-drifts --region "$REGION" --stack-name "$name" \
    --query "StackResourceDrifts[?LogicalResourceId=='$id'] | [0].PropertyDifferences[].[PropertyPath,DifferenceType,ExpectedValue,ActualValue]" \
    --output text) || die "cannot read the drift of $name $id (the AWS CLI's error is above)"
  while IFS=$'\t' read -r path difference expect actual; do
    [[ -n $path && $path != None ]] || continue
    if reason=$(expectation "$name" "$id" "$path" "$difference" "$actual"); then
      finding EXPECTED "$name $id ($type) $path $difference: $(short "$expect") -> $(short "$actual") (${reason##*(}"
      expected=$((expected + 1))
    else
      finding DRIFT "$name $id ($type) $path $difference: expected $(short "$expect"), actual $(short "$actual")"
      real=1
    fi
  done <<<"$diffs"
  drifted=$((drifted + real))
}

topic=""
if ((notify_topic)); then
  open_stack observability || die "stack h2o-$stage-observability $(no_stack_reason): no alarm topic to notify"
  topic=$(output_value observability AlarmTopicArn)
fi
count=0
for name in $stacks; do
  check_stack_drift "$name"
  count=$((count + 1))
done
printf 'drift.sh %s: %d stack(s), %d drifted resource(s), %d expected difference(s), %d check failure(s)\n' \
  "$target" "$count" "$drifted" "$expected" "$failures"
if ((notify_topic)) && [[ -n $findings ]]; then
  notify "$topic" "h2o drift $target: $drifted drifted, $failures not checked" \
    "scripts/drift.sh $target found:"$'\n\n'"$findings"$'\n'"What to do: docs/runbook.md, \"Drift\"." || exit 1
fi
((failures == 0)) || exit 1
((drifted == 0)) || exit 3
