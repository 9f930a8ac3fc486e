#!/usr/bin/env bash
# verify.sh: check that a deployed stage is whole and healthy, end to end: stacks, service, targets, the public
# health check, WAF, alarm delivery, database secret rotation and backups. Read-only except for one thing: it
# flips the stage's notification canary alarm to ALARM to prove that alarm notifications are delivered.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/verify.sh [--help] <stage>

Checks <stage> (dev or prod) after a deploy and prints one PASS/FAIL line per check with what it looked at
(WARN: worth a look, not a failure; SKIP: does not apply to this stage now):
  stacks     h2o-<stage>-network, -data, -compute, -edge, -observability are in a *_COMPLETE state (not a
             ROLLBACK one: the last update did not fail);
  service    the ECS service runs its desired count, with one deployment (PRIMARY, COMPLETED);
  targets    every target of the load balancer's target group (output TargetGroupArn) is healthy;
  health     GET <ApiUrl>/health answers 2xx, through CloudFront;
             (targets and health are SKIPped when the service is scaled to 0 off hours: dev at night)
  waf        the distribution's web ACL is the stage's (output WebAclArn), with logging configured (prod);
             "no WAF in this stage" where there is none (dev);
  alarms     flips the canary alarm (output CanaryAlarmName of h2o-<stage>-observability, which exists only for
             this) to ALARM, then reads the SNS metrics NumberOfNotificationsDelivered/-Failed of the alarm topic
             until a delivery shows up: FAIL when a notification failed or none was delivered in VERIFY_WAIT s;
             the canary goes back to OK by itself;
  rotation   the RDS-managed master secret (output DatabaseSecretArn) has rotation enabled;
  backups    automated backups (BackupRetentionPeriod > 0, a LatestRestorableTime) and, in stages with an AWS
             Backup plan (output BackupVaultName: prod), recovery points of the database in its vault (none yet
             on a fresh stage before its first backup window: WARN).
Run it after the first deploy of a stage and after any deploy (the deploy workflow does).

Environment:
  VERIFY_WAIT     seconds to wait for the alarm notification to show up in the SNS metrics (default 300)
  VERIFY_POLL     seconds between two reads of those metrics (default 30)
  SMOKE_ATTEMPTS  health check attempts (default 5), SMOKE_DELAY seconds between them (default 10)
  DRY_RUN=1       print every aws/curl command instead of running it (needs no credentials)

Exit status: 0 every check passed; 1 a check failed; 2 bad usage or unknown stage.
EOF
}

# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

parse_stage_argument "$@"
wait_s=${VERIFY_WAIT:-300}
poll_s=${VERIFY_POLL:-30}
[[ $wait_s =~ ^[0-9]+$ ]] || die_usage "VERIFY_WAIT must be a number of seconds"
[[ $poll_s =~ ^[0-9]+$ ]] || die_usage "VERIFY_POLL must be a number of seconds"

passed=0 failed=0 warned=0
# report STATUS CHECK DETAIL: one result line on stdout (a dry run decides nothing: it only lists the commands).
report() {
  [[ $DRY_RUN == 0 ]] || return 0
  case $1 in
    PASS) passed=$((passed + 1)) ;;
    FAIL) failed=$((failed + 1)) ;;
    WARN) warned=$((warned + 1)) ;;
  esac
  printf '%-4s  %-9s %s\n' "$1" "$2" "$3"
}

# integer VALUE: VALUE's whole part when it is a number (CloudWatch sums print as 2.0), else 0.
integer() {
  local v=${1%%.*}
  if [[ $v =~ ^[0-9]+$ ]]; then printf '%s' "$v"; else printf 0; fi
}

# --- stacks
for layer in network data compute edge observability; do
  name="h2o-$stage-$layer"
  if status=$(capture '<StackStatus>' aws cloudformation describe-stacks --region "$REGION" --stack-name "$name" \
    --query 'Stacks[0].StackStatus' --output text); then
    # UPDATE_ROLLBACK_COMPLETE is a stable state: the last update failed and the stack is back where it was (the CDK
    # skips it while its template is unchanged). ROLLBACK_COMPLETE is a failed create: nothing usable is left.
    case $status in
      CREATE_COMPLETE | UPDATE_COMPLETE | IMPORT_COMPLETE) report PASS stacks "$name $status" ;;
      UPDATE_ROLLBACK_COMPLETE) report WARN stacks "$name $status (its last update was rolled back; see its events)" ;;
      *) report FAIL stacks "$name $status (want CREATE_COMPLETE, UPDATE_COMPLETE or UPDATE_ROLLBACK_COMPLETE; see its events)" ;;
    esac
  else
    report FAIL stacks "$name not found"
  fi
done

# outputs NAME: the stack's outputs, empty when they cannot be read (the checks that need them then fail).
outputs() { stack_outputs "h2o-$stage-$1" || true; }
data=$(outputs data)
compute=$(outputs compute)
edge=$(outputs edge)
observability=$(outputs observability)
# need VAR CHECK OUTPUTS KEY: sets VAR to the output's value; a missing output is a FAIL of CHECK (VAR empty).
need() {
  local value
  value=$(output_optional "$3" "$4")
  [[ -n $value ]] || report FAIL "$2" "output $4 not found (stack not deployed by this version of the app?)"
  printf -v "$1" '%s' "$value"
}

# --- service
desired=""
need cluster service "$compute" ClusterName
need service service "$compute" ServiceName
if [[ -n $cluster && -n $service ]]; then
  if state=$(capture "$(printf '<desiredCount>\t<runningCount>\t<deployments>\t<rolloutState>')" \
    aws ecs describe-services --region "$REGION" --cluster "$cluster" --services "$service" \
    --query "services[0].[desiredCount, runningCount, length(deployments), deployments[?status=='PRIMARY'] | [0].rolloutState]" \
    --output text); then
    IFS=$'\t' read -r desired running deployments rollout <<<"$state"
    what="$cluster/$service: $running of $desired tasks running, $deployments deployment(s), primary $rollout"
    if [[ $desired == 0 && $running == 0 ]]; then
      report PASS service "$what (scaled to 0: off hours)"
    elif [[ $running == "$desired" && $deployments == 1 && $rollout == COMPLETED ]]; then
      report PASS service "$what"
    else
      report FAIL service "$what (a deployment still rolling, or tasks failing: see the service's events)"
    fi
  else
    report FAIL service "cannot describe $cluster/$service"
  fi
fi
asleep=0
[[ $desired != 0 ]] || asleep=1

# --- targets
if ((asleep)); then
  report SKIP targets "desired count 0 (scaled to 0 off hours): no targets to check"
else
  need target_group targets "$compute" TargetGroupArn
  if [[ -n $target_group ]]; then
    if states=$(capture '<State>' aws elbv2 describe-target-health --region "$REGION" \
      --target-group-arn "$target_group" --query 'TargetHealthDescriptions[].TargetHealth.State' --output text); then
      healthy=0 other=0 draining=0
      for s in $states; do
        case $s in
          healthy) healthy=$((healthy + 1)) ;;
          draining) draining=$((draining + 1)) ;;
          *) other=$((other + 1)) ;;
        esac
      done
      what="${target_group##*:}: $healthy healthy, $other not healthy, $draining draining"
      if ((other == 0 && healthy > 0)); then
        report PASS targets "$what"
      else
        report FAIL targets "$what (see: aws elbv2 describe-target-health --region $REGION --target-group-arn $target_group)"
      fi
    else
      report FAIL targets "cannot describe the health of $target_group"
    fi
  fi
fi

# --- health, through CloudFront
need url health "$edge" ApiUrl
if ((asleep)); then
  report SKIP health "the service is scaled to 0 (off hours): ${url:-<ApiUrl>}/health answers 503 until it scales up"
elif [[ -n $url ]]; then
  if smoke_test "${url%/}/health"; then
    report PASS health "GET ${url%/}/health: 2xx"
  else
    report FAIL health "GET ${url%/}/health: no 2xx answer in ${SMOKE_ATTEMPTS:-5} attempts"
  fi
fi

# --- WAF (https://docs.aws.amazon.com/waf/latest/developerguide/logging.html)
web_acl=$(output_optional "$edge" WebAclArn)
if [[ -z $web_acl ]]; then
  if [[ $stage == prod ]]; then
    report WARN waf "no WAF in this stage (no WebAclArn output: wafMode off?)"
  else
    report SKIP waf "no WAF in this stage"
  fi
else
  need distribution waf "$edge" DistributionId
  if [[ -n $distribution ]]; then
    attached=$(capture '<WebAclArn>' aws cloudfront get-distribution --region "$REGION" --id "$distribution" \
      --query 'Distribution.DistributionConfig.WebACLId' --output text) || attached=""
    if [[ $attached == "$web_acl" ]]; then
      report PASS waf "distribution $distribution uses web ACL ${web_acl##*/webacl/}"
    else
      report FAIL waf "distribution $distribution uses web ACL '${attached:-none}', not $web_acl"
    fi
  fi
  if logging=$(capture '<LogDestination>' aws wafv2 get-logging-configuration --region "$REGION" \
    --resource-arn "$web_acl" --query 'LoggingConfiguration.LogDestinationConfigs[0]' --output text 2>/dev/null) &&
    [[ -n $logging && $logging != None ]]; then
    report PASS waf "web ACL logging to ${logging##*:}"
  elif [[ $stage == prod ]]; then
    report FAIL waf "web ACL ${web_acl##*/webacl/} has no logging configuration (required in prod)"
  else
    report WARN waf "web ACL ${web_acl##*/webacl/} has no logging configuration"
  fi
fi

# --- alarm delivery: SetAlarmState changes the state until the next evaluation
# (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_SetAlarmState.html); SNS counts each
# delivery per topic in AWS/SNS (https://docs.aws.amazon.com/sns/latest/dg/sns-monitoring-using-cloudwatch.html).
need canary alarms "$observability" CanaryAlarmName
need topic alarms "$observability" AlarmTopicName
if [[ -n $canary && -n $topic ]]; then
  t0=$(date -u +%s)
  # OK first: a canary still in ALARM from a run minutes ago would not change state, and send nothing.
  flipped=0
  if run aws cloudwatch set-alarm-state --region "$REGION" --alarm-name "$canary" --state-value OK \
    --state-reason "verify.sh: reset before the alarm delivery check" >/dev/null &&
    run aws cloudwatch set-alarm-state --region "$REGION" --alarm-name "$canary" --state-value ALARM \
      --state-reason "verify.sh test: alarm delivery check, not an incident" >/dev/null; then
    flipped=1
  else
    report FAIL alarms "cannot set the state of $canary"
  fi
  start=$(iso_utc $((t0 - 60)))
  end=$(iso_utc $((t0 + wait_s + 120)))
  metric() {
    capture '<Sum>' aws cloudwatch get-metric-statistics --region "$REGION" --namespace AWS/SNS --metric-name "$1" \
      --dimensions "Name=TopicName,Value=$topic" --start-time "$start" --end-time "$end" --period 60 \
      --statistics Sum --query 'sum(Datapoints[].Sum)' --output text
  }
  if ((flipped)); then
    # VERIFY_WAIT / VERIFY_POLL reads (at least one); with VERIFY_POLL=0, VERIFY_WAIT reads without a pause.
    if ((poll_s > 0)); then rounds=$((wait_s / poll_s)); else rounds=$wait_s; fi
    if ((rounds < 1)) || [[ $DRY_RUN != 0 ]]; then rounds=1; fi
    delivered=0 undelivered=0
    for ((i = 1; i <= rounds; i++)); do
      [[ $DRY_RUN != 0 ]] || sleep "$poll_s"
      delivered=$(integer "$(metric NumberOfNotificationsDelivered || true)")
      undelivered=$(integer "$(metric NumberOfNotificationsFailed || true)")
      ((delivered == 0 && undelivered == 0)) || break
    done
    dry_note "repeated every VERIFY_POLL=$poll_s s until a delivery shows up, for VERIFY_WAIT=$wait_s s"
    what="$canary -> topic $topic: $delivered delivered, $undelivered failed since $start"
    if ((undelivered > 0)); then
      report FAIL alarms "$what (a subscription does not accept notifications: check its endpoint)"
    elif ((delivered > 0)); then
      report PASS alarms "$what"
    else
      report FAIL alarms "$what: nothing delivered in ${wait_s}s (unconfirmed e-mail subscription?)"
    fi
  fi
fi

# --- rotation of the RDS-managed master secret
need secret rotation "$data" DatabaseSecretArn
if [[ -n $secret ]]; then
  rotation=$(capture True aws secretsmanager describe-secret --region "$REGION" --secret-id "$secret" \
    --query RotationEnabled --output text) || rotation="unreadable"
  if [[ $rotation == True ]]; then
    report PASS rotation "${secret##*:secret:}: rotation enabled"
  else
    report FAIL rotation "${secret##*:secret:}: rotation enabled = $rotation"
  fi
fi

# --- backups
need db backups "$data" DatabaseInstanceId
if [[ -n $db ]]; then
  if backup=$(capture "$(printf '<BackupRetentionPeriod>\t<LatestRestorableTime>\t<DBInstanceArn>')" \
    aws rds describe-db-instances --region "$REGION" --db-instance-identifier "$db" \
    --query 'DBInstances[0].[BackupRetentionPeriod, LatestRestorableTime, DBInstanceArn]' --output text); then
    IFS=$'\t' read -r retention latest db_arn <<<"$backup"
    what="$db: retention $retention days, latest restorable time $latest"
    if [[ $(integer "$retention") -gt 0 && -n $latest && $latest != None ]]; then
      report PASS backups "$what"
    else
      report FAIL backups "$what (no point-in-time recovery)"
    fi
  else
    report FAIL backups "cannot describe database $db"
    db_arn=""
  fi
  vault=$(output_optional "$data" BackupVaultName)
  if [[ -z $vault ]]; then
    report SKIP backups "no AWS Backup plan in this stage (automated RDS backups only)"
  elif [[ -n $db_arn ]]; then
    points=$(capture '<RecoveryPoints>' aws backup list-recovery-points-by-backup-vault --region "$REGION" \
      --backup-vault-name "$vault" --by-resource-arn "$db_arn" \
      --query "length(RecoveryPoints[?Status=='COMPLETED' || Status=='AVAILABLE'])" --output text) || points=""
    if [[ -z $points ]]; then
      report FAIL backups "cannot list the recovery points of vault $vault"
    elif (($(integer "$points") > 0)); then
      report PASS backups "vault $vault: $points recovery point(s) of $db"
    else
      report WARN backups "vault $vault: no recovery point of $db yet (a fresh stage gets its first in the plan's backup window; if it is older, see $(words aws backup list-backup-jobs --region "$REGION" --by-backup-vault-name "$vault"))"
    fi
  fi
fi

[[ $DRY_RUN == 0 ]] || exit 0
printf 'verify.sh %s: %d PASS, %d FAIL, %d WARN\n' "$stage" "$passed" "$failed" "$warned"
((failed == 0))
