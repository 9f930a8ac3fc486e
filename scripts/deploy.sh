#!/usr/bin/env bash
# deploy.sh: build and push the backend image, then deploy it to one stage through CloudFormation with the
# database migrations BEFORE the traffic moves, verify it, and roll back to the image that ran before if the
# service deploy fails. The same steps as .github/workflows/deploy.yml.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/deploy.sh [--help] [--keep-image] [--hotfix] <stage>

Deploys the backend to <stage> (dev or prod) in us-east-1:
  0. refuses a stage whose availability zones (its settings: `go run ./cmd/config -stage <stage> -placement`)
     are, in this account (`aws ec2 describe-availability-zones`: zone names map to different zone IDs per
     account), zone IDs where CloudFront VPC origins are reported unavailable (config.VPCOriginUnsupportedAZIDs);
     then reads the status of each stack h2o-<stage>-<layer> before anything changes: an operation in progress is
     waited for (STACK_WAIT_CHECKS x STACK_POLL_DELAY s), then refused naming it; UPDATE_ROLLBACK_FAILED and
     DELETE_FAILED stop the deploy with the repair command (continue-update-rollback / delete-stack, with the
     failed resources); a failed or never-executed create (ROLLBACK_COMPLETE, REVIEW_IN_PROGRESS) is deployed as a
     first deploy (the CDK CLI deletes and recreates it) once it is checked to hold nothing that would block that
     (resources kept with a name the template fixes: listed, the deploy stops; kept with a generated name: a
     warning names them) and to have no termination protection (which stops the CDK CLI's delete: the deploy
     stops with the command that turns it off); ROLLBACK_FAILED (its rollback could not delete something, e.g. a resource with deletion
     protection) stops with the recovery steps: what blocks, the command that turns its deletion protection off,
     then delete-stack;
  1. records the image tag the ECS service runs now (the automatic rollback's target), and refuses to go on while
     a deployment alarm of the stage (output DeploymentAlarmNames) is in ALARM: ECS does not watch the deployment
     alarms of a deployment that starts while one is in ALARM (unless --hotfix; checked again before step 6);
  2. builds the image for the service's CPU architecture with `docker buildx build --platform linux/$ARCH
     --provenance=false` (a plain image manifest, as the workflows push) and pushes it to ECR as
     <account>.dkr.ecr.us-east-1.amazonaws.com/h2o-backend:<tag> (skipped when that tag is already in ECR,
     e.g. pushed by the workflow's build job);
  3. wakes a sleeping stage (dev stops its database and scales to 0 tasks off hours): starts the database
     when it is stopped and waits until it is available (CloudFormation cannot update a stopped instance),
     and brings the service's autoscaling range back to MinTasks..MaxTasks when it is 0; the schedule puts
     the stage back to sleep at its next scale-down;
  4. `npx cdk deploy '<stage>/*' -c stage=<stage> --require-approval never
        --parameters h2o-<stage>-compute:MigrationImageTag=<tag>`:
     the commit's infrastructure changes and the migration task definition on the new image, and
     `--parameters h2o-<stage>-compute:ImageTag=<the tag recorded in step 1>`: the service keeps the image it
     runs, also after `rollback.sh --emergency` left the stack's parameter on the image rolled away from (on a
     first deploy it starts on <tag>);
  5. `scripts/migrate.sh <stage>`: `alembic upgrade head` as a one-off task of the new image. A failed migration
     stops here, with the old version still serving (nothing to roll back);
  6. `npx cdk deploy '<stage>/compute' --exclusively -c stage=<stage> --require-approval never
        --parameters h2o-<stage>-compute:ImageTag=<tag>`: the service's canary deploy (ECS moves a share of
     the requests to the new tasks first, the deployment alarms judging them, then all; outputs CanaryBakeMinutes
     and DeployBakeMinutes);
  7. `aws ecs wait services-stable`, then GET <ApiUrl>/health (output of h2o-<stage>-edge) must answer 2xx;
  8. moves the ECR tags previous-<stage> (what ran before) and live-<stage> (what runs now).
If step 6 or 7 fails, it runs `scripts/rollback.sh <stage> <tag recorded in step 1>` and exits 1 (exits 1
without a rollback on a first deploy, when nothing ran before).

--hotfix ships a fix while a deployment alarm is in ALARM (an incident): steps 4 and 6 run their cdk deploy in the
background while the script watches the ECS deployment it starts, judging the new release itself on fresh data:
each deployment alarm's own metric queries, narrowed to the target group the new tasks start in, read with
`aws cloudwatch get-metric-data` from the deploy's start, against the alarm's threshold, DatapointsToAlarm of
EvaluationPeriods and TreatMissingData; until ECS's bakes end (outputs CanaryBakeMinutes and DeployBakeMinutes,
the bake at least the alarms' evaluation window, plus two alarm periods) counted from when the traffic reaches the
new tasks. A breach stops the deployment with `aws ecs stop-service-deployment --stop-type ROLLBACK` (the traffic
goes back to the old tasks) and runs rollback.sh as any failed step 6 does. A read that fails stops the script with
the CLI's message and what state the deploy is in: it is never taken for a healthy release. Needs jq. Migrations must follow the expand/contract rule
(docs/runbook.md): the old code keeps running on the new schema during the canary deploy and after a rollback.

Environment:
  IMAGE_TAG       image tag (default: `git rev-parse HEAD` of the backend directory's repository; set but empty:
                  a usage error). A marker tag (live-<stage>, previous-<stage>) stands for the image it names
                  now: that image's own tag is deployed, never the marker
  BACKEND_DIR     docker build context (default: backend/ of this repository); needed only to build
  ARCH            arm64 (default, Graviton tasks) or amd64; must match the task definition's CPU architecture
  AWS_ACCOUNT_ID  account of the ECR registry (default: `aws sts get-caller-identity`)
  SMOKE_ATTEMPTS  health check attempts (default 5), SMOKE_DELAY seconds between them (default 10)
  WAKE_WAIT_ROUNDS  rounds of `aws rds wait db-instance-available` (30 min each) when waking (default 2)
  WAKE_POLL_DELAY   seconds between status checks while a database is stopping (default 30); it gives up after
                    WAKE_WAIT_ROUNDS x 60 checks (with the default delay: as long as the waiter rounds)
  MIGRATE_WAIT_ROUNDS  as for migrate.sh
  STACK_WAIT_CHECKS, STACK_POLL_DELAY  status reads (default 60), seconds apart (default 30), while another
                  operation runs on a stack
  AWS_READ_ATTEMPTS, AWS_RETRY_DELAY   tries of a throttled AWS read (default 4), seconds before the second
                  (default 5, doubling). Any other failed read (access denied, expired credentials, no network)
                  stops the deploy with the CLI's message: it is never taken for "absent" or "not found"
  HOTFIX_POLL     seconds between two looks of the --hotfix watch (default 30)
  DRY_RUN=1       print every docker/cdk/aws/git/curl command instead of running it (needs no credentials)

--keep-image deploys the commit's infrastructure with the image the stage runs now (no build; the migration is
a no-op on an unchanged image): what `make deploy STAGE=<stage>` runs. It refuses a first deploy.

Exit status: 0 deployed and healthy; 1 failed (rolled back when possible); 2 bad usage or unknown stage.
EOF
}

# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck source=scripts/guards.sh
source "$SCRIPTS_DIR/guards.sh"

keep_image=0 hotfix=0
args=()
for arg in "$@"; do
  case $arg in
    --keep-image) keep_image=1 ;;
    --hotfix) hotfix=1 ;;
    *) args+=("$arg") ;;
  esac
done
parse_stage_argument "${args[@]+"${args[@]}"}"
if ((keep_image)); then
  [[ -z ${IMAGE_TAG:-} ]] || die_usage "--keep-image and IMAGE_TAG exclude each other"
elif [[ -n ${IMAGE_TAG+set} && -z $IMAGE_TAG ]]; then
  # An empty tag is a mistake (an unset CI variable), not a request: it must not turn into a build of HEAD.
  die_usage "IMAGE_TAG is empty: set it to an image tag, unset it to build the backend at HEAD, or pass --keep-image"
fi

arch=${ARCH:-arm64}
case $arch in arm64 | amd64) ;; *) die_usage "ARCH must be arm64 or amd64, not '$arch'" ;; esac
wake_rounds=${WAKE_WAIT_ROUNDS:-2}
positive_number WAKE_WAIT_ROUNDS "$wake_rounds"
poll_delay=${WAKE_POLL_DELAY:-30}
[[ $poll_delay =~ ^[0-9]+$ ]] || die_usage "WAKE_POLL_DELAY must be a number of seconds"
backend_dir=${BACKEND_DIR:-$REPO_ROOT/backend}

# need_backend_dir WHY: the build context must exist (a dry run prints the commands anyway).
need_backend_dir() {
  if [[ $DRY_RUN == 0 && ! -d $backend_dir ]]; then
    die "backend directory '$backend_dir' not found, needed $1 (set BACKEND_DIR to the directory with the Dockerfile)"
  fi
}

tag=${IMAGE_TAG:-}
if [[ -z $tag && $keep_image == 0 ]]; then
  need_backend_dir "for the image tag (git rev-parse HEAD); or set IMAGE_TAG"
  tag=$(capture '<git-sha>' git -C "$backend_dir" rev-parse HEAD)
fi
if [[ -n $tag && $tag != '<git-sha>' && ! $tag =~ $TAG_PATTERN ]]; then
  die_usage "'$tag' is not a valid image tag"
fi
# A marker tag (IMAGE_TAG=live-dev scripts/deploy.sh prod: promote what dev runs) means the image it names now.
if [[ -n $tag ]]; then
  resolve_tag "$tag"
  tag=$resolved_tag
fi

# 0. Where the stage may live, and the state of every stack of the stage, before anything changes. First the zones:
# a stage in a zone where CloudFront VPC origins are unsupported is refused.
placement_preflight "$stage"

# The state of every stack of the stage: an operation in progress is waited for, a
# stack that needs a person stops the deploy with its recovery command, and a failed or never-executed create is
# recreated by the CDK CLI (after checking it left nothing behind that would block that).
compute_ready=0 data_ready=0
for layer in $LAYERS; do
  if check_stack "h2o-$stage-$layer"; then
    [[ $layer != compute ]] || compute_ready=1
    [[ $layer != data ]] || data_ready=1
  elif [[ $stack_status != ABSENT ]]; then
    [[ $stack_status != ROLLBACK_FAILED ]] || rollback_failed_recovery "h2o-$stage-$layer"
    if [[ $stack_status == ROLLBACK_COMPLETE ]]; then
      check_leftovers "h2o-$stage-$layer"
      check_deletable "h2o-$stage-$layer"
    fi
    log "stack h2o-$stage-$layer $(no_stack_reason): cdk deploy creates it anew"
  fi
done

# 1. What runs now. No usable compute stack: a first deploy (none yet, or its create failed).
previous_tag=""
if ((compute_ready)); then
  load_outputs compute
  cluster=$(output_value compute ClusterName)
  service=$(output_value compute ServiceName)
  container=$(output_value compute ContainerName)
  taskdef=$(running_task_definition "$cluster" "$service") || die "cannot read what $service runs (the AWS CLI's error is above)"
  taskdef=${taskdef%$'\n'}
  [[ -n $taskdef && $taskdef != None ]] ||
    die "ECS does not know service $service in cluster $cluster, though h2o-$stage-compute is $stack_status: see the stack's events"
  info=$(task_definition_info "$taskdef" "$container") || die "cannot read $taskdef (the AWS CLI's error is above)"
  previous_tag=$(image_tag "${info#*$'\t'}")
  [[ -n $previous_tag && $previous_tag != None ]] || die "cannot tell which image $taskdef runs (container $container)"
  # A marker tag (deployed by an older version of these scripts) moves: the image's own tag is what runs.
  resolve_tag "$previous_tag"
  previous_tag=$resolved_tag
  # A deployment that starts while a deployment alarm is in ALARM goes unwatched by ECS (guards.sh).
  check_deployment_alarms "Nothing was changed."
elif ((hotfix)); then
  log "--hotfix: nothing runs on $stage yet (first deploy): no release to protect, nothing to watch"
fi
if ((keep_image)); then
  [[ -n $previous_tag ]] || die "nothing runs on $stage yet: a first deploy needs an image (IMAGE_TAG=<tag> scripts/deploy.sh $stage)"
  tag=$previous_tag
fi
log "deploying $ECR_REPOSITORY:$tag to $stage"
if [[ -n $previous_tag ]]; then
  log "the service runs $previous_tag now: the rollback target"
else
  log "no running service (first deploy, or its create failed): no automatic rollback"
fi

# 2. The image (a dry run shows the look-up, then the build).
if ecr_has_tag "$tag" && [[ $DRY_RUN == 0 ]]; then
  log "$ECR_REPOSITORY:$tag is already in ECR: not rebuilt"
else
  dry_note "when the tag is already in ECR, the build and push are skipped"
  need_backend_dir "to build $ECR_REPOSITORY:$tag (it is not in ECR)"
  account=$(aws_account) || die "cannot tell the AWS account of the ECR registry (set AWS_ACCOUNT_ID)"
  account=${account%$'\n'}
  registry="$account.dkr.ecr.$REGION.amazonaws.com"
  ecr_login "$registry"
  # --provenance=false: no attestation manifest, so a local push makes the plain image manifest the workflows push
  # (build-push-action with provenance: false).
  run docker buildx build --platform "linux/$arch" --provenance=false --tag "$registry/$ECR_REPOSITORY:$tag" \
    --push "$backend_dir"
fi

# 3. Wake a sleeping stage, before any cdk deploy: a CloudFormation update of a stopped DB instance fails with
# "You can't modify a stopped DB instance" (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_StopInstance.html).
db_status() {
  local status
  status=$(aws_read '<DBInstanceStatus>' '' aws rds describe-db-instances --region "$REGION" \
    --db-instance-identifier "$1" --query 'DBInstances[0].DBInstanceStatus' --output text) ||
    die "cannot read the status of database $1 (the AWS CLI's error is above)"
  printf '%s' "${status%$'\n'}"
}
wake_database() {
  local id=$1 status
  status=$(db_status "$id") || exit 1
  if [[ $status == stopping ]]; then
    # The AWS CLI has no waiter for "stopped" (the list of `aws rds wait` commands:
    # https://docs.aws.amazon.com/cli/latest/reference/rds/wait/index.html), and a stopping instance cannot be started
    # until it is stopped: poll its status, at most as many times as the waiter rounds would (60 checks a round).
    local checks=0 max_checks=$((wake_rounds * 60))
    log "database $id is stopping: waiting until it is stopped, to start it again"
    while [[ $status == stopping ]]; do
      ((checks < max_checks)) ||
        die "database $id is still stopping after $max_checks status checks ${poll_delay} s apart: start it once it is stopped ($(words aws rds start-db-instance --region "$REGION" --db-instance-identifier "$id")), then deploy again"
      checks=$((checks + 1))
      sleep "$poll_delay"
      status=$(db_status "$id") || exit 1
    done
  fi
  case $status in
    stopped)
      log "database $id is stopped (off hours): starting it"
      run aws rds start-db-instance --region "$REGION" --db-instance-identifier "$id" \
        --query 'DBInstance.DBInstanceStatus' --output text >/dev/null || die "cannot start database $id"
      wait_db_available "$id" "$wake_rounds"
      woke=1
      ;;
    starting)
      log "database $id is starting: waiting until it is available"
      wait_db_available "$id" "$wake_rounds"
      ;;
    *)
      dry_note "when the status is stopped: $(words aws rds start-db-instance --region "$REGION" \
        --db-instance-identifier "$id" --query 'DBInstance.DBInstanceStatus' --output text), then $(words \
        aws rds wait db-instance-available --region "$REGION" --db-instance-identifier "$id") (looped); when stopping: wait until stopped first"
      [[ $DRY_RUN != 0 ]] || log "database $id is $status"
      ;;
  esac
}
# wake_service CLUSTER SERVICE MIN MAX: an autoscaling range of 0..0 (the off-hours schedule) back to MIN..MAX;
# Application Auto Scaling then moves the desired count into the range
# (https://docs.aws.amazon.com/autoscaling/application/APIReference/API_RegisterScalableTarget.html).
wake_service() {
  local resource="service/$1/$2" max
  max=$(aws_read '<MaxCapacity>' '' aws application-autoscaling describe-scalable-targets --region "$REGION" \
    --service-namespace ecs --resource-ids "$resource" --scalable-dimension ecs:service:DesiredCount \
    --query 'ScalableTargets[0].MaxCapacity' --output text) ||
    die "cannot read the scalable target of $resource (the AWS CLI's error is above)"
  max=${max%$'\n'}
  local register=(aws application-autoscaling register-scalable-target --region "$REGION" --service-namespace ecs
    --resource-id "$resource" --scalable-dimension ecs:service:DesiredCount --min-capacity "$3" --max-capacity "$4")
  if [[ $max == 0 ]]; then
    log "$resource is scaled to 0 (off hours): back to $3..$4 tasks"
    run "${register[@]}" || die "cannot scale $resource back up"
    woke=1
  else
    dry_note "when MaxCapacity is 0: $(words "${register[@]}")"
  fi
}

woke=0
if ((compute_ready && data_ready)); then
  load_outputs data
  db=$(output_optional data DatabaseInstanceId)
  if [[ -z $db ]]; then
    db="h2o-$stage-postgres"
    warn "h2o-$stage-data has no DatabaseInstanceId output (deployed by an older version): using $db"
  fi
  wake_database "$db"
  min_tasks=$(output_optional compute MinTasks)
  max_tasks=$(output_optional compute MaxTasks)
  if [[ -n $min_tasks && -n $max_tasks ]]; then
    wake_service "$cluster" "$service" "$min_tasks" "$max_tasks"
  else
    warn "h2o-$stage-compute has no MinTasks/MaxTasks outputs (deployed by an older version): not woken"
  fi
  if ((woke)); then
    log "woke $stage up; its schedule puts it back to sleep at the next scale-down"
  fi
else
  log "no running service yet (first deploy): nothing to wake"
fi

# 4. Infrastructure and the migration task definition; the service keeps the image it runs (ImageTag is always
# passed: on a first deploy, the new tag).
service_tag=$tag
if ((compute_ready)); then
  # The image the service runs now, never the stack's ImageTag parameter (which the CDK CLI would keep): after
  # rollback.sh --emergency, which goes around CloudFormation, that parameter still names the image rolled away
  # from, and a task definition this deploy changes would start it again. A compute stack deployed before the
  # image became a parameter has no value to keep either.
  service_tag=$previous_tag
fi
# With --hotfix, a service deployment this starts (a changed task definition) is watched like the service deploy.
watch_breach=""
deploy_infrastructure() {
  if ((compute_ready)); then
    watched_deploy "infrastructure deploy" cdk_deploy_stage "$stage" "$tag" "$service_tag"
  else
    cdk_deploy_stage "$stage" "$tag" "$service_tag"
  fi
}
if ! deploy_infrastructure; then
  if [[ -n $watch_breach ]] && ((watch_stopped)); then
    die "the infrastructure deploy changed the service, and that release breached deployment alarm $watch_breach: ECS rolled its deployment back and CloudFormation the stack; the service runs $previous_tag as before. Fix the change and deploy again"
  elif [[ -n $watch_breach ]]; then
    die "the infrastructure deploy changed the service, and that release breached deployment alarm $watch_breach after ECS had finished its deployment ($watch_arn, $watch_status): it runs now. Revert the change and deploy again (--hotfix while the alarms are in ALARM)"
  fi
  if [[ -n $previous_tag ]]; then
    die "cdk deploy of '$stage/*' failed; CloudFormation rolled the failed stack back and the service still runs $previous_tag: nothing to roll back. Fix the cause (see the CloudFormation events) and deploy again"
  fi
  die "cdk deploy of '$stage/*' failed (first deploy: see the CloudFormation events of the h2o-$stage-* stacks)"
fi
# What the service deploy and the health check need, from the stacks as the deploy left them.
for layer in compute edge; do
  open_stack "$layer" || die "stack h2o-$stage-$layer $(no_stack_reason) after cdk deploy: see its events"
done
cluster=$(output_value compute ClusterName)
service=$(output_value compute ServiceName)

# 5. Migrations before traffic.
if ! "$SCRIPTS_DIR/migrate.sh" "$stage"; then
  if [[ -n $previous_tag ]]; then
    die "the migration failed: the deploy stopped before the service changed: the old version ($previous_tag) is still serving, no rollback needed. Read the migration's logs (above), fix the migration, and deploy again; if it stopped half-way, check the schema (alembic current) before retrying"
  fi
  die "the migration failed on a first deploy: read the migration's logs (above), fix it, and deploy again"
fi

# 6, 7. The service's canary deploy, then checks. A failed AWS read in between stops the script (it is no answer
# about the service's health): only a failed deploy, an unstable service or a failing health check roll back.
# Before it, the deployment alarms once more: the infrastructure deploy and the migration took minutes.
if ((compute_ready)); then
  check_deployment_alarms "The infrastructure and the migrations are deployed; the service still runs ${previous_tag:-its image}: nothing to roll back."
fi
deploy_and_verify() {
  watched_deploy "service deploy" cdk_deploy_service "$stage" "$tag" || return 1
  wait_stable "$cluster" "$service" || return 1
  stage_health
}

if deploy_and_verify; then
  dry_note "on failure: $(words scripts/rollback.sh "$stage" "${previous_tag:-<previous-tag>}")"
  log "deployed $tag to $stage: healthy"
  # 8. The rollback images stay pullable.
  move_ecr_tags "$stage" "$previous_tag" "$tag"
  log "next: scripts/verify.sh $stage (the deploy workflow runs it)"
  exit 0
fi

log "deploy of $tag to $stage failed"
if [[ -z $previous_tag ]]; then
  die "nothing ran before this deploy: no automatic rollback (see docs/runbook.md)"
fi
if [[ $previous_tag == "$tag" ]]; then
  die "the service already ran $tag before this deploy: nothing to roll back to"
fi
log "rolling back to $previous_tag"
if "$SCRIPTS_DIR/rollback.sh" "$stage" "$previous_tag"; then
  die "deploy of $tag failed; rolled back to $previous_tag"
fi
die "deploy of $tag failed and the rollback to $previous_tag failed too: see docs/runbook.md"
