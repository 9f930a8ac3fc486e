# shellcheck shell=bash
# What scripts/deploy.sh checks before it changes a stage, and what it watches while it does. Sourced by deploy.sh
# after common.sh, never run; bash 3.2 compatible (macOS). deploy.sh sets stage, tag, previous_tag and hotfix.
# shellcheck disable=SC2154 # stage, tag, previous_tag, hotfix: deploy.sh's

# placement_preflight STAGE: refuse a stage whose availability zones are ones where CloudFront VPC origins are reported
# unavailable, before anything is created. The zones come from the stage's settings as `cdk deploy` would see them
# (go run ./cmd/config -placement: works on a first deploy, nothing deployed needed), the unsupported zone IDs from
# config.VPCOriginUnsupportedAZIDs (config/versions.go, with their sources). Zone names map to different zone IDs
# in each account (AWS Regions and Availability Zones guide, "AZ IDs"), so only this account can say which IDs the
# names are: DescribeAvailabilityZones, ZoneId.
placement_preflight() {
  local stage=$1 placement key value zone_region="" zones="" unsupported="" mapping name id bad="" seen=0 found=""
  placement=$(cd "$REPO_ROOT" && capture "$(printf 'region %s\nzones <availabilityZones>\nunsupported <VPCOriginUnsupportedAZIDs>' "$REGION")" \
    go run ./cmd/config -stage "$stage" -placement) ||
    die "cannot read the availability zones of $stage from its settings (go run ./cmd/config: above)"
  while read -r key value; do
    case $key in
      region) zone_region=$value ;;
      zones) zones=$value ;;
      unsupported) unsupported=$value ;;
    esac
  done <<<"$placement"
  [[ $zone_region == "$REGION" ]] || die "the settings put $stage in region '$zone_region'; these scripts deploy to $REGION only"
  [[ -n $zones ]] || die "the settings of $stage name no availability zones"
  # shellcheck disable=SC2086 # one argument per zone name
  mapping=$(aws_read "$(printf '<zone name>\t<zone id>')" '' aws ec2 describe-availability-zones --region "$REGION" \
    --zone-names $zones --query 'AvailabilityZones[].[ZoneName,ZoneId]' --output text) ||
    die "cannot map the availability zones of $stage to zone IDs (the AWS CLI's error is above)"
  [[ $DRY_RUN == 0 ]] || return 0
  while IFS=$'\t' read -r name id; do
    [[ -n $name ]] || continue
    seen=$((seen + 1))
    found+="${found:+, }$name = $id"
    [[ " $unsupported " != *" $id "* ]] || bad+="${bad:+, }$name ($id)"
  done <<<"$mapping"
  # shellcheck disable=SC2086 # counts the words
  set -- $zones
  ((seen == $#)) || die "AWS mapped $seen of the $# availability zones of $stage ($zones): $found"
  if [[ -n $bad ]]; then
    log "CloudFront VPC origins are reported unavailable in zone IDs $unsupported of $REGION (config.VPCOriginUnsupportedAZIDs,"
    log "config/versions.go, with its sources), and in this account $bad is one of them: the stage's load balancer"
    log "could not be a VPC origin there. Choose other zones in the stage's availabilityZones (config/settings/$stage.json);"
    log "what each name is in this account: $(words aws ec2 describe-availability-zones --region "$REGION" \
      --query 'AvailabilityZones[].[ZoneName,ZoneId]' --output text)"
    die "refused before anything was created: $stage is configured for $bad, where CloudFront VPC origins are not supported"
  fi
  log "availability zones of $stage: $found; none is one where CloudFront VPC origins are reported unavailable"
}

# --- Deployment alarms. ECS rolls a deployment back when one of the service's deployment alarms goes into ALARM
# ("How CloudWatch alarms detect Amazon ECS deployment failures", ECS developer guide), but "if an alarm is in 'In
# alarm' state at the beginning of a deployment, Amazon ECS will NOT monitor alarms for the duration of that
# deployment" (AWS Copilot's manifest docs, deployment.rollback_alarms: aws/copilot-cli
# site/content/docs/include/deployment.en.md): exactly the case of a hotfix during an incident. So deploy.sh refuses
# to deploy while one is in ALARM, unless the operator says --hotfix; then the script watches the release itself.

# deployment_alarm_names: the compute stack's output DeploymentAlarmNames (load_outputs compute first), one a word;
# nothing for a stack deployed by a version of the app without that output.
deployment_alarm_names() {
  local names
  names=$(output_optional compute DeploymentAlarmNames)
  printf '%s' "${names//,/ }"
}

# alarms_in_alarm NAMES...: sets in_alarm to "name (since <time>)" of every named alarm in ALARM, comma-separated.
# An alarm CloudWatch does not know stops the deploy: ECS would watch nothing under that name.
alarms_in_alarm() {
  local states name state since seen=" "
  in_alarm=""
  states=$(aws_read "$(printf '%s\tOK\t<StateUpdatedTimestamp>' "$*")" '' aws cloudwatch describe-alarms --region "$REGION" \
    --alarm-names "$@" --query 'MetricAlarms[].[AlarmName,StateValue,StateUpdatedTimestamp]' --output text) ||
    die "cannot read the states of the deployment alarms $* (the AWS CLI's error is above)"
  [[ $DRY_RUN == 0 ]] || return 0
  while IFS=$'\t' read -r name state since; do
    [[ -n $name ]] || continue
    seen+="$name "
    [[ $state != ALARM ]] || in_alarm+="${in_alarm:+, }$name (since $since)"
  done <<<"$states"
  for name in "$@"; do
    [[ $seen == *" $name "* ]] ||
      die "deployment alarm $name does not exist in CloudWatch (output DeploymentAlarmNames of h2o-$stage-compute names it): see the stack's events"
  done
}

# check_deployment_alarms WHERE: refuses to go on while a deployment alarm of the stage is in ALARM, unless --hotfix
# ($hotfix); WHERE says what the deploy has done so far. Returns 0 when the deploy may go on.
check_deployment_alarms() {
  local names
  names=$(deployment_alarm_names)
  if [[ -z $names ]]; then
    warn "h2o-$stage-compute has no DeploymentAlarmNames output (deployed by an older version): the deployment alarms' states are not checked"
    return 0
  fi
  # shellcheck disable=SC2086 # one argument per alarm
  alarms_in_alarm $names
  if [[ -z $in_alarm ]]; then
    [[ $DRY_RUN != 0 ]] || log "deployment alarms ${names// /, }: none in ALARM (ECS watches them during the deploy)"
    return 0
  fi
  if ((hotfix)); then
    warn "deployment alarm(s) in ALARM: $in_alarm. ECS does not watch the deployment alarms of a deployment that"
    warn "starts while one is in ALARM: --hotfix, so this script judges the release itself and rolls it back on a breach"
    return 0
  fi
  log "deployment alarm(s) in ALARM: $in_alarm."
  log "ECS does not watch the deployment alarms of a deployment that starts while one of them is in ALARM (AWS"
  log "Copilot's docs on ECS deployment alarms): this deploy would go out unwatched. $1"
  # shellcheck disable=SC2086 # one argument per alarm
  log "See why: $(words aws cloudwatch describe-alarms --region "$REGION" --alarm-names $names \
    --query 'MetricAlarms[].[AlarmName,StateValue,StateReason]' --output text)"
  log "Then either wait until they are OK and deploy again, or, to ship the fix for what they report, deploy with"
  log "--hotfix (make deploy HOTFIX=1): the script judges the new release on its own target group's metrics against"
  log "the alarms' thresholds until ECS's bake ends, and rolls it back itself on a breach (docs/runbook.md, \"Hotfix"
  log "during an incident\")."
  die "refused: a deployment alarm of $stage is in ALARM and --hotfix was not given"
}

# --- The --hotfix watch. An alarm already in ALARM says nothing by its state, and the load balancer's metrics still
# carry the old release (the incident) until all traffic has moved: ECS's canary sends 100 - CanaryPercent % of the
# requests to the old tasks for CanaryBakeMinutes (stacks/rollout.go). So the script judges the new release on
# fresh data of its own: each deployment alarm's own metric queries (DescribeAlarms: Metrics, or the single metric),
# with the AWS/ApplicationELB metrics narrowed to the target group the new tasks start in (the group holding no
# task before the deploy: ECS starts a canary's tasks there), read with GetMetricData from the deploy's start, and
# compared as the alarm would: its Threshold and ComparisonOperator, DatapointsToAlarm of EvaluationPeriods
# periods, TreatMissingData. A breach stops the ECS deployment with a rollback (StopServiceDeployment ROLLBACK:
# "when a failing deployment was not detected by the circuit breaker or CloudWatch alarms", ECS developer guide,
# "Stopping Amazon ECS service deployments"), which moves the traffic back to the old tasks, still running during
# the bakes; deploy.sh then runs rollback.sh. A read that fails is no verdict: the watch stops and says so.

# HOTFIX_POLL s between two looks (default 30: a deployment alarm's period is 60 s).
hotfix_poll=${HOTFIX_POLL:-30}
[[ $hotfix_poll =~ ^[1-9][0-9]*$ ]] || die_usage "HOTFIX_POLL must be a positive number of seconds, not '$hotfix_poll'"

# The jq program that turns one DescribeAlarms alarm into what the watch judges it with (one JSON line): its name,
# its metric queries narrowed to target group $tg ("" leaves them as they are), the id and period of the query whose
# value the alarm compares, and its comparison. Every load balancer metric is narrowed, those of either target group
# and the load balancer's own (HTTPCode_ELB_5XX_Count, which CloudWatch has only per load balancer and zone: ALB
# user guide, "CloudWatch metrics for your Application Load Balancer"): narrowed, that series does not exist and
# reads as none (FILL 0). On purpose: the ALB's own 502/503/504 cannot be told apart between the failing release and
# the hotfix, and counting them would roll every hotfix back. A hotfix whose tasks drop connections fails its
# health checks instead: unhealthy hosts, the new group's.
# shellcheck disable=SC2016 # a jq program
watch_spec_jq='
  (if ((.Metrics // []) | length) > 0 then .Metrics
   else [{Id: "m0", ReturnData: true, MetricStat: {Metric: {Namespace, MetricName, Dimensions: (.Dimensions // [])},
          Period, Stat: (.Statistic // .ExtendedStatistic)}}] end) as $queries
  | ($queries | map(select(.ReturnData != false)) | .[0]) as $judged
  | {name: .AlarmName, id: $judged.Id,
     period: ($judged.Period // $judged.MetricStat.Period // ([$queries[].MetricStat.Period // empty] | max) // .Period // 60),
     threshold: .Threshold, op: .ComparisonOperator, n: .EvaluationPeriods,
     m: (.DatapointsToAlarm // .EvaluationPeriods), treat: (.TreatMissingData // "missing"),
     queries: (if $tg == "" then $queries else $queries | map(
       if .MetricStat.Metric.Namespace == "AWS/ApplicationELB"
       then .MetricStat.Metric.Dimensions |= (map(select(.Name != "TargetGroup")) + [{Name: "TargetGroup", Value: $tg}])
       else . end) end)}'

# The jq program that judges one GetMetricData answer against a spec ($spec): "breach <value> <time>" when some
# window of n periods ending at a datapoint holds m breaching datapoints (a missing period counts as breaching only
# with TreatMissingData breaching), "ok <datapoints>" otherwise, "error <why>" when the answer is incomplete.
# shellcheck disable=SC2016 # a jq program
watch_judge_jq='
  def breaching: if $spec.op == "GreaterThanThreshold" then . > $spec.threshold
    elif $spec.op == "GreaterThanOrEqualToThreshold" then . >= $spec.threshold
    elif $spec.op == "LessThanThreshold" then . < $spec.threshold
    else . <= $spec.threshold end;
  def epoch: sub("\\.[0-9]+"; "") | sub("\\+00:00$"; "Z") | fromdateiso8601;
  ([.MetricDataResults[]? | select(.Id == $spec.id)] | .[0]) as $r
  | if $r == null then "error no result for query \($spec.id)"
    elif $r.StatusCode != "Complete" then "error StatusCode \($r.StatusCode)"
    else [range(0; $r.Timestamps | length) as $i | {t: ($r.Timestamps[$i] | epoch), v: $r.Values[$i]}] as $points
      | [$points[] as $last
          | [$points[] | select(.t > $last.t - $spec.n * $spec.period and .t <= $last.t)] as $window
          | select(([$window[] | select(.v | breaching)] | length)
              + (if $spec.treat == "breaching" then $spec.n - ($window | length) else 0 end) >= $spec.m)
          | $last]
      | if length > 0 then "breach \(.[0].v) \(.[0].t | todate)" else "ok \($points | length)" end
    end'

# watch_prepare: what a watched deploy is judged by, read before it starts: sets watch_specs (one jq spec a line),
# watch_checks (looks after the traffic reached the new release, until ECS's bakes end) and new_group.
watch_prepare() {
  local names definitions primary alternate primary_states alternate_states canary bake period_max watch_s window
  command -v jq >/dev/null || die "--hotfix needs jq, to read the deployment alarms' definitions"
  names=$(deployment_alarm_names)
  # The target group the new tasks start in: the one holding no task now (verify.sh, targets). With tasks in
  # neither (a stage waking from 0), nothing else serves: the alarms' own queries judge the new release as they are.
  primary=$(output_value compute TargetGroupArn) || exit 1
  alternate=$(output_value compute AlternateTargetGroupArn) || exit 1
  primary_states=$(target_states "$primary") || die "cannot tell which target group holds the service's tasks (the AWS CLI's error is above)"
  alternate_states=$(target_states "$alternate") || die "cannot tell which target group holds the service's tasks (the AWS CLI's error is above)"
  new_group=""
  if holds_tasks "$primary_states" && holds_tasks "$alternate_states"; then
    [[ $DRY_RUN != 0 ]] || die "both target groups of the service hold tasks (a deployment still moving traffic?): cannot tell where the new release will run; nothing was deployed by this step"
  elif holds_tasks "$primary_states"; then
    new_group=${alternate##*:}
  elif holds_tasks "$alternate_states"; then
    new_group=${primary##*:}
  fi
  # shellcheck disable=SC2086 # one argument per alarm
  definitions=$(aws_read '{"MetricAlarms":[]}' '' aws cloudwatch describe-alarms --region "$REGION" --alarm-names $names \
    --output json) || die "cannot read the definitions of the deployment alarms (the AWS CLI's error is above)"
  watch_specs=$(jq -c --arg tg "$new_group" ".MetricAlarms[] | $watch_spec_jq" <<<"$definitions") ||
    die "cannot read the deployment alarms' definitions (jq: above)"
  if jq -e -s 'any(.[]; .op | test("^(Greater|Less)Than(OrEqualTo)?Threshold$") | not)' <<<"$watch_specs" >/dev/null; then
    die "a deployment alarm compares with an anomaly band, which --hotfix cannot judge: wait until the alarms are OK"
  fi
  # ECS watches through the canary bake and the deployment bake, the latter at least the alarms' own evaluation
  # window ("Amazon ECS computes this time period based on the alarm configuration": How CloudWatch alarms detect
  # Amazon ECS deployment failures); then one period more for the last one to end and one for CloudWatch to
  # publish it (the metric lag docs/performance.md assumes: a minute).
  canary=$(output_value compute CanaryBakeMinutes) || exit 1
  bake=$(output_value compute DeployBakeMinutes) || exit 1
  [[ $DRY_RUN == 0 ]] || { watch_checks=1; return 0; }
  # An alarm left out of the answer would be judged by nobody: no silent "healthy".
  # shellcheck disable=SC2086 # counts the words
  set -- $names
  (($(jq -s length <<<"$watch_specs") == $#)) ||
    die "CloudWatch described $(jq -s -r 'map(.name) | join(", ")' <<<"$watch_specs") of the deployment alarms $names: cannot judge the others"
  period_max=$(jq -s 'map(.period) | max // 60' <<<"$watch_specs")
  bake=$((bake * 60))
  for window in $(jq -s -r 'map(.period * .n) | .[]' <<<"$watch_specs"); do
    ((window <= bake)) || bake=$window
  done
  watch_s=$((canary * 60 + bake + 2 * period_max))
  watch_checks=$(((watch_s + hotfix_poll - 1) / hotfix_poll))
  log "judging the release on ${new_group:-both target groups} for ${watch_s} s after the traffic reaches it (canary ${canary} min + bake $((bake / 60)) min + 2 alarm periods), a look every ${hotfix_poll} s"
}

# watch_state: what the watched deploy is doing, as last read, for a person to act on.
watch_state() {
  local cluster service
  cluster=$(output_or compute ClusterName)
  service=$(output_or compute ServiceName)
  log "state: $watch_what (cdk deploy) is running in CloudFormation for h2o-$stage-compute; this script no longer watches it"
  if [[ -n $watch_arn ]]; then
    log "ECS deployment $watch_arn was $watch_status (lifecycle stage ${watch_stage:-unknown}) at the last read"
    log "follow it: $(words aws ecs describe-service-deployments --region "$REGION" --service-deployment-arns "$watch_arn" \
      --query 'serviceDeployments[0].[status,lifecycleStage]' --output text)"
    log "roll it back now (the old tasks still run during its bakes): $(words aws ecs stop-service-deployment \
      --region "$REGION" --service-deployment-arn "$watch_arn" --stop-type ROLLBACK)"
  else
    log "no ECS deployment of $cluster/$service had started at the last read: $(words aws ecs list-service-deployments \
      --region "$REGION" --cluster "$cluster" --service "$service" --query 'serviceDeployments[].[serviceDeploymentArn,status]' --output text)"
  fi
  log "after it ends: scripts/rollback.sh $stage ${previous_tag:-<previous-tag>} (or scripts/verify.sh $stage)"
}

# watch_failed WHAT: a read of the watch failed (the CLI's message is above): no verdict on the release either way.
# Says what state the deploy is in, stops the local CDK CLI (the CloudFormation update goes on) and exits 1.
watch_failed() {
  log "stopped watching: $1 could not be read (the error is above); a failed read is no verdict on the release"
  watch_state
  stop_watched_client
  die "the $watch_what of $tag to $stage is unwatched: the deployment alarms in ALARM keep ECS from judging it (see above)"
}

# stop_watched_client: ends the cdk deploy this script started in the background (its own process group), if it
# still runs; CloudFormation goes on with the update without it.
stop_watched_client() {
  [[ -n ${watch_pid:-} ]] || return 0
  if kill -0 "$watch_pid" 2>/dev/null; then
    kill -- "-$watch_pid" 2>/dev/null || kill "$watch_pid" 2>/dev/null || true
    log "stopped the local cdk deploy (process group $watch_pid); CloudFormation continues: $(words aws cloudformation \
      describe-stacks --region "$REGION" --stack-name "h2o-$stage-compute" --query 'Stacks[0].StackStatus' --output text)"
  fi
  watch_pid=""
}

# watch_look: one look at the deployment the watched deploy started (list, then describe); sets watch_arn,
# watch_status, watch_stage. A failed read ends the watch (watch_failed).
watch_look() {
  local cluster service answer
  cluster=$(output_value compute ClusterName) || exit 1
  service=$(output_value compute ServiceName) || exit 1
  if [[ -z $watch_arn ]]; then
    # Only deployments created since the deploy started (ListServiceDeployments createdAt.after).
    answer=$(aws_read '<serviceDeploymentArn>' '' aws ecs list-service-deployments --region "$REGION" --cluster "$cluster" \
      --service "$service" --created-at "after=$watch_since" --query 'serviceDeployments[0].serviceDeploymentArn' \
      --output text) || watch_failed "the service's deployments"
    answer=${answer%$'\n'}
    [[ $answer == None ]] || watch_arn=$answer
    [[ -n $watch_arn ]] || return 0
    log "watching ECS deployment $watch_arn"
  fi
  answer=$(aws_read "$(printf 'IN_PROGRESS\tPRODUCTION_TRAFFIC_SHIFT')" '' aws ecs describe-service-deployments --region "$REGION" \
    --service-deployment-arns "$watch_arn" --query 'serviceDeployments[0].[status,lifecycleStage]' --output text) ||
    watch_failed "ECS deployment $watch_arn"
  IFS=$'\t' read -r watch_status watch_stage <<<"${answer%$'\n'}"
}

# watch_judge: every deployment alarm judged on the data since the deploy started; sets watch_breach to the first
# breach found ("" when none). A failed read, or an answer CloudWatch marks incomplete, ends the watch.
watch_judge() {
  local spec name queries data verdict now
  watch_breach=""
  # Whole minutes around the window (the alarms' periods are minutes): the end after now, so never before the start.
  now=$(date -u +%s)
  now=$(iso_utc $((now - now % 60 + 60)))
  while read -r spec; do
    [[ -n $spec ]] || continue
    name=$(jq -r .name <<<"$spec")
    queries=$(jq -c .queries <<<"$spec")
    data=$(aws_read '{"MetricDataResults":[]}' '' aws cloudwatch get-metric-data --region "$REGION" \
      --metric-data-queries "$queries" --start-time "$watch_start" --end-time "$now" --output json) ||
      watch_failed "the metrics of $name"
    [[ $DRY_RUN == 0 ]] || continue
    verdict=$(jq -r --argjson spec "$spec" "$watch_judge_jq" <<<"$data") || watch_failed "the metrics of $name (jq: above)"
    case $verdict in
      breach*)
        # shellcheck disable=SC2086 # the verdict's words
        set -- $verdict
        watch_breach="$name: $2 at $3 (threshold $(jq -r '"\(.op) \(.threshold), \(.m) of \(.n) periods"' <<<"$spec"))"
        return 0
        ;;
      error*)
        printf '%s\n' "GetMetricData for $name: ${verdict#error }" >&2
        watch_failed "the metrics of $name"
        ;;
    esac
  done <<<"$watch_specs"
}

# watched_deploy WHAT CMD ARGS...: with --hotfix, runs the cdk deploy CMD in the background and watches the ECS
# deployment it starts, if any, until ECS's bakes end (watch_checks looks after the traffic reached the new tasks);
# on a breach stops that deployment with a rollback. Returns CMD's status, or 1 after a breach (watch_breach says
# which, watch_stopped whether the deployment was stopped: deploy.sh reads both). Without --hotfix it runs CMD.
# shellcheck disable=SC2034 # watch_stopped is deploy.sh's to read
watched_deploy() {
  watch_what=$1
  shift
  if ((!hotfix)); then
    "$@"
    return
  fi
  if [[ -z $(deployment_alarm_names) ]]; then
    warn "h2o-$stage-compute has no DeploymentAlarmNames output (deployed by an older version): the $watch_what is not watched"
    "$@"
    return
  fi
  local rc=0 done_=0 left="" idle=0
  watch_arn="" watch_status="" watch_stage="" watch_breach="" watch_pid="" watch_stopped=0 watch_start=""
  watch_prepare
  # The deployments this deploy starts are those created from now on; its metrics are read from the minute on.
  watch_since=$(date -u +%s)
  watch_start=$(iso_utc $((watch_since - watch_since % 60)))
  watch_since=$(iso_utc "$watch_since")
  if [[ $DRY_RUN != 0 ]]; then
    "$@"
    dry_note "--hotfix: while that runs, every HOTFIX_POLL=$hotfix_poll s until ECS's bakes end, the deployment it started:"
    watch_look
    dry_note "and each deployment alarm's own queries on the new release's target group, since the deploy started: $(words \
      aws cloudwatch get-metric-data --region "$REGION" --metric-data-queries '<queries>' --start-time '<deploy start>' \
      --end-time '<now>' --output json)"
    dry_note "on a breach: $(words aws ecs stop-service-deployment --region "$REGION" --service-deployment-arn \
      '<serviceDeploymentArn>' --stop-type ROLLBACK --query serviceDeploymentArn --output text), then scripts/rollback.sh"
    return 0
  fi
  trap stop_watched_client EXIT
  set -m # the cdk deploy in a process group of its own, to stop it whole if the watch fails
  "$@" </dev/null &
  watch_pid=$!
  set +m
  while :; do
    # Whether the deploy has ended is read before the deployment is looked for: a deploy that ended has started
    # any deployment it was going to.
    kill -0 "$watch_pid" 2>/dev/null || done_=1
    watch_look
    if [[ -n $watch_arn ]]; then
      case $watch_status in
        ROLLBACK_* | STOPPED | STOP_REQUESTED)
          log "ECS stopped deployment $watch_arn itself ($watch_status)"
          break
          ;;
      esac
      case "$watch_status/$watch_stage" in
        SUCCESSFUL/* | */PRODUCTION_TRAFFIC_SHIFT | */POST_PRODUCTION_TRAFFIC_SHIFT | */BAKE_TIME | */CLEAN_UP)
          if [[ -z $left ]]; then
            left=$watch_checks
            log "the new release takes traffic ($watch_status, $watch_stage): judging it for $left more looks"
          fi
          ;;
      esac
      watch_judge
      if [[ -n $watch_breach ]]; then
        warn "the new release breaches deployment alarm $watch_breach"
        break
      fi
      if [[ -n $left ]]; then
        left=$((left - 1))
        if ((left == 0)); then
          log "the bakes are over: no deployment alarm breached on the new release's data"
          break
        fi
      fi
    fi
    if ((done_)) && [[ -z $watch_arn ]]; then
      log "$watch_what started no deployment of the service: nothing to watch"
      break
    fi
    if ((done_)) && [[ -z $left ]]; then
      # The deploy ended and its deployment still has no traffic: ECS ends such a deployment itself (circuit
      # breaker); waited for as long as a judged one lasts, then no verdict.
      idle=$((idle + 1))
      ((idle <= watch_checks)) || watch_failed "a verdict ($watch_arn stays $watch_status/$watch_stage after the deploy ended)"
    fi
    sleep "$hotfix_poll"
  done
  if [[ -n $watch_breach ]]; then
    case $watch_status in
      PENDING | IN_PROGRESS)
        if run aws ecs stop-service-deployment --region "$REGION" --service-deployment-arn "$watch_arn" --stop-type ROLLBACK \
          --query serviceDeploymentArn --output text >/dev/null; then
          watch_stopped=1
          log "stopped $watch_arn with a rollback: ECS moves the traffic back to the old tasks; CloudFormation then fails and rolls back the update"
        else
          warn "could not stop $watch_arn (above): CloudFormation finishes the update first"
        fi
        ;;
    esac
  fi
  wait "$watch_pid" || rc=$?
  watch_pid=""
  trap - EXIT
  [[ -z $watch_breach ]] || return 1
  return "$rc"
}
