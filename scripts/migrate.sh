#!/usr/bin/env bash
# migrate.sh: run `alembic upgrade head` as a one-off ECS task of one stage and exit with its exit code.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/migrate.sh [--help] <stage>

Runs the database migrations of <stage> (dev or prod): a one-off Fargate task of the backend's task
definition family (latest ACTIVE revision, i.e. the image the last deploy rolled out), in the service's
subnets and security group (all read from the outputs of stack h2o-<stage>-compute), with the container
command overridden to `alembic upgrade head`. Waits for the task to stop and exits with the container's
exit code (1 when the container never ran; the task's stopped reason is printed).

Environment:
  MIGRATE_WAIT_ROUNDS  rounds of `aws ecs wait tasks-stopped` (10 min each) before giving up (default 3)
  DRY_RUN=1          print every aws command instead of running it (needs no credentials)

Exit status: the container's exit code; 1 when the task could not run; 2 bad usage or unknown stage.
EOF
}

# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

parse_stage_argument "$@"
rounds=${MIGRATE_WAIT_ROUNDS:-3}
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die_usage "MIGRATE_WAIT_ROUNDS must be a positive number"

outputs=$(stack_outputs "h2o-$stage-compute") || die "cannot read the outputs of stack h2o-$stage-compute"
cluster=$(output_value "$outputs" ClusterName)
family=$(output_value "$outputs" TaskDefinitionFamily)
container=$(output_value "$outputs" ContainerName)
subnets=$(output_value "$outputs" TaskSubnetIds)
security_group=$(output_value "$outputs" TaskSecurityGroupId)
public_ip=$(output_value "$outputs" AssignPublicIp)
log_group=$(output_value "$outputs" LogGroupName)

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
network=$(printf '{"awsvpcConfiguration":{"subnets":%s,"securityGroups":%s,"assignPublicIp":"%s"}}' \
  "$(json_list "$subnets")" "$(json_list "$security_group")" "$public_ip")
overrides=$(printf '{"containerOverrides":[{"name":"%s","command":["alembic","upgrade","head"]}]}' "$container")

log "starting 'alembic upgrade head' in $cluster ($family)"
task=$(capture "arn:aws:ecs:$REGION:<account>:task/$cluster/<task-id>" \
  aws ecs run-task --region "$REGION" --cluster "$cluster" --launch-type FARGATE --task-definition "$family" \
  --network-configuration "$network" --overrides "$overrides" --started-by h2o-migrate \
  --query 'tasks[0].taskArn' --output text) || die "run-task failed"
[[ -n $task && $task != None ]] || die "run-task started no task (capacity or permissions?): see the failures above"
log "task $task started; logs: aws logs tail $log_group --follow"

round=1
until run aws ecs wait tasks-stopped --region "$REGION" --cluster "$cluster" --tasks "$task"; do
  ((round < rounds)) || die "task $task still running after $rounds wait rounds: aws ecs stop-task --cluster $cluster --task $task"
  round=$((round + 1))
done

result=$(capture "$(printf '<stopped-reason>\t0')" \
  aws ecs describe-tasks --region "$REGION" --cluster "$cluster" --tasks "$task" \
  --query "tasks[0].[stoppedReason, containers[?name=='$container'] | [0].exitCode]" --output text) ||
  die "cannot describe task $task"
reason=${result%%$'\t'*}
code=${result##*$'\t'}
if [[ ! $code =~ ^[0-9]+$ ]]; then
  die "the migration container did not run to completion (exit code: ${code:-none}); stopped reason: $reason"
fi
if ((code == 0)); then
  log "migrations applied"
else
  log "alembic exited with $code (stopped reason: $reason); logs: aws logs tail $log_group --since 1h"
fi
exit "$code"
