#!/usr/bin/env bash
# migrate.sh: run the database migrations (`alembic upgrade head`) as a one-off ECS task of one stage and exit
# with its exit code. deploy.sh runs it between the infrastructure deploy and the service deploy.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/migrate.sh [--help] <stage>

Runs the database migrations of <stage> (dev or prod): a one-off Fargate task of the migration task definition
(output MigrationTaskDefinitionArn of stack h2o-<stage>-compute: family h2o-backend-migrate-<stage>, container
backend, command `alembic upgrade head`, on the image of the last deploy's MigrationImageTag), in the service's
subnets and security group, so it reaches the database like the service does. Waits for the task to stop and
exits with the container's exit code (1 when the container never ran; the task's stopped reason is printed).

Environment:
  MIGRATE_WAIT_ROUNDS  rounds of `aws ecs wait tasks-stopped` (10 min each) before giving up (default 3)
  DRY_RUN=1            print every aws command instead of running it (needs no credentials)

Exit status: the container's exit code; 1 when the task could not run; 2 bad usage or unknown stage.
EOF
}

# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

parse_stage_argument "$@"
rounds=${MIGRATE_WAIT_ROUNDS:-3}
positive_number MIGRATE_WAIT_ROUNDS "$rounds"

outputs=$(stack_outputs "h2o-$stage-compute") || die "cannot read the outputs of stack h2o-$stage-compute"
cluster=$(output_value "$outputs" ClusterName)
taskdef=$(output_value "$outputs" MigrationTaskDefinitionArn)
container=$(output_value "$outputs" ContainerName)
subnets=$(output_value "$outputs" TaskSubnetIds)
security_group=$(output_value "$outputs" TaskSecurityGroupId)
public_ip=$(output_value "$outputs" AssignPublicIp)
log_group=$(output_value "$outputs" LogGroupName)

network=$(network_configuration "$subnets" "$security_group" "$public_ip")

# The task definition's own command is `alembic upgrade head`: no override.
log "starting the migrations in $cluster (${taskdef##*/})"
task=$(capture "arn:aws:ecs:$REGION:<account>:task/$cluster/<task-id>" \
  aws ecs run-task --region "$REGION" --cluster "$cluster" --launch-type FARGATE --task-definition "$taskdef" \
  --network-configuration "$network" --started-by h2o-migrate \
  --query 'tasks[0].taskArn' --output text) || die "run-task failed"
[[ -n $task && $task != None ]] || die "run-task started no task (capacity or permissions?): see the failures above"

# The task's log stream is <awslogs-stream-prefix>/<container>/<task id> in the task definition's awslogs group.
# The hints work with AWS CLI v1 and v2 (`aws logs tail` exists only in v2).
logs=$(capture "$(printf '%s\t<stream-prefix>' "$log_group")" \
  aws ecs describe-task-definition --region "$REGION" --task-definition "$taskdef" \
  --query "taskDefinition.containerDefinitions[?name=='$container'] | [0].logConfiguration.options.[\"awslogs-group\", \"awslogs-stream-prefix\"]" \
  --output text 2>/dev/null) || logs=""
group=${logs%%$'\t'*}
prefix=${logs#*$'\t'}
[[ -n $group && $group != None && $logs == *$'\t'* ]] || group=$log_group
log "task $task started; its logs:"
if [[ -n $prefix && $prefix != None && $logs == *$'\t'* ]]; then
  stream="$prefix/$container/${task##*/}"
  log "  $(words aws logs get-log-events --region "$REGION" --log-group-name "$group" --log-stream-name "$stream" \
    --query 'events[].message' --output text)"
  log "  CLI v2: $(words aws logs tail "$group" --region "$REGION" --log-stream-names "$stream" --follow)"
else
  log "  $(words aws logs filter-log-events --region "$REGION" --log-group-name "$group" \
    --start-time "$((($(date +%s) - 60) * 1000))" --query 'events[].message' --output text)"
  log "  CLI v2: $(words aws logs tail "$group" --region "$REGION" --since 15m --follow)"
fi

# The waiter polls every 6 s and gives up after 100 checks (10 minutes: "aws ecs wait tasks-stopped",
# https://docs.aws.amazon.com/cli/latest/reference/ecs/wait/tasks-stopped.html): up to $rounds of them.
wait_rounds "$rounds" aws ecs wait tasks-stopped --region "$REGION" --cluster "$cluster" --tasks "$task" ||
  die "task $task still running after $rounds wait rounds; to stop it: $(words aws ecs stop-task --region "$REGION" --cluster "$cluster" --task "$task")"

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
  log "alembic exited with $code (stopped reason: $reason): read its logs (commands above)"
fi
exit "$code"
