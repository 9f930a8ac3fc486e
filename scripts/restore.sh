#!/usr/bin/env bash
# restore.sh: restore a stage's database to a point in time (or from a snapshot) into a NEW instance next to the
# live one, which it never modifies; then print the two ways on. Run by a human operator, not by the deploy role.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/restore.sh [--help] <stage> --to <time | latest | snapshot-arn>

Restores the PostgreSQL database of <stage> (dev or prod; output DatabaseInstanceId of h2o-<stage>-data) into a
new instance h2o-<stage>-postgres-restore-<UTC yyyymmddHHMM> next to the live one, in the same subnet group,
security groups and parameter group, with the same instance class; single-AZ, private, no deletion protection,
tagged Purpose=restore. The live instance is only read: it appears in no call but describe calls and as the
source of a point-in-time restore.

--to takes one of:
  an RFC 3339 time    2026-11-30T14:05:00Z or 2026-11-30T15:05:00+01:00: point-in-time restore to that moment,
                      which must lie in the live instance's restorable window (checked when it can be read);
  latest              point-in-time restore to the latest restorable time (a few minutes ago);
  a snapshot ARN      arn:aws:rds:us-east-1:<account>:snapshot:<name>, e.g. an AWS Backup recovery point
                      (arn:aws:rds:...:snapshot:awsbackup:job-...) or a manual or final snapshot.
                      A cluster snapshot (arn:...:cluster-snapshot:...) cannot restore an instance.

Then it waits until the new instance is available, turns on the RDS-managed master password for it (a
PostgreSQL restore keeps the password of the backup time and gets no managed secret: RestoreDBInstance*'s
ManageMasterUserPassword applies to RDS for Oracle only), waits again and prints its endpoint and secret, and
the two ways on: (a) copy the lost rows back into the live database with psql in a one-off task, or (b) cut
over to the restored data with CloudFormation staying in control; and how to delete the restored instance.
See docs/runbook.md, "Restore" and "Restore drill".

The stack h2o-<stage>-data must exist with outputs; during an update of it, or after a failed rollback of one
(UPDATE_ROLLBACK_FAILED: the repair command is printed), the restore goes ahead with its last good outputs. A
failed AWS read stops the script (what the guidance needs is read before the restore starts).

Environment:
  RESTORE_TARGET       identifier of the new instance (default h2o-<stage>-postgres-restore-<UTC yyyymmddHHMM>)
  RESTORE_WAIT_ROUNDS  rounds of `aws rds wait db-instance-available` (30 min each) (default 6)
  RESTORE_POLL_DELAY   seconds between checks for the new instance's managed secret (default 30)
  DRY_RUN=1            print every aws command instead of running it (needs no credentials)

Exit status: 0 restored; 1 failed; 2 bad usage, unknown stage, or a --to outside the restorable window.
EOF
}

# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

stage="" to="" expect_to=0
for arg in "$@"; do
  if ((expect_to)); then
    to=$arg expect_to=0
    continue
  fi
  case $arg in
    -h | --help) usage; exit 0 ;;
    --to) expect_to=1 ;;
    --to=*) to=${arg#--to=} ;;
    -*) die_usage "unknown option '$arg'" ;;
    *) [[ -z $stage ]] || die_usage "unexpected argument '$arg'"; stage=$arg ;;
  esac
done
[[ -n $stage ]] || die_usage "missing <stage>"
validate_stage "$stage"
if ((expect_to)) || [[ -z $to ]]; then die_usage "missing --to <time | latest | snapshot-arn>"; fi
rounds=${RESTORE_WAIT_ROUNDS:-6}
positive_number RESTORE_WAIT_ROUNDS "$rounds"
poll_delay=${RESTORE_POLL_DELAY:-30}
[[ $poll_delay =~ ^[0-9]+$ ]] || die_usage "RESTORE_POLL_DELAY must be a number of seconds"

# rfc3339_epoch TIME: the seconds since 1970 of an RFC 3339 time (Z or a ±hh:mm offset; a fraction of a second
# is dropped), in plain bash: BSD date (macOS) cannot parse offsets. Fails on anything else.
rfc3339_epoch() {
  local re='^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$'
  [[ $1 =~ $re ]] || return 1
  local y=$((10#${BASH_REMATCH[1]})) m=$((10#${BASH_REMATCH[2]})) d=$((10#${BASH_REMATCH[3]}))
  local hh=$((10#${BASH_REMATCH[4]})) mi=$((10#${BASH_REMATCH[5]})) ss=$((10#${BASH_REMATCH[6]}))
  local offset=${BASH_REMATCH[8]} dim=31
  case $m in
    4 | 6 | 9 | 11) dim=30 ;;
    2) if ((y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))); then dim=29; else dim=28; fi ;;
  esac
  ((m >= 1 && m <= 12 && d >= 1 && d <= dim && hh < 24 && mi < 60 && ss < 60)) || return 1
  # Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil), for years >= 1.
  local yy=$y
  ((m > 2)) || yy=$((y - 1))
  local era=$((yy / 400)) yoe doy doe days
  yoe=$((yy - era * 400))
  doy=$(((153 * ((m + 9) % 12) + 2) / 5 + d - 1))
  doe=$((yoe * 365 + yoe / 4 - yoe / 100 + doy))
  days=$((era * 146097 + doe - 719468))
  local seconds=$((days * 86400 + hh * 3600 + mi * 60 + ss))
  if [[ $offset != [Zz] ]]; then
    local sign=${offset:0:1} oh=$((10#${offset:1:2})) om=$((10#${offset:4:2}))
    ((oh < 24 && om < 60)) || return 1
    if [[ $sign == + ]]; then seconds=$((seconds - oh * 3600 - om * 60)); else seconds=$((seconds + oh * 3600 + om * 60)); fi
  fi
  printf '%s\n' "$seconds"
}

# What to restore from.
mode="" restore_time="" snapshot=""
case $to in
  latest) mode=latest ;;
  arn:*:rds:*:cluster-snapshot:*)
    die_usage "'$to' is a cluster snapshot (Aurora or Multi-AZ DB cluster): it cannot restore a DB instance; pass an instance snapshot (arn:aws:rds:$REGION:<account>:snapshot:...)"
    ;;
  arn:*)
    re="^arn:aws(-[a-z]+)*:rds:([a-z0-9-]+):[0-9]{12}:snapshot:[A-Za-z0-9:-]+$"
    [[ $to =~ $re ]] || die_usage "'$to' is not an RDS DB snapshot ARN (arn:aws:rds:$REGION:<account>:snapshot:<name>)"
    [[ ${BASH_REMATCH[2]} == "$REGION" ]] || die_usage "snapshot '$to' is in ${BASH_REMATCH[2]}, not $REGION: copy it first (aws rds copy-db-snapshot)"
    mode=snapshot snapshot=$to
    ;;
  *)
    to_epoch=$(rfc3339_epoch "$to") ||
      die_usage "--to '$to' is not an RFC 3339 time (2026-11-30T14:05:00Z or 2026-11-30T15:05:00+01:00), 'latest' or a snapshot ARN"
    mode=time restore_time=$(iso_utc "$to_epoch")
    ;;
esac

# The restore only reads names from the stacks and never changes them: a stack being updated, or whose update
# rollback failed, still names the live instance (tolerant).
open_stack data tolerant || die "stack h2o-$stage-data $(no_stack_reason): no database to restore from"
live=$(output_value data DatabaseInstanceId)
target=${RESTORE_TARGET:-h2o-$stage-postgres-restore-$(date -u +%Y%m%d%H%M)}
[[ $target =~ ^[A-Za-z][A-Za-z0-9-]{0,62}$ && $target != *--* && $target != *- ]] ||
  die_usage "RESTORE_TARGET '$target' is not an RDS instance identifier (letter first, letters, digits, single hyphens, at most 63)"
[[ $target != "$live" ]] || die_usage "RESTORE_TARGET is the live instance $live: the restore goes into a NEW instance"

# The live instance's placement and settings, read only.
settings=$(aws_read "$(printf '<DBSubnetGroupName>\t<VpcSecurityGroupIds>\t<DBParameterGroupName>\t<DBInstanceClass>\t<LatestRestorableTime>')" '' \
  aws rds describe-db-instances --region "$REGION" --db-instance-identifier "$live" \
  --query "DBInstances[0].[DBSubnetGroup.DBSubnetGroupName, join(',', VpcSecurityGroups[].VpcSecurityGroupId), DBParameterGroups[0].DBParameterGroupName, DBInstanceClass, LatestRestorableTime]" \
  --output text) || die "cannot describe the live database $live (the AWS CLI's error is above)"
settings=${settings%$'\n'}
IFS=$'\t' read -r subnet_group security_groups parameter_group instance_class latest_time <<<"$settings"
[[ -n $subnet_group && $subnet_group != None && -n $security_groups && $security_groups != None ]] ||
  die "cannot read the subnet group and security groups of $live"

# The restorable window (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PIT.html): up to
# LatestRestorableTime, from the earliest time of the instance's active automated backups.
if [[ $mode == time ]]; then
  earliest_time=$(aws_read '<EarliestTime>' '' aws rds describe-db-instance-automated-backups --region "$REGION" \
    --db-instance-identifier "$live" \
    --query "DBInstanceAutomatedBackups[?Status=='active'] | [0].RestoreWindow.EarliestTime" --output text) ||
    die "cannot read the restorable window of $live (the AWS CLI's error is above)"
  earliest_time=${earliest_time%$'\n'}
fi
if [[ $mode == time && $DRY_RUN == 0 ]]; then
  if latest=$(rfc3339_epoch "$latest_time"); then
    ((to_epoch <= latest)) ||
      die_usage "--to $restore_time is after the latest restorable time of $live ($latest_time): use an earlier time, or --to latest"
  else
    warn "cannot read the latest restorable time of $live: the restore time is not checked against it"
  fi
  if earliest=$(rfc3339_epoch "$earliest_time"); then
    ((to_epoch >= earliest)) ||
      die_usage "--to $restore_time is before the earliest restorable time of $live ($earliest_time): restore from a snapshot instead"
  else
    warn "cannot read the earliest restorable time of $live: the restore time is not checked against it"
  fi
fi

# For the printed commands, read now (a failed read stops before anything starts): the service's network and the
# migration task definition (a one-off task with the backend's image and the live database's credentials), and
# the Database's logical ID for the review guard. Without a ready compute stack the commands keep <placeholders>.
read_stack_status "h2o-$stage-compute"
classify_stack_status
if [[ $stack_class == ready ]] || has_outputs "$stack_status"; then
  load_outputs compute
else
  warn "stack h2o-$stage-compute is $stack_status: the copy commands printed at the end have <placeholders>"
fi
cluster=$(output_or compute ClusterName)
migration=$(output_or compute MigrationTaskDefinitionArn)
container=$(output_or compute ContainerName)
network=$(network_configuration "$(output_or compute TaskSubnetIds)" "$(output_or compute TaskSecurityGroupId)" "$(output_or compute AssignPublicIp)")
logical_id=$(aws_read '<DatabaseLogicalId>' '' aws cloudformation describe-stack-resources --region "$REGION" \
  --stack-name "h2o-$stage-data" --query "StackResources[?ResourceType=='AWS::RDS::DBInstance'].LogicalResourceId | [0]" \
  --output text) || die "cannot read the resources of h2o-$stage-data (the AWS CLI's error is above)"
logical_id=${logical_id%$'\n'}
[[ -n $logical_id && $logical_id != None ]] || logical_id='<logical ID of the AWS::RDS::DBInstance in h2o-'$stage'-data>'

# Same placement and settings as the live one; never public, Multi-AZ or deletion-protected: a temporary copy.
common=(--db-subnet-group-name "$subnet_group")
IFS=, read -r -a sg_list <<<"$security_groups"
common+=(--vpc-security-group-ids "${sg_list[@]}")
[[ -z $parameter_group || $parameter_group == None ]] || common+=(--db-parameter-group-name "$parameter_group")
[[ -z $instance_class || $instance_class == None ]] || common+=(--db-instance-class "$instance_class")
common+=(--no-publicly-accessible --no-multi-az --no-deletion-protection --copy-tags-to-snapshot
  --tags "Key=Purpose,Value=restore" "Key=Project,Value=h2o" "Key=Stage,Value=$stage" "Key=ManagedBy,Value=restore.sh")
case $mode in
  time | latest)
    when=(--restore-time "$restore_time")
    [[ $mode == time ]] || when=(--use-latest-restorable-time)
    log "restoring $live to ${restore_time:-its latest restorable time} into the new instance $target"
    run aws rds restore-db-instance-to-point-in-time --region "$REGION" --source-db-instance-identifier "$live" \
      --target-db-instance-identifier "$target" "${when[@]}" "${common[@]}" \
      --query 'DBInstance.DBInstanceStatus' --output text >/dev/null || die "the restore of $live failed to start"
    ;;
  snapshot)
    log "restoring snapshot $snapshot into the new instance $target"
    run aws rds restore-db-instance-from-db-snapshot --region "$REGION" --db-instance-identifier "$target" \
      --db-snapshot-identifier "$snapshot" "${common[@]}" \
      --query 'DBInstance.DBInstanceStatus' --output text >/dev/null || die "the restore of $snapshot failed to start"
    ;;
esac

log "waiting until $target is available (a restore takes from about ten minutes to hours, with the data size)"
wait_db_available "$target" "$rounds"

# The restored instance keeps the password of the backup time: RDS manages a new one, in a secret of its own.
# (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html)
run aws rds modify-db-instance --region "$REGION" --db-instance-identifier "$target" --manage-master-user-password \
  --apply-immediately --query 'DBInstance.DBInstanceStatus' --output text >/dev/null ||
  die "cannot turn on the managed master password of $target (it is available, with the password of the backup time)"
attempt=1
while :; do
  wait_db_available "$target" "$rounds"
  restored=$(aws_read "$(printf '<Endpoint>\t<Port>\t<MasterUserSecretArn>')" '' \
    aws rds describe-db-instances --region "$REGION" --db-instance-identifier "$target" \
    --query 'DBInstances[0].[Endpoint.Address, Endpoint.Port, MasterUserSecret.SecretArn]' --output text) ||
    die "cannot describe $target (the AWS CLI's error is above); it is restored: $(words aws rds describe-db-instances --region "$REGION" --db-instance-identifier "$target")"
  restored=${restored%$'\n'}
  IFS=$'\t' read -r endpoint port secret <<<"$restored"
  [[ -z $secret || $secret == None ]] || break
  # Right after modify-db-instance the instance may still read "available" for a moment.
  ((attempt < 10)) || die "$target has no managed secret yet: check it with aws rds describe-db-instances"
  attempt=$((attempt + 1))
  sleep "$poll_delay"
done

# say: the guidance on stdout; in a dry run as "# " lines, so the output stays a list of commands.
say() {
  local line
  while IFS= read -r line; do
    if [[ $DRY_RUN != 0 ]]; then printf '# %s\n' "$line"; else printf '%s\n' "$line"; fi
  done
}
snapshot_id="$target-cutover"
say <<EOF

Restored: $target ($([[ $mode == snapshot ]] && printf 'from %s' "$snapshot" || printf 'as of %s' "${restore_time:-the latest restorable time}")), next to the live $live.
  endpoint  $endpoint:$port
  secret    $secret  (username and password; RDS-managed)
It costs like the live instance while it exists. Two ways on:

(a) Copy the lost rows back into the live database (the live instance and CloudFormation stay as they are).
    A one-off task of the migration task definition (the backend image, the live credentials in DB_*) runs psql
    in the service's subnets and security group, which both instances admit; the restored instance's password
    goes in the task's overrides (visible to whoever can describe the task: delete the instance afterwards).
    The image needs the PostgreSQL client (docs/runbook.md, "Restore", runs it from the postgres image otherwise).

    RESTORED_PASSWORD=\$(aws secretsmanager get-secret-value --region $REGION --secret-id '$secret' \\
      --query SecretString --output text | jq -r .password)
    COPY_TABLE='<table>'                                  # where the rows go back
    COPY_SQL='SELECT * FROM <table> WHERE <condition>'    # the rows, as the restored copy has them
    COPY_CMD='set -euo pipefail; PGPASSWORD="\$RESTORED_PASSWORD" psql "host=\$RESTORED_HOST port=$port dbname=\$DB_NAME user=\$DB_USERNAME sslmode=require" -v ON_ERROR_STOP=1 -c "\\copy (\$COPY_SQL) TO STDOUT" | PGPASSWORD="\$DB_PASSWORD" psql "host=\$DB_HOST port=\$DB_PORT dbname=\$DB_NAME user=\$DB_USERNAME sslmode=require" -v ON_ERROR_STOP=1 -c "\\copy \$COPY_TABLE FROM STDIN"'
    OVERRIDES=\$(jq -nc --arg cmd "\$COPY_CMD" --arg host '$endpoint' --arg pw "\$RESTORED_PASSWORD" --arg sql "\$COPY_SQL" --arg table "\$COPY_TABLE" \\
      '{containerOverrides: [{name: "$container", command: ["bash", "-c", \$cmd], environment: [{name: "RESTORED_HOST", value: \$host}, {name: "RESTORED_PASSWORD", value: \$pw}, {name: "COPY_SQL", value: \$sql}, {name: "COPY_TABLE", value: \$table}]}]}')
    TASK=\$(aws ecs run-task --region $REGION --cluster $cluster --launch-type FARGATE --task-definition '$migration' \\
      --network-configuration '$network' \\
      --overrides "\$OVERRIDES" --started-by h2o-restore --query 'tasks[0].taskArn' --output text)
    aws ecs wait tasks-stopped --region $REGION --cluster $cluster --tasks "\$TASK"
    aws ecs describe-tasks --region $REGION --cluster $cluster --tasks "\$TASK" \\
      --query 'tasks[0].[stoppedReason, containers[0].exitCode]' --output text    # 0: copied

(b) Cut over to the restored data with CloudFormation staying in control (what the live database got after the
    restore point is lost, unless copied over as in (a) first):
    1. snapshot the restored instance:
         aws rds create-db-snapshot --region $REGION --db-instance-identifier $target --db-snapshot-identifier $snapshot_id
         aws rds wait db-snapshot-available --region $REGION --db-snapshot-identifier $snapshot_id
    2. in stacks/data.go, create the Database from that snapshot (rds.DatabaseInstanceFromSnapshot, snapshotIdentifier
       = the snapshot's ARN) under a NEW instance identifier such as h2o-$stage-postgres-2 (CloudFormation cannot
       replace a resource that has a fixed name), with the same construct id and settings;
    3. the review guard then fails the pull request: h2o-$stage-data/$logical_id "would be replaced". That is
       the intent: waive it for this change with the repository variable
         GUARD_ALLOW=h2o-$stage-data/$logical_id
       and empty it again after the merge;
    4. deploy (scripts/deploy.sh $stage): CloudFormation creates the new instance, the service and the migration
       task follow its endpoint and secret, and the old instance goes by its removal policy (prod: final snapshot;
       with deletion protection on, CloudFormation cannot delete it: do it by hand once the new one is checked).
    Details and checks: docs/runbook.md, "Restore".

Cleanup when done (not run by this script; deletes the restored copy and its secret):
    aws rds delete-db-instance --region $REGION --db-instance-identifier $target --skip-final-snapshot
EOF
