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
             ROLLBACK one: the last update did not fail); for a stack that needs repair, the command to repair
             it (continue-update-rollback, delete-stack) is printed;
  service    the ECS service runs its desired count, with one deployment (PRIMARY, COMPLETED);
  targets    the service's tasks are in one of its two target groups (outputs TargetGroupArn and
             AlternateTargetGroupArn: each canary deploy moves them to the other): every target of that group is
             healthy, and the other holds none (draining ones excepted: the release the last deploy replaced);
  health     GET <ApiUrl>/health answers 2xx, through CloudFront;
             (targets and health are SKIPped when the service is scaled to 0 off hours: dev at night)
  waf        the distribution (output DistributionId) uses the stage's web ACL (output WebAclArn), and the web
             ACL logs to the stage's log group (output WafLogDestination); "no WAF in this stage" where there is
             none (dev);
  origin     the load balancer's one source (output CloudFrontPrefixListId) is the AWS-managed prefix list
             com.amazonaws.global.cloudfront.origin-facing of the region;
  alarms     flips the canary alarm (output CanaryAlarmName of h2o-<stage>-observability, which exists only for
             this) to ALARM, then reads the SNS metrics NumberOfNotificationsDelivered/-Failed of the alarm topic
             until a delivery shows up: FAIL when a notification failed or none was delivered in VERIFY_WAIT s;
             the canary goes back to OK by itself;
  rotation   the RDS-managed master secret (output DatabaseSecretArn) has rotation enabled;
  backups    automated backups (BackupRetentionPeriod > 0, a LatestRestorableTime) and, in stages with an AWS
             Backup plan (output BackupVaultName: prod), recovery points of the database in its vault (none yet
             on a fresh stage before its first backup window: WARN);
  vault      the backup vault is locked with the mode and minimum retention the template set (outputs
             BackupVaultLockMode, BackupVaultMinRetentionDays); a compliance lock before its lock date: WARN.
Run it after the first deploy of a stage and after any deploy (the deploy workflow does). A failed AWS read
(throttled beyond AWS_READ_ATTEMPTS, access denied, expired credentials, no network) stops it with the CLI's
message and exit 1: an error is never reported as what the check looked for being absent.

Environment:
  VERIFY_WAIT     seconds to wait for the alarm notification to show up in the SNS metrics (default 300)
  VERIFY_POLL     seconds between two reads of those metrics (default 30)
  SMOKE_ATTEMPTS  health check attempts (default 5), SMOKE_DELAY seconds between them (default 10)
  AWS_READ_ATTEMPTS, AWS_RETRY_DELAY  as for deploy.sh
  DRY_RUN=1       print every aws/curl command instead of running it (needs no credentials)

Exit status: 0 every check passed; 1 a check failed or AWS could not be read; 2 bad usage or unknown stage.
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

# read_for CHECK PLACEHOLDER CMD ARGS...: an AWS read for CHECK; a failed one stops verify.sh with the CLI's message.
read_for() {
  local check=$1
  shift
  aws_read "$1" '' "${@:2}" || die "$check: cannot read AWS (the CLI's error is above): stopped"
}

# --- stacks: the states of "Stack status codes" (aws.sh, classify_stack_status)
ready_layers=" "
for layer in $LAYERS; do
  name="h2o-$stage-$layer"
  read_stack_status "$name"
  classify_stack_status
  case $stack_class in
    ready)
      ready_layers+="$layer "
      # UPDATE_ROLLBACK_COMPLETE is a stable state: the last update failed and the stack is back where it was (the
      # CDK skips it while its template is unchanged).
      if [[ $stack_status == UPDATE_ROLLBACK_COMPLETE ]]; then
        report WARN stacks "$name $stack_status (its last update was rolled back; see its events)"
      else
        report PASS stacks "$name $stack_status"
      fi
      ;;
    absent | failed-create) report FAIL stacks "$name $(no_stack_reason) (deploy the stage: scripts/deploy.sh $stage)" ;;
    busy) report FAIL stacks "$name $stack_status: $(operation_of "$stack_status") is running; verify again once it is done" ;;
    *)
      report FAIL stacks "$name $stack_status (needs repair: the commands are printed on stderr)"
      [[ $DRY_RUN != 0 ]] || recovery "$name"
      ;;
  esac
done

# The outputs of the ready stacks; the checks that need another stack's outputs fail naming its state.
for layer in data compute edge observability; do
  [[ $ready_layers != *" $layer "* ]] || load_outputs "$layer"
done
# need VAR CHECK LAYER KEY: sets VAR to the output's value; a missing one is a FAIL of CHECK (VAR empty).
need() {
  local value
  value=$(output_optional "$3" "$4")
  if [[ -z $value ]]; then
    if [[ $ready_layers == *" $3 "* ]]; then
      report FAIL "$2" "stack h2o-$stage-$3 has no output $4 (not deployed by this version of the app?)"
    else
      report FAIL "$2" "stack h2o-$stage-$3 is not ready (above): no output $4 to check with"
    fi
  fi
  printf -v "$1" '%s' "$value"
}

# --- service
desired=""
need cluster service compute ClusterName
need service service compute ServiceName
if [[ -n $cluster && -n $service ]]; then
  state=$(read_for service "$(printf '<desiredCount>\t<runningCount>\t<deployments>\t<rolloutState>')" \
    aws ecs describe-services --region "$REGION" --cluster "$cluster" --services "$service" \
    --query "services[0].[desiredCount, runningCount, length(deployments), deployments[?status=='PRIMARY'] | [0].rolloutState]" \
    --output text) || exit 1
  IFS=$'\t' read -r desired running deployments rollout <<<"$state"
  what="$cluster/$service: $running of $desired tasks running, $deployments deployment(s), primary $rollout"
  if [[ $desired == None ]]; then
    report FAIL service "ECS does not know $cluster/$service (deleted outside CloudFormation?)"
  elif [[ $desired == 0 && $running == 0 ]]; then
    report PASS service "$what (scaled to 0: off hours)"
  elif [[ $running == "$desired" && $deployments == 1 && $rollout == COMPLETED ]]; then
    report PASS service "$what"
  else
    report FAIL service "$what (a deployment still rolling, or tasks failing: see the service's events)"
  fi
fi
asleep=0
[[ $desired != 0 ]] || asleep=1

# --- targets: the service's tasks are in one of its two target groups, which changes with every canary deploy
# (stacks/rollout.go): the group that holds them must have every target healthy, the other none but draining ones.
# count_states STATES: sets healthy, other (neither healthy nor draining) and draining.
count_states() {
  local s
  healthy=0 other=0 draining=0
  for s in $1; do
    case $s in
      healthy) healthy=$((healthy + 1)) ;;
      draining) draining=$((draining + 1)) ;;
      *) other=$((other + 1)) ;;
    esac
  done
}
if ((asleep)); then
  report SKIP targets "desired count 0 (scaled to 0 off hours): no targets to check"
else
  need primary_group targets compute TargetGroupArn
  need alternate_group targets compute AlternateTargetGroupArn
  if [[ -n $primary_group && -n $alternate_group ]]; then
    primary_states=$(target_states "$primary_group") || die "targets: cannot read AWS (the CLI's error is above): stopped"
    alternate_states=$(target_states "$alternate_group") || die "targets: cannot read AWS (the CLI's error is above): stopped"
    live="" idle=""
    if holds_tasks "$primary_states" && ! holds_tasks "$alternate_states"; then
      live=$primary_group live_states=$primary_states idle=$alternate_group idle_states=$alternate_states
    elif holds_tasks "$alternate_states" && ! holds_tasks "$primary_states"; then
      live=$alternate_group live_states=$alternate_states idle=$primary_group idle_states=$primary_states
    fi
    hint="aws elbv2 describe-target-health --region $REGION --target-group-arn"
    if [[ -n $live ]]; then
      count_states "$live_states"
      what="${live##*:}: $healthy healthy, $other not healthy, $draining draining (holds the service's tasks)"
      if ((other == 0 && healthy > 0)); then
        report PASS targets "$what"
      else
        report FAIL targets "$what (see: $hint $live)"
      fi
      count_states "$idle_states"
      left=""
      ((draining == 0)) || left=" ($draining draining: the release it replaced leaving)"
      report PASS targets "${idle##*:}: no tasks, as expected of the group the last deploy moved away from$left"
    else
      count_states "$primary_states"
      what="${primary_group##*:}: $healthy healthy, $other not healthy, $draining draining; "
      count_states "$alternate_states"
      what+="${alternate_group##*:}: $healthy healthy, $other not healthy, $draining draining"
      if holds_tasks "$primary_states"; then
        report FAIL targets "both target groups hold tasks ($what): a deployment still moving traffic, or one that stopped half-way (see the service's events)"
      else
        report FAIL targets "neither target group holds a task ($what): see $hint <group>"
      fi
    fi
  fi
fi

# --- health, through CloudFront
need url health edge ApiUrl
if ((asleep)); then
  report SKIP health "the service is scaled to 0 (off hours): ${url:-<ApiUrl>}/health answers 503 until it scales up"
elif [[ -n $url ]]; then
  if smoke_test "${url%/}/health"; then
    report PASS health "GET ${url%/}/health: 2xx"
  else
    report FAIL health "GET ${url%/}/health: no 2xx answer in ${SMOKE_ATTEMPTS:-5} attempts"
  fi
fi

# --- WAF: the distribution's web ACL (GetDistribution's DistributionConfig.WebACLId: the web ACL's ARN for WAFv2,
# CloudFront API Reference, DistributionConfig) and its logging configuration. GetLoggingConfiguration answers
# WAFNonexistentItemException when the web ACL has none (WAFv2 API Reference, GetLoggingConfiguration, "Errors").
web_acl=$(output_optional edge WebAclArn)
if [[ -z $web_acl ]]; then
  if [[ $ready_layers != *" edge "* ]]; then
    report FAIL waf "stack h2o-$stage-edge is not ready (above): no WAF to check"
  elif [[ $stage == prod ]]; then
    report WARN waf "no WAF in this stage (no WebAclArn output: wafMode off?)"
  else
    report SKIP waf "no WAF in this stage"
  fi
else
  need distribution waf edge DistributionId
  if [[ -n $distribution ]]; then
    attached=$(read_for waf '<WebAclArn>' aws cloudfront get-distribution --region "$REGION" --id "$distribution" \
      --query 'Distribution.DistributionConfig.WebACLId' --output text) || exit 1
    attached=${attached%$'\n'}
    if [[ $attached == "$web_acl" ]]; then
      report PASS waf "distribution $distribution uses web ACL ${web_acl##*/webacl/}"
    else
      report FAIL waf "distribution $distribution uses web ACL '${attached:-none}', not $web_acl"
    fi
  fi
  want_log=$(output_optional edge WafLogDestination)
  rc=0
  logging=$(aws_read '<LogDestination>' 'WAFNonexistentItemException' aws wafv2 get-logging-configuration \
    --region "$REGION" --resource-arn "$web_acl" --query 'LoggingConfiguration.LogDestinationConfigs[0]' \
    --output text) || rc=$?
  ((rc == 0 || rc == 3)) || die "waf: cannot read the logging configuration of $web_acl (the AWS CLI's error is above): stopped"
  logging=${logging%$'\n'}
  [[ $logging != None ]] || logging=""
  if [[ -z $want_log ]]; then
    report SKIP waf "web ACL logging is off in this stage's settings (wafLogging)${logging:+; it logs to ${logging##*:} anyway}"
  elif [[ $DRY_RUN != 0 || $logging == "$want_log" ]]; then
    report PASS waf "web ACL logging to ${logging##*:log-group:}"
  else
    report FAIL waf "web ACL ${web_acl##*/webacl/} logs to '${logging:-nothing}', not to $want_log (wafLogging is on)"
  fi
fi

# --- origin: the one source the load balancer admits (output CloudFrontPrefixListId, a literal in the settings so
# synth stays offline) must be CloudFront's origin-facing managed prefix list, which AWS names, not numbers, in its
# docs ("AWS-managed prefix lists", VPC user guide: com.amazonaws.global.cloudfront.origin-facing). A wrong id cuts
# CloudFront off, or admits someone else.
need prefix_list origin compute CloudFrontPrefixListId
if [[ -n $prefix_list ]]; then
  cloudfront_list=com.amazonaws.global.cloudfront.origin-facing
  found=$(read_for origin "$(printf '%s\tAWS' "$prefix_list")" aws ec2 describe-managed-prefix-lists --region "$REGION" \
    --filters "Name=prefix-list-name,Values=$cloudfront_list" --query 'PrefixLists[].[PrefixListId,OwnerId]' \
    --output text) || exit 1
  found=${found%$'\n'}
  IFS=$'\t' read -r found_id found_owner <<<"$found"
  if [[ -z $found || $found == None ]]; then
    report FAIL origin "AWS has no managed prefix list $cloudfront_list in $REGION: the load balancer admits $prefix_list, which is not CloudFront's"
  elif [[ $found == *$'\n'* || $found_owner != AWS ]]; then
    report FAIL origin "more than one prefix list, or one not AWS's, is named $cloudfront_list: ${found//$'\n'/; }; the settings name $prefix_list"
  elif [[ $found_id == "$prefix_list" ]]; then
    report PASS origin "$prefix_list is $cloudfront_list (AWS-managed): the only source the load balancer admits"
  else
    report FAIL origin "cloudFrontPrefixListId is $prefix_list, but $cloudfront_list is $found_id in $REGION: CloudFront cannot reach the load balancer; set cloudFrontPrefixListId=$found_id and deploy"
  fi
fi

# --- alarm delivery: SetAlarmState changes the state until the next evaluation
# (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_SetAlarmState.html); SNS counts each
# delivery per topic in AWS/SNS (https://docs.aws.amazon.com/sns/latest/dg/sns-monitoring-using-cloudwatch.html).
need canary alarms observability CanaryAlarmName
need topic alarms observability AlarmTopicName
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
    read_for alarms '<Sum>' aws cloudwatch get-metric-statistics --region "$REGION" --namespace AWS/SNS \
      --metric-name "$1" --dimensions "Name=TopicName,Value=$topic" --start-time "$start" --end-time "$end" \
      --period 60 --statistics Sum --query 'sum(Datapoints[].Sum)' --output text
  }
  if ((flipped)); then
    # VERIFY_WAIT / VERIFY_POLL reads (at least one); with VERIFY_POLL=0, VERIFY_WAIT reads without a pause.
    if ((poll_s > 0)); then rounds=$((wait_s / poll_s)); else rounds=$wait_s; fi
    if ((rounds < 1)) || [[ $DRY_RUN != 0 ]]; then rounds=1; fi
    delivered=0 undelivered=0
    for ((i = 1; i <= rounds; i++)); do
      [[ $DRY_RUN != 0 ]] || sleep "$poll_s"
      sum=$(metric NumberOfNotificationsDelivered) || exit 1
      delivered=$(integer "$sum")
      sum=$(metric NumberOfNotificationsFailed) || exit 1
      undelivered=$(integer "$sum")
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
need secret rotation data DatabaseSecretArn
if [[ -n $secret ]]; then
  rotation=$(read_for rotation True aws secretsmanager describe-secret --region "$REGION" --secret-id "$secret" \
    --query RotationEnabled --output text) || exit 1
  rotation=${rotation%$'\n'}
  if [[ $rotation == True ]]; then
    report PASS rotation "${secret##*:secret:}: rotation enabled"
  else
    report FAIL rotation "${secret##*:secret:}: rotation enabled = $rotation"
  fi
fi

# --- backups
need db backups data DatabaseInstanceId
if [[ -n $db ]]; then
  backup=$(read_for backups "$(printf '<BackupRetentionPeriod>\t<LatestRestorableTime>\t<DBInstanceArn>')" \
    aws rds describe-db-instances --region "$REGION" --db-instance-identifier "$db" \
    --query 'DBInstances[0].[BackupRetentionPeriod, LatestRestorableTime, DBInstanceArn]' --output text) || exit 1
  IFS=$'\t' read -r retention latest db_arn <<<"$backup"
  what="$db: retention $retention days, latest restorable time $latest"
  if [[ $(integer "$retention") -gt 0 && -n $latest && $latest != None ]]; then
    report PASS backups "$what"
  else
    report FAIL backups "$what (no point-in-time recovery)"
  fi
  vault=$(output_optional data BackupVaultName)
  if [[ -z $vault ]]; then
    report SKIP backups "no AWS Backup plan in this stage (automated RDS backups only)"
  else
    points=$(read_for backups '<RecoveryPoints>' aws backup list-recovery-points-by-backup-vault --region "$REGION" \
      --backup-vault-name "$vault" --by-resource-arn "$db_arn" \
      --query "length(RecoveryPoints[?Status=='COMPLETED' || Status=='AVAILABLE'])" --output text) || exit 1
    points=${points%$'\n'}
    if (($(integer "$points") > 0)); then
      report PASS backups "vault $vault: $points recovery point(s) of $db"
    else
      report WARN backups "vault $vault: no recovery point of $db yet (a fresh stage gets its first in the plan's backup window; if it is older, see $(words aws backup list-backup-jobs --region "$REGION" --by-backup-vault-name "$vault"))"
    fi
  fi
fi

# --- vault: the backup vault's lock as AWS reports it (DescribeBackupVault: Locked, MinRetentionDays, LockDate,
# "the date and time when Backup Vault Lock configuration cannot be changed or deleted"), against what the template
# set (outputs BackupVaultLockMode, BackupVaultMinRetentionDays): drift detection cannot compare it, ChangeableForDays
# being write-only. A compliance lock has a lock date, after which it is immutable; before it, it can still be
# removed (the 3-day cooling-off of ChangeableForDays: AWS::Backup::BackupVault LockConfigurationType).
vault=$(output_optional data BackupVaultName)
if [[ -z $vault ]]; then
  if [[ $ready_layers == *" data "* ]]; then
    report SKIP vault "no AWS Backup vault in this stage"
  else
    report FAIL vault "stack h2o-$stage-data is not ready (above): no vault to check"
  fi
else
  want_mode=$(output_optional data BackupVaultLockMode)
  want_days=$(output_optional data BackupVaultMinRetentionDays)
  lock=$(read_for vault "$(printf 'True\t<MinRetentionDays>\t<LockDate>')" aws backup describe-backup-vault --region "$REGION" \
    --backup-vault-name "$vault" --query '[Locked, MinRetentionDays, LockDate]' --output text) || exit 1
  IFS=$'\t' read -r locked min_days lock_date <<<"${lock%$'\n'}"
  [[ $lock_date != None ]] || lock_date=""
  now=$(date -u +%Y-%m-%dT%H:%M:%S)
  if [[ -z $want_mode || -z $want_days ]]; then
    report WARN vault "h2o-$stage-data has no BackupVaultLockMode/BackupVaultMinRetentionDays outputs (deployed by an older version): vault $vault Locked=$locked, MinRetentionDays $min_days, lock date ${lock_date:-none}"
  elif [[ $locked != True ]]; then
    report FAIL vault "vault $vault is not locked (Locked=$locked): its recovery points can be deleted before $want_days days"
  elif [[ $min_days != "$want_days" ]]; then
    report FAIL vault "vault $vault keeps recovery points at least $min_days days, the template says $want_days"
  elif [[ $want_mode == compliance && -z $lock_date ]]; then
    report FAIL vault "vault $vault has no lock date: its lock is in governance mode (removable by anyone allowed to), the settings say compliance"
  elif [[ $want_mode == compliance && ${lock_date:0:19} > $now ]]; then
    report WARN vault "vault $vault: compliance lock, min $min_days days, still removable until its lock date $lock_date (the cooling-off after it was set); immutable from then"
  elif [[ $want_mode == compliance ]]; then
    report PASS vault "vault $vault: compliance lock, min $min_days days, immutable since $lock_date"
  elif [[ -n $lock_date ]]; then
    report WARN vault "vault $vault: the settings say governance, but its lock has a lock date ($lock_date): compliance mode, immutable from then"
  else
    report PASS vault "vault $vault: governance lock, min $min_days days"
  fi
fi

# --- versions: PostgreSQL and Valkey still supported (scripts/versions.sh, check_versions)
# shellcheck source=scripts/versions.sh
source "$SCRIPTS_DIR/versions.sh" && check_versions

[[ $DRY_RUN == 0 ]] || exit 0
printf 'verify.sh %s: %d PASS, %d FAIL, %d WARN\n' "$stage" "$passed" "$failed" "$warned"
((failed == 0))
