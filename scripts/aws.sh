# shellcheck shell=bash
# AWS reads that tell an answer from an error, and the CloudFormation stack states the scripts act on. Sourced by
# common.sh, never run; bash 3.2 compatible (macOS).
#
# A read is answered (exit 0), or it fails. Only an error that says the thing does not exist means "not there";
# throttling is tried again a bounded number of times; anything else (access denied, expired credentials, no
# network, a bug) stops the script with the CLI's own message. Writes are never retried here (a retried run-task
# would start a second task).

# A throttled read is tried AWS_READ_ATTEMPTS times in all (default 4), AWS_RETRY_DELAY s apart, doubling (default
# 5). Each attempt is itself up to 3 HTTP requests: the CLI's standard retry mode retries throttling errors twice
# ("AWS CLI retries", https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-retries.html); v1's legacy
# mode up to 4 times.
AWS_READ_ATTEMPTS=${AWS_READ_ATTEMPTS:-4}
AWS_RETRY_DELAY=${AWS_RETRY_DELAY:-5}
[[ $AWS_READ_ATTEMPTS =~ ^[1-9][0-9]*$ ]] || die_usage "AWS_READ_ATTEMPTS must be a positive whole number, not '$AWS_READ_ATTEMPTS'"
[[ $AWS_RETRY_DELAY =~ ^[0-9]+$ ]] || die_usage "AWS_RETRY_DELAY must be a number of seconds, not '$AWS_RETRY_DELAY'"

# An operation in progress on a stack is waited for: STACK_WAIT_CHECKS status reads (default 60), STACK_POLL_DELAY
# s apart (default 30): 30 minutes, well beyond what a canary deploy of the service takes (its bakes included).
STACK_WAIT_CHECKS=${STACK_WAIT_CHECKS:-60}
STACK_POLL_DELAY=${STACK_POLL_DELAY:-30}
[[ $STACK_WAIT_CHECKS =~ ^[0-9]+$ ]] || die_usage "STACK_WAIT_CHECKS must be a whole number, not '$STACK_WAIT_CHECKS'"
[[ $STACK_POLL_DELAY =~ ^[0-9]+$ ]] || die_usage "STACK_POLL_DELAY must be a number of seconds, not '$STACK_POLL_DELAY'"

# throttled MESSAGE: whether the CLI's error is a throttling error: the codes the CLI's standard retry mode treats
# as throttling (same page). The CLI prints "An error occurred (<Code>) when calling the <Op> operation ...", and a
# waiter "Waiter <Name> failed: An error occurred (<Code>): ..." (botocore waiter.py).
throttled() {
  case $1 in
    *"occurred (Throttling)"* | *"occurred (ThrottlingException)"* | *"occurred (ThrottledException)"* | \
      *"occurred (RequestThrottledException)"* | *"occurred (TooManyRequestsException)"* | \
      *"occurred (ProvisionedThroughputExceededException)"* | *"occurred (TransactionInProgressException)"* | \
      *"occurred (RequestLimitExceeded)"* | *"occurred (BandwidthLimitExceeded)"* | \
      *"occurred (LimitExceededException)"* | *"occurred (RequestThrottled)"* | *"occurred (SlowDown)"* | \
      *"occurred (EC2ThrottledException)"*)
      return 0
      ;;
  esac
  return 1
}

# aws_read PLACEHOLDER ABSENT CMD ARGS...: run a read-only AWS CLI call (traced) and print its output byte for byte.
# ABSENT is the error that means "not there" (then return 3, printing nothing), as "Code" or "Code|text": the CLI's
# message must name "(Code)" (and contain text); empty when no error means that. A throttled call is tried again
# (see above). Any other failure prints the CLI's message on stderr and returns 1: the caller stops. A dry run
# prints PLACEHOLDER instead.
aws_read() {
  local placeholder=$1
  shift
  trace "${@:2}"
  if [[ $DRY_RUN != 0 ]]; then
    printf '%s\n' "$placeholder"
    return 0
  fi
  aws_try "$@"
}

# aws_try ABSENT CMD ARGS...: aws_read without the trace and the dry run.
aws_try() {
  local absent_code=${1%%|*} absent_text="" attempt=1 delay=$AWS_RETRY_DELAY out err errfile
  [[ $1 != *"|"* ]] || absent_text=${1#*|}
  shift
  errfile=$(mktemp "${TMPDIR:-/tmp}/h2o-aws.XXXXXX")
  while :; do
    if out=$("$@" 2>"$errfile" && printf x); then
      rm -f "$errfile"
      printf '%s' "${out%x}"
      return 0
    fi
    err=$(cat "$errfile")
    if [[ -n $absent_code && $err == *"($absent_code)"* && $err == *"$absent_text"* ]]; then
      rm -f "$errfile"
      return 3
    fi
    if ! throttled "$err" || ((attempt >= AWS_READ_ATTEMPTS)); then break; fi
    log "throttled by AWS (${err##*$'\n'}): trying again in ${delay} s (attempt $attempt of $AWS_READ_ATTEMPTS)"
    sleep "$delay"
    delay=$((delay * 2))
    attempt=$((attempt + 1))
  done
  rm -f "$errfile"
  printf '%s\n' "$err" >&2
  if throttled "$err"; then
    log "still throttled after $attempt attempts: stopping rather than taking the error for an answer"
  fi
  return 1
}

# read_stack_status STACK: sets stack_status to the stack's StackStatus, or ABSENT when CloudFormation says it does
# not exist: DescribeStacks then fails with "ValidationError ... Stack with id <name> does not exist" (boto/boto3
# issue 2807, the error CloudFormation returns for an unknown stack name). A deleted stack is not found by its
# name either (DeleteStack: "Deleted stacks don't show up in the DescribeStacks operation"). Any other error stops.
read_stack_status() {
  local rc=0
  stack_status=$(aws_read '<StackStatus>' 'ValidationError|does not exist' \
    aws cloudformation describe-stacks --region "$REGION" --stack-name "$1" \
    --query 'Stacks[0].StackStatus' --output text) || rc=$?
  case $rc in
    0) stack_status=${stack_status%$'\n'} ;;
    3) stack_status=ABSENT ;;
    *) die "cannot read the status of stack $1 (the AWS CLI's error is above; it is not taken for \"no stack\")" ;;
  esac
}

# classify_stack_status: sets stack_class from stack_status. The states ("Stack status codes", CloudFormation user
# guide, https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/view-stack-events.html#cfn-console-view-stack-data-resources-status-codes):
#   ready          a stable state with outputs: the last create, update or import worked, or a failed update was
#                  rolled back (UPDATE_ROLLBACK_COMPLETE: the stack is back where it was);
#   absent         no such stack;
#   failed-create  ROLLBACK_COMPLETE / ROLLBACK_FAILED (a failed create, rolled back; "only a delete operation can
#                  be performed"), REVIEW_IN_PROGRESS (created by a change set never executed: no resources). The
#                  CDK CLI deletes the first two and creates the stack anew (aws-cdk deploy-stack:
#                  stackStatus.isCreationFailure), and creates a change set on the third;
#   busy           another operation is running (*_IN_PROGRESS);
#   stuck          a failed operation that needs a person: UPDATE_ROLLBACK_FAILED, DELETE_FAILED, CREATE_FAILED and
#                  UPDATE_FAILED (a deploy with rollback disabled), IMPORT_ROLLBACK_FAILED.
# A dry run's placeholder counts as ready.
classify_stack_status() {
  case $stack_status in
    ABSENT) stack_class=absent ;;
    CREATE_COMPLETE | UPDATE_COMPLETE | UPDATE_ROLLBACK_COMPLETE | IMPORT_COMPLETE | IMPORT_ROLLBACK_COMPLETE | '<StackStatus>')
      stack_class=ready
      ;;
    ROLLBACK_COMPLETE | ROLLBACK_FAILED | REVIEW_IN_PROGRESS) stack_class=failed-create ;;
    *_IN_PROGRESS) stack_class=busy ;;
    *) stack_class=stuck ;;
  esac
}

# operation_of STATUS: the operation a busy status belongs to, in words.
operation_of() {
  case $1 in
    CREATE_IN_PROGRESS) printf 'a create' ;;
    ROLLBACK_IN_PROGRESS) printf 'the rollback of a failed create' ;;
    UPDATE_IN_PROGRESS | UPDATE_COMPLETE_CLEANUP_IN_PROGRESS) printf 'an update' ;;
    UPDATE_ROLLBACK_IN_PROGRESS | UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS) printf 'the rollback of a failed update' ;;
    DELETE_IN_PROGRESS) printf 'a delete' ;;
    IMPORT_*) printf 'an import' ;;
    *) printf 'another operation' ;;
  esac
}

# has_outputs STATUS: whether a stack in STATUS still has the outputs of its last good state: during an update or
# its rollback, and after a failed rollback of an update (DescribeStacks answers a stack's outputs in any status;
# in these an update has not replaced them, or has been rolled back; which values CloudFormation shows mid-update
# is unverified).
has_outputs() {
  case $1 in
    UPDATE_IN_PROGRESS | UPDATE_COMPLETE_CLEANUP_IN_PROGRESS | UPDATE_ROLLBACK_IN_PROGRESS | \
      UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS | UPDATE_ROLLBACK_FAILED) return 0 ;;
  esac
  return 1
}

# resources_in STACK STATUS: the logical IDs of the stack's resources in STATUS, space-separated. DescribeStackResources
# returns "only the first 100 resources" (CloudFormation API reference, DescribeStackResources); every stack of the app
# holds fewer (TestEveryStackFitsOneDescribeStackResources). Fails (the CLI's error on stderr) when they
# cannot be read.
resources_in() {
  local ids
  ids=$(aws_read "<logical IDs of the $2 resources>" '' aws cloudformation describe-stack-resources --region "$REGION" \
    --stack-name "$1" --query "StackResources[?ResourceStatus=='$2'].LogicalResourceId" --output text) || return 1
  ids=${ids%$'\n'}
  [[ $ids != None ]] || ids=""
  printf '%s' "${ids//$'\t'/ }"
}

# events_command STACK: where to read why (CLI v1 and v2).
events_command() {
  words aws cloudformation describe-stack-events --region "$REGION" --stack-name "$1" --max-items 20 \
    --query 'StackEvents[].[Timestamp,LogicalResourceId,ResourceStatus,ResourceStatusReason]' --output text
}

# recovery STACK: what to run for a stuck stack ($stack_status), on stderr, with the resources found in the stack.
recovery() {
  local name=$1 ids
  log "why: $(events_command "$name")"
  case $stack_status in
    UPDATE_ROLLBACK_FAILED)
      # ContinueUpdateRollback; ResourcesToSkip takes "only resources that are in the UPDATE_FAILED state because a
      # rollback failed" and marks them UPDATE_COMPLETE without rolling them back
      # (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ContinueUpdateRollback.html).
      log "CloudFormation could not roll back a failed update; no deploy can change the stack until the rollback is"
      log "finished. Fix what the events say, then:"
      log "  $(words aws cloudformation continue-update-rollback --region "$REGION" --stack-name "$name")"
      if ids=$(resources_in "$name" UPDATE_FAILED) && [[ -n $ids ]]; then
        log "If it fails again on the same resources, skip them (CloudFormation then leaves them as they are: check"
        log "them by hand afterwards):"
        # shellcheck disable=SC2086 # one argument per logical ID
        log "  $(words aws cloudformation continue-update-rollback --region "$REGION" --stack-name "$name" --resources-to-skip $ids)"
      fi
      ;;
    DELETE_FAILED)
      # DeleteStack's RetainResources: "For stacks in the DELETE_FAILED state, a list of resource logical IDs ...
      # CloudFormation deletes the stack but doesn't delete the retained resources"
      # (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeleteStack.html).
      log "a delete of the stack failed half-way; nothing can update it. Delete it again once the cause is fixed:"
      log "  $(words aws cloudformation delete-stack --region "$REGION" --stack-name "$name")"
      if ids=$(resources_in "$name" DELETE_FAILED) && [[ -n $ids ]]; then
        log "or delete it keeping the resources it could not delete (they stay in the account, outside CloudFormation):"
        # shellcheck disable=SC2086 # one argument per logical ID
        log "  $(words aws cloudformation delete-stack --region "$REGION" --stack-name "$name" --retain-resources $ids)"
      fi
      log "then deploy again: the stack is created anew."
      ;;
    CREATE_FAILED | UPDATE_FAILED)
      # A deploy with rollback disabled (cdk deploy --no-rollback) paused on a failure: RollbackStack
      # (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_RollbackStack.html).
      log "a deploy with rollback disabled stopped on a failure. Roll it back, then deploy again:"
      log "  $(words aws cloudformation rollback-stack --region "$REGION" --stack-name "$name")"
      ;;
    *)
      log "read the events, bring the stack to a *_COMPLETE state (CloudFormation console), then run this again."
      ;;
  esac
}

# check_stack STACK [tolerant]: reads the stack's status and acts on it. Returns 0 when the stack is ready (its
# outputs can be read), 1 when there is no stack to read (absent or a failed create: stack_status says which; the
# caller decides). Waits for an operation in progress (STACK_WAIT_CHECKS reads) and stops naming it when it does
# not end; stops with the recovery command on a stuck stack. "tolerant" (an emergency rollback, which goes around
# CloudFormation; a restore, which only reads names) returns 0 at once for a stack that is being updated or whose
# update rollback failed, with a warning (and the recovery command): its outputs are those of its last good state.
check_stack() {
  local name=$1 mode=${2:-} checks=0
  read_stack_status "$name"
  classify_stack_status
  while [[ $stack_class == busy ]]; do
    if [[ $mode == tolerant ]] && has_outputs "$stack_status"; then
      warn "stack $name is $stack_status ($(operation_of "$stack_status") is running): going ahead with the outputs of its last good state"
      return 0
    fi
    if ((checks == 0)); then
      log "stack $name is $stack_status: $(operation_of "$stack_status") is running (a deploy workflow, or someone's cdk deploy);"
      log "waiting for it, at most $STACK_WAIT_CHECKS checks $STACK_POLL_DELAY s apart"
    fi
    if ((checks >= STACK_WAIT_CHECKS)); then
      log "why and who: $(events_command "$name")"
      [[ $stack_status != UPDATE_IN_PROGRESS ]] ||
        log "if that update is stuck: $(words aws cloudformation cancel-update-stack --region "$REGION" --stack-name "$name")"
      die "stack $name is still $stack_status after $checks checks: $(operation_of "$stack_status") has not finished; run this again once it has"
    fi
    checks=$((checks + 1))
    sleep "$STACK_POLL_DELAY"
    read_stack_status "$name"
    classify_stack_status
  done
  case $stack_class in
    ready) return 0 ;;
    absent | failed-create) return 1 ;;
  esac
  if [[ $mode == tolerant && $stack_status == UPDATE_ROLLBACK_FAILED ]]; then
    warn "stack $name is UPDATE_ROLLBACK_FAILED: going ahead with the outputs of its last good state; to repair it:"
    recovery "$name"
    return 0
  fi
  recovery "$name"
  die "stack $name is $stack_status: stopped before changing anything (see above)"
}

# no_stack_reason: why check_stack returned 1, in words.
no_stack_reason() {
  case $stack_status in
    ABSENT) printf 'does not exist' ;;
    REVIEW_IN_PROGRESS) printf 'is REVIEW_IN_PROGRESS (created by a change set that was never executed: it has no resources)' ;;
    *) printf 'is %s (its create failed and was rolled back: it has no outputs)' "$stack_status" ;;
  esac
}

# name_property TYPE: the property that gives a resource of TYPE its physical name, from scripts/name-properties.txt
# (the one list, which the app's tests hold against every type the app keeps); empty for a type whose resources
# have no name of their own. Returns 1 for a type not listed: whether it has a fixed name cannot be told.
NAME_PROPERTIES_FILE="$(dirname "${BASH_SOURCE[0]}")/name-properties.txt"
name_property() {
  local prop
  prop=$(awk -v type="$1" '$1 == type { print $2; found = 1 } END { exit !found }' "$NAME_PROPERTIES_FILE") || return 1
  [[ $prop == - ]] || printf '%s' "$prop"
}

# template_value STACK LOGICAL_ID PROPERTY: the property of that resource in the template the stack was created
# from (None when the template does not set it). GetTemplate answers a failed create's template too; the CLI
# decodes a JSON TemplateBody into an object, so --query reaches into it (boto/botocore issue 1058: "We have a
# customization that decodes it"; the CDK writes JSON templates).
template_value() {
  local value
  value=$(aws_read '<template value>' '' aws cloudformation get-template --region "$REGION" --stack-name "$1" \
    --query "TemplateBody.Resources.$2.Properties.$3" --output text) || return 1
  printf '%s' "${value%$'\n'}"
}

# check_leftovers STACK: a failed create that rolled back (ROLLBACK_COMPLETE; ROLLBACK_FAILED goes to
# rollback_failed_recovery) deleted what it created, except resources kept by a Retain policy (DELETE_SKIPPED). RetainExceptOnCreate
# deletes them on a failed create ("RetainExceptOnCreate behaves like Retain ... except for the stack operation
# that initially created the resource", DeletionPolicy attribute, CloudFormation user guide). A leftover whose
# template sets its name makes the retry fail with "already exists": the deploy stops and names them. One with a
# generated name (an unnamed bucket) cannot collide, since the new stack generates new names: a warning names it,
# as it stays in the account outside any stack. A type this script cannot tell counts as named.
check_leftovers() {
  local name=$1 rows line id type physical status prop value named="" unnamed=""
  rows=$(aws_read '' '' aws cloudformation describe-stack-resources --region "$REGION" --stack-name "$name" \
    --query "StackResources[?ResourceStatus!='DELETE_COMPLETE'].[LogicalResourceId,ResourceType,PhysicalResourceId,ResourceStatus]" \
    --output text) || die "cannot list what the failed create of $name left behind (the AWS CLI's error is above)"
  rows=${rows%$'\n'}
  [[ -n $rows && $rows != None ]] || return 0
  while IFS=$'\t' read -r id type physical status; do
    line="$id  $type  $physical  $status"
    if ! prop=$(name_property "$type"); then
      named+="  $line (whether a $type has a fixed name is not known here: treated as named)"$'\n'
      continue
    fi
    value=None
    if [[ -n $prop ]]; then
      value=$(template_value "$name" "$id" "$prop") ||
        die "cannot read the template of $name (the AWS CLI's error is above): cannot tell whether $id has a fixed name"
    fi
    if [[ $value != None ]]; then
      named+="  $line ($prop $value)"$'\n'
    else
      unnamed+="  $line"$'\n'
    fi
  done <<<"$rows"
  if [[ -n $unnamed ]]; then
    warn "the failed create of $name left these resources with generated names in the account (logical ID, type,"
    warn "physical ID, status); a retry makes new ones and does not collide with them, but they stay, outside any stack:"
    while IFS= read -r line; do [[ -z $line ]] || warn "$line"; done <<<"$unnamed"
    warn "after the CDK CLI deleted $name, find them under the deleted stack: $(words aws cloudformation list-stacks \
      --region "$REGION" --stack-status-filter DELETE_COMPLETE --query "StackSummaries[?StackName=='$name'].[StackId,DeletionTime]" \
      --output text), then $(words aws cloudformation describe-stack-resources --region "$REGION" --stack-name '<StackId>')"
    warn "(or the CloudFormation console: Stacks, filter Deleted, the stack's Resources tab); keep or delete them."
  fi
  [[ -n $named ]] || return 0
  log "the failed create of $name left these resources with fixed names in the account (logical ID, type, physical"
  log "ID, status):"
  while IFS= read -r line; do [[ -z $line ]] || log "$line"; done <<<"$named"
  log "A retry would fail on them with \"already exists\". They were made by the failed create, so nothing uses"
  log "them yet: delete them (or, for data you want to keep, import them into the stack), then deploy again; the"
  log "CDK CLI deletes $name and creates it anew."
  die "stack $name is $stack_status and holds resources with fixed names that would block its re-creation (listed above)"
}

# rollback_failed_recovery STACK: a failed create whose rollback failed too (ROLLBACK_FAILED): CloudFormation could
# not delete some of what it created, typically a resource with deletion protection on (prod's database and load
# balancer). The CDK CLI's delete of the stack would fail on them again, so the deploy stops with the steps: the
# blocking resources (DELETE_FAILED, with CloudFormation's reason), the command that turns their deletion
# protection off, then delete-stack; the next deploy creates the stack anew. "The database can't be deleted when
# deletion protection is enabled" (RDS ModifyDBInstance, DeletionProtection); a load balancer's protection is its
# attribute deletion_protection.enabled, and "to delete the load balancer or its CloudFormation stack, first
# disable deletion protection" (AWSSupportRemediator-EnableElbDeletionProtection runbook,
# https://docs.aws.amazon.com/systems-manager-automation-runbooks/latest/userguide/automation-awssupportremediator-enableelbdeletionprotection.html).
# The physical ID of a DB instance is its identifier, of a load balancer its ARN (what Ref answers).
rollback_failed_recovery() {
  local name=$1 rows id type physical reason
  rows=$(aws_read '' '' aws cloudformation describe-stack-resources --region "$REGION" --stack-name "$name" \
    --query "StackResources[?ResourceStatus=='DELETE_FAILED'].[LogicalResourceId,ResourceType,PhysicalResourceId,ResourceStatusReason]" \
    --output text) || die "cannot list what blocks the rollback of $name (the AWS CLI's error is above)"
  rows=${rows%$'\n'}
  [[ $rows != None ]] || rows=""
  log "stack $name is ROLLBACK_FAILED: its first create failed, and its rollback could not delete everything it"
  log "created. Only a delete can act on it now; to recover:"
  if [[ -z $rows ]]; then
    log "  (no resource is DELETE_FAILED now) read why: $(events_command "$name")"
  fi
  local step=1
  while IFS=$'\t' read -r id type physical reason; do
    [[ -n $id ]] || continue
    log "  $step. $id ($type $physical) could not be deleted: $reason"
    case $type in
      AWS::RDS::DBInstance)
        log "     turn its deletion protection off: $(words aws rds modify-db-instance --region "$REGION" \
          --db-instance-identifier "$physical" --no-deletion-protection --apply-immediately)"
        ;;
      AWS::ElasticLoadBalancingV2::LoadBalancer)
        log "     turn its deletion protection off: $(words aws elbv2 modify-load-balancer-attributes --region "$REGION" \
          --load-balancer-arn "$physical" --attributes Key=deletion_protection.enabled,Value=false)"
        ;;
      *)
        log "     remove what the reason names (the console, or the service's CLI), so that it can be deleted"
        ;;
    esac
    step=$((step + 1))
  done <<<"$rows"
  read_termination_protection "$name"
  if ((termination_protected)); then
    log "  $step. allow the delete (the deploy turns termination protection on again): $(termination_protection_off "$name")"
    step=$((step + 1))
  fi
  log "  $step. delete the stack (what it created goes; retained resources stay): $(words aws cloudformation delete-stack \
    --region "$REGION" --stack-name "$name")"
  log "     and wait for it: $(words aws cloudformation wait stack-delete-complete --region "$REGION" --stack-name "$name")"
  log "  $((step + 1)). deploy again: the stack is created anew."
  die "stack $name is ROLLBACK_FAILED: stopped before changing anything (the recovery steps are above; docs/runbook.md, \"A failed first create of a prod stack\", says who may run each)"
}

# read_termination_protection STACK: sets termination_protected to 1 when the stack has termination protection
# (prod's stacks: the app sets it), else 0. DeleteStack then fails with "Stack [<name>] cannot be deleted while
# TerminationProtection is enabled", the CDK CLI's delete of a failed create included
# (aws-samples/aws-secure-environment-accelerator pull request 253). The CLI's text output prints the boolean as
# True or False; anything else is no answer.
read_termination_protection() {
  local value
  value=$(aws_read False '' aws cloudformation describe-stacks --region "$REGION" --stack-name "$1" \
    --query 'Stacks[0].EnableTerminationProtection' --output text) ||
    die "cannot read whether $1 has termination protection (the AWS CLI's error is above)"
  case ${value%$'\n'} in
    True | true) termination_protected=1 ;;
    False | false) termination_protected=0 ;;
    *) die "cannot tell whether $1 has termination protection: describe-stacks answered '${value%$'\n'}'" ;;
  esac
}

# termination_protection_off STACK: the command that turns the stack's termination protection off.
termination_protection_off() {
  words aws cloudformation update-termination-protection --region "$REGION" --stack-name "$1" \
    --no-enable-termination-protection
}

# check_deletable STACK: a failed create with termination protection cannot be deleted by the CDK CLI: stop with
# the command that allows it (the app turns the protection on again when it creates the stack anew).
check_deletable() {
  read_termination_protection "$1"
  ((termination_protected)) || return 0
  log "stack $1 has termination protection: the CDK CLI cannot delete it to create it anew. Once its events are"
  log "understood, allow the delete (the deploy creates the stack with termination protection again):"
  log "  $(termination_protection_off "$1")"
  log "then deploy again."
  die "stack $1 is $stack_status and has termination protection: stopped before changing anything (see above)"
}
