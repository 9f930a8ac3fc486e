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

The stack h2o-<stage>-compute must be in a stable state (an operation in progress is waited for, a stack that
needs repair stops the script with the command to repair it); a failed AWS read stops it before the task starts.

Environment:
  MIGRATE_WAIT_ROUNDS  rounds of `aws ecs wait tasks-stopped` (10 min each) before giving up (default 3)
  STACK_WAIT_CHECKS, STACK_POLL_DELAY, AWS_READ_ATTEMPTS, AWS_RETRY_DELAY  as for deploy.sh
  DRY_RUN=1            print every aws command instead of running it (needs no credentials)

Exit status: the container's exit code; 1 when the task could not run; 2 bad usage or unknown stage.
EOF
}

# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

parse_stage_argument "$@"
rounds=${MIGRATE_WAIT_ROUNDS:-3}
positive_number MIGRATE_WAIT_ROUNDS "$rounds"

open_stack compute || die "stack h2o-$stage-compute $(no_stack_reason): nothing to migrate (deploy the stage first)"
cluster=$(output_value compute ClusterName)
taskdef=$(output_value compute MigrationTaskDefinitionArn)
container=$(output_value compute ContainerName)
subnets=$(output_value compute TaskSubnetIds)
security_group=$(output_value compute TaskSecurityGroupId)
public_ip=$(output_value compute AssignPublicIp)
log_group=$(output_value compute LogGroupName)

network=$(network_configuration "$subnets" "$security_group" "$public_ip")

# Where the task's logs go, read before the task starts (a failed read then stops nothing half-way): its stream is
# <awslogs-stream-prefix>/<container>/<task id> in the task definition's awslogs group.
logs=$(aws_read "$(printf '%s\t<stream-prefix>' "$log_group")" '' \
  aws ecs describe-task-definition --region "$REGION" --task-definition "$taskdef" \
  --query "taskDefinition.containerDefinitions[?name=='$container'] | [0].logConfiguration.options.[\"awslogs-group\", \"awslogs-stream-prefix\"]" \
  --output text) || die "cannot read the migration task definition $taskdef (the AWS CLI's error is above)"
logs=${logs%$'\n'}
group=${logs%%$'\t'*}
prefix=${logs#*$'\t'}
[[ -n $group && $group != None && $logs == *$'\t'* ]] || group=$log_group

# The task definition's own command is `alembic upgrade head`: no override.
log "starting the migrations in $cluster (${taskdef##*/})"
task=$(capture "arn:aws:ecs:$REGION:<account>:task/$cluster/<task-id>" \
  aws ecs run-task --region "$REGION" --cluster "$cluster" --launch-type FARGATE --task-definition "$taskdef" \
  --network-configuration "$network" --started-by h2o-migrate \
  --query 'tasks[0].taskArn' --output text) || die "run-task failed"
[[ -n $task && $task != None ]] || die "run-task started no task (capacity or permissions?): see the failures above"

# The hints work with AWS CLI v1 and v2 (`aws logs tail` exists only in v2).
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

result=$(aws_read "$(printf '<stopped-reason>\t0')" '' \
  aws ecs describe-tasks --region "$REGION" --cluster "$cluster" --tasks "$task" \
  --query "tasks[0].[stoppedReason, containers[?name=='$container'] | [0].exitCode]" --output text) ||
  die "cannot describe task $task (the AWS CLI's error is above); it may still be running: $(words aws ecs describe-tasks --region "$REGION" --cluster "$cluster" --tasks "$task")"
result=${result%$'\n'}
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
