#!/usr/bin/env bash
# versions.sh: whether AWS still supports the PostgreSQL and Valkey versions a stage is configured with and runs.
# Run by the nightly workflow and by hand; verify.sh sources it for check_versions (its "versions" lines).
#
# What AWS publishes, and so what this can see (AWS API references):
#   - a PostgreSQL major's end of RDS standard support: DescribeDBMajorEngineVersions, SupportedEngineLifecycles
#     (LifecycleSupportName open-source-rds-standard-support, LifecycleSupportEndDate; "You can use the
#     information that this data type returns to plan for upgrades");
#   - whether a minor can still be created: DescribeDBEngineVersions with IncludeAll ("also list the engine
#     versions that aren't available"), Status available or deprecated. RDS gives no end date for a minor: its
#     calendar and e-mail do (new instances refused about a month before the end, then a forced upgrade in the
#     maintenance window: the notice quoted in aws/aws-cdk#33663);
#   - the forced upgrade of the running instance: DescribePendingMaintenanceActions, Action db-upgrade with
#     AutoAppliedAfterDate / ForcedApplyDate;
#   - Valkey: DescribeCacheEngineVersions lists the versions ElastiCache offers, with no end-of-life date (the only
#     schedule is Redis OSS's); DescribeUpdateActions the service updates of the group, each with a severity and a
#     ServiceUpdateRecommendedApplyByDate.

# check_versions: one line per finding through report STATUS versions DETAIL (verify.sh's, or this script's):
# WARN for what leaves support within VERSIONS_WARN_DAYS or has passed it and for a running version that differs
# from the template's, FAIL when the configured version cannot be created any more (a new stage or a restore would
# fail). Reads the data stack's outputs (load_outputs data first); an AWS error stops with the CLI's message.
check_versions() {
  local db version group cache
  db=$(output_optional data DatabaseInstanceId)
  version=$(output_optional data DatabaseEngineVersion)
  group=$(output_optional data CacheReplicationGroupId)
  cache=$(output_optional data CacheEngineVersion)
  if [[ -z $db || -z $version ]]; then
    report FAIL versions "stack h2o-$stage-data has no output DatabaseEngineVersion (not ready, or deployed by an older version of the app)"
  else
    postgres_versions "$db" "$version"
  fi
  if [[ -z $group || -z $cache ]]; then
    report FAIL versions "stack h2o-$stage-data has no output CacheEngineVersion (not ready, or deployed by an older version of the app)"
  else
    valkey_versions "$group" "$cache"
  fi
}

# versions_read PLACEHOLDER ABSENT CMD ARGS...: aws_read without the trailing newline; 3 when the error is ABSENT,
# 1 (with a message) on any other error: the caller stops, an error is no answer about a version.
versions_read() {
  local rc=0 text
  text=$(aws_read "$@") || rc=$?
  case $rc in
    0) printf '%s' "${text%$'\n'}" ;;
    3) return 3 ;;
    *)
      log "error: versions: cannot read AWS (the CLI's error is above): stopped"
      return 1
      ;;
  esac
}

# epoch_of TIMESTAMP: seconds since 1970 of an ISO 8601 time as the AWS CLI prints it (2027-11-30T00:00:00+00:00),
# with GNU date or BSD date (macOS); fails for anything else.
epoch_of() {
  date -u -d "$1" +%s 2>/dev/null && return 0
  local t=${1%%[+Z]*}
  [[ $t == *T* ]] || t="${t}T00:00:00"
  date -j -u -f %Y-%m-%dT%H:%M:%S "${t%%.*}" +%s 2>/dev/null
}

# days_until TIMESTAMP: whole days from now (VERSIONS_NOW, else the clock) until TIMESTAMP, negative when past.
days_until() {
  local end now
  end=$(epoch_of "$1") || return 1
  if [[ -n ${VERSIONS_NOW:-} ]]; then now=$(epoch_of "$VERSIONS_NOW"); else now=$(date -u +%s); fi
  printf '%s' $(((end - now) / 86400 - ((end - now) % 86400 < 0 ? 1 : 0)))
}

# postgres_versions INSTANCE VERSION: the major's standard support, the configured minor, what runs, what RDS
# will apply.
postgres_versions() {
  local db=$1 version=$2 major=${2%%.*} end days info status target running arn pending warn=${VERSIONS_WARN_DAYS:-90}
  end=$(versions_read '<LifecycleSupportEndDate>' '' aws rds describe-db-major-engine-versions --region "$REGION" \
    --engine postgres --major-engine-version "$major" \
    --query "DBMajorEngineVersions[0].SupportedEngineLifecycles[?LifecycleSupportName=='open-source-rds-standard-support'] | [0].LifecycleSupportEndDate" \
    --output text) || exit 1
  # shellcheck disable=SC2016 # a JMESPath literal, not a shell expansion
  info=$(versions_read "$(printf '<Status>\t<EngineVersion>')" '' aws rds describe-db-engine-versions --region "$REGION" \
    --engine postgres --engine-version "$version" --include-all \
    --query 'DBEngineVersions[0].[Status, ValidUpgradeTarget[?IsMajorVersionUpgrade==`false`] | [-1].EngineVersion]' --output text) ||
    exit 1
  local rc=0
  running=$(versions_read "$(printf '<EngineVersion>\t<DBInstanceArn>')" 'DBInstanceNotFound' aws rds describe-db-instances \
    --region "$REGION" --db-instance-identifier "$db" --query 'DBInstances[0].[EngineVersion,DBInstanceArn]' --output text) ||
    rc=$?
  case $rc in 0) ;; 3) running="" ;; *) exit 1 ;; esac
  IFS=$'\t' read -r running arn <<<"$running"
  pending=""
  if [[ -n $arn ]]; then
    pending=$(versions_read "$(printf '<AutoAppliedAfterDate>\t<ForcedApplyDate>\t<Description>')" '' \
      aws rds describe-pending-maintenance-actions --region "$REGION" --resource-identifier "$arn" \
      --query "PendingMaintenanceActions[0].PendingMaintenanceActionDetails[?Action=='db-upgrade'].[AutoAppliedAfterDate,ForcedApplyDate,Description]" \
      --output text) || exit 1
  fi
  [[ $DRY_RUN == 0 ]] || return 0

  if [[ -z $end || $end == None ]]; then
    report WARN versions "RDS publishes no end of standard support for PostgreSQL $major (describe-db-major-engine-versions): see the RDS for PostgreSQL release calendar"
  elif ! days=$(days_until "$end"); then
    report WARN versions "PostgreSQL $major: cannot read the end of standard support '$end'"
  elif ((days < 0)); then
    report WARN versions "PostgreSQL $major left RDS standard support on ${end%%T*}: RDS Extended Support charges apply until the major upgrade (docs/runbook.md, \"Engine versions\")"
  elif ((days <= warn)); then
    report WARN versions "PostgreSQL $major leaves RDS standard support on ${end%%T*} (in $days days): plan the major upgrade (docs/runbook.md, \"Engine versions\")"
  else
    report PASS versions "PostgreSQL $major: RDS standard support until ${end%%T*} ($days days)"
  fi

  IFS=$'\t' read -r status target <<<"$info"
  [[ $target != None ]] || target=""
  case $status in
    available) report PASS versions "PostgreSQL $version (the template's) is offered for new instances${target:+; newest minor upgrade target $target}" ;;
    deprecated) report FAIL versions "PostgreSQL $version (the template's) is deprecated: RDS refuses new instances on it (a new stage, a restore); set dbEngineVersion to ${target:-a current minor} and deploy" ;;
    *) report FAIL versions "RDS does not know PostgreSQL $version (the template's): set dbEngineVersion to a version describe-db-engine-versions lists" ;;
  esac

  if [[ -z $running || $running == None ]]; then
    report FAIL versions "RDS has no instance $db"
  elif [[ $running != "$version" ]]; then
    report WARN versions "$db runs PostgreSQL $running, its template says $version (RDS upgraded it: a forced minor upgrade?): set dbEngineVersion to $running, or the next deploy asks RDS for a downgrade it refuses"
  fi

  local after forced description date line left upgrades=0
  while IFS=$'\t' read -r after forced description; do
    # No pending action: the query's null prints as None.
    [[ -n $after && $after != None || -n $forced ]] || continue
    upgrades=$((upgrades + 1))
    date=$forced
    [[ -n $date && $date != None ]] || date=$after
    if [[ $date == None ]] || ! left=$(days_until "$date"); then
      report WARN versions "$db: RDS has an engine upgrade pending with no date: ${description:-db-upgrade}"
    elif ((left <= warn)); then
      report WARN versions "$db: RDS upgrades the engine on ${date%%T*} (in $left days, in the maintenance window): ${description:-db-upgrade}; apply it earlier in a quiet hour (docs/runbook.md, \"Engine versions\")"
    else
      report PASS versions "$db: an engine upgrade is pending for ${date%%T*} ($left days): ${description:-db-upgrade}"
    fi
  done <<<"$pending"
  if [[ -n $running && $running == "$version" ]] && ((upgrades == 0)); then
    report PASS versions "$db runs PostgreSQL $running, as its template says; no engine upgrade pending"
  fi
}

# valkey_versions GROUP VERSION: whether ElastiCache offers the configured version, what the group runs, and the
# service updates it has not applied.
valkey_versions() {
  local group=$1 version=$2 offered member running updates newest warn=${VERSIONS_WARN_DAYS:-90} rc=0
  offered=$(versions_read '<EngineVersion>' '' aws elasticache describe-cache-engine-versions --region "$REGION" \
    --engine valkey --query 'CacheEngineVersions[].EngineVersion' --output text) || exit 1
  member=$(versions_read '<CacheClusterId>' 'ReplicationGroupNotFoundFault' aws elasticache describe-replication-groups \
    --region "$REGION" --replication-group-id "$group" --query 'ReplicationGroups[0].MemberClusters[0]' --output text) || rc=$?
  ((rc == 0 || rc == 3)) || exit 1
  running=""
  if ((rc == 0)) && [[ $member != None ]]; then
    running=$(versions_read '<EngineVersion>' '' aws elasticache describe-cache-clusters --region "$REGION" \
      --cache-cluster-id "$member" --query 'CacheClusters[0].EngineVersion' --output text) || exit 1
    updates=$(versions_read "$(printf '<ServiceUpdateName>\t<ServiceUpdateSeverity>\t<ServiceUpdateRecommendedApplyByDate>\t<ServiceUpdateType>')" '' \
      aws elasticache describe-update-actions --region "$REGION" --replication-group-ids "$group" \
      --update-action-status not-applied waiting-to-start scheduling scheduled \
      --query 'UpdateActions[].[ServiceUpdateName,ServiceUpdateSeverity,ServiceUpdateRecommendedApplyByDate,ServiceUpdateType]' \
      --output text) || exit 1
  fi
  [[ $DRY_RUN == 0 ]] || return 0

  local v found=0
  for v in $offered; do
    [[ $v != "$version" ]] || found=1
    newest=$v
  done
  if ((found)); then
    report PASS versions "Valkey $version (the template's) is offered for new clusters (newest ${newest:-?}); ElastiCache publishes no end-of-life date for Valkey"
  else
    report FAIL versions "Valkey $version (the template's) is not offered for new clusters any more (offered: ${offered//$'\t'/ }): a new stage or a restore would fail; move the cache to an offered version"
  fi

  if [[ -z $running || $running == None ]]; then
    report FAIL versions "ElastiCache has no replication group $group (or it has no member)"
    return 0
  fi
  local name severity by type left pending=0
  while IFS=$'\t' read -r name severity by type; do
    [[ -n $name && $name != None ]] || continue
    pending=$((pending + 1))
    if [[ $by == None || -z $by ]] || ! left=$(days_until "$by"); then
      report WARN versions "$group: service update $name ($severity, $type) not applied"
    elif ((left <= warn)); then
      report WARN versions "$group: service update $name ($severity, $type) should be applied by ${by%%T*} (in $left days) (docs/runbook.md, \"Engine versions\")"
    else
      report PASS versions "$group: service update $name ($severity, $type) to apply by ${by%%T*} ($left days)"
    fi
  done <<<"$updates"
  if [[ ${running%.*} != "$version" && $running != "$version" ]]; then
    report WARN versions "$group runs Valkey $running, its template says $version: set the cache's engine version to what runs before the next deploy"
  elif ((pending == 0)); then
    report PASS versions "$group runs Valkey $running; no service update pending"
  fi
}

# Sourced by verify.sh: only the functions above.
[[ ${BASH_SOURCE[0]} == "$0" ]] || return 0

set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/versions.sh [--help] [--notify] <stage>

Asks AWS whether the PostgreSQL and Valkey versions of <stage> (dev or prod) are still supported: the versions
its data stack's template sets (outputs DatabaseEngineVersion, CacheEngineVersion) and the versions that run.
One line per finding:
  PASS  supported, and more than VERSIONS_WARN_DAYS away from any end AWS publishes;
  WARN  the PostgreSQL major leaves RDS standard support within VERSIONS_WARN_DAYS days (or left it: Extended
        Support charges), RDS has an engine upgrade pending (a forced minor upgrade) within the window, a
        service update of the cache is due, or what runs differs from the template;
  FAIL  the configured version cannot be created any more (a new stage, a restore would fail), or the database
        or cache is missing.
RDS publishes an end date only for a major; a minor's retirement shows as "deprecated" (about a month before its
end, when new instances are refused) and as a pending db-upgrade on the running instance. ElastiCache publishes no
end-of-life date for Valkey: a retired version drops out of the offered list.
verify.sh runs the same check (its "versions" lines); the nightly workflow runs this with --notify.

Options:
  --notify   publish the WARN and FAIL lines to the stage's alarm topic (output AlarmTopicArn of
             h2o-<stage>-observability): e-mail and, when configured, Slack

Environment:
  VERSIONS_WARN_DAYS  days ahead to warn (default 90)
  VERSIONS_NOW        pretend today is this date (2026-12-06 or 2026-12-06T00:00:00Z): tests, what-ifs
  AWS_READ_ATTEMPTS, AWS_RETRY_DELAY  as for deploy.sh

Exit status: 0 no FAIL (WARN lines may be there); 3 a FAIL line; 1 AWS could not be read, or --notify could not
publish; 2 bad usage.
EOF
}

# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck source=scripts/notify.sh
source "$SCRIPTS_DIR/notify.sh"

parse_check_args "$@"
stage=$target
validate_stage "$stage"
[[ $DRY_RUN == 0 ]] || die_usage "versions.sh only reads: DRY_RUN does not apply (verify.sh's dry run lists its calls)"
[[ ${VERSIONS_WARN_DAYS:-90} =~ ^[0-9]+$ ]] || die_usage "VERSIONS_WARN_DAYS must be a number of days, not '$VERSIONS_WARN_DAYS'"
if [[ -n ${VERSIONS_NOW:-} ]] && { [[ ! $VERSIONS_NOW =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9:]{8}(Z|[+-][0-9:]{5})?)?$ ]] || ! epoch_of "$VERSIONS_NOW" >/dev/null; }; then
  die_usage "VERSIONS_NOW must be a date such as 2026-12-06, not '$VERSIONS_NOW'"
fi

findings="" fails=0
# report STATUS CHECK DETAIL: one line on stdout; WARN and FAIL lines are the findings to notify.
report() {
  printf '%-4s  %-9s %s\n' "$1" "$2" "$3"
  case $1 in
    FAIL) fails=$((fails + 1)) ;;
  esac
  [[ $1 == PASS ]] || findings+="$1  $3"$'\n'
}

open_stack data || die "stack h2o-$stage-data $(no_stack_reason): nothing to check"
topic=""
if ((notify_topic)); then
  open_stack observability || die "stack h2o-$stage-observability $(no_stack_reason): no alarm topic to notify"
  topic=$(output_value observability AlarmTopicArn)
fi
check_versions
if ((notify_topic)) && [[ -n $findings ]]; then
  notify "$topic" "h2o $stage engine versions: $fails FAIL, $(grep -c '^WARN' <<<"$findings") WARN" \
    "scripts/versions.sh $stage found:"$'\n\n'"$findings"$'\n'"What to do: docs/runbook.md, \"Engine versions\"." || exit 1
fi
((fails == 0)) || exit 3
