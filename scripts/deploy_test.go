package scripts

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"h2o-infra/config"
)

func dbStatus(stage string) []string {
	return []string{"aws", "rds", "describe-db-instances", "--region", "us-east-1", "--db-instance-identifier",
		out(stage, "data", "DatabaseInstanceId"), "--query", "DBInstances[0].DBInstanceStatus", "--output", "text"}
}

func startDB(stage string) []string {
	return []string{"aws", "rds", "start-db-instance", "--region", "us-east-1", "--db-instance-identifier",
		out(stage, "data", "DatabaseInstanceId"), "--query", "DBInstance.DBInstanceStatus", "--output", "text"}
}

func waitDB(stage string) []string {
	return []string{"aws", "rds", "wait", "db-instance-available", "--region", "us-east-1",
		"--db-instance-identifier", out(stage, "data", "DatabaseInstanceId")}
}

func scalableTarget(stage string) []string {
	return []string{"aws", "application-autoscaling", "describe-scalable-targets", "--region", "us-east-1",
		"--service-namespace", "ecs", "--resource-ids", "service/" + clusterOf(stage) + "/" + serviceOf(stage),
		"--scalable-dimension", "ecs:service:DesiredCount", "--query", "ScalableTargets[0].MaxCapacity", "--output", "text"}
}

func registerScalableTarget(stage string) []string {
	return []string{"aws", "application-autoscaling", "register-scalable-target", "--region", "us-east-1",
		"--service-namespace", "ecs", "--resource-id", "service/" + clusterOf(stage) + "/" + serviceOf(stage),
		"--scalable-dimension", "ecs:service:DesiredCount", "--min-capacity", out(stage, "compute", "MinTasks"),
		"--max-capacity", out(stage, "compute", "MaxTasks")}
}

// zoneIDs is how the fake account maps the stage's availability zones (its settings) to zone IDs: IDs of the region
// that CloudFront VPC origins support (config.VPCOriginUnsupportedAZIDs), unless a test names others.
func zoneIDs(stage string, ids ...string) string {
	cfg := appConfig[stage]
	var b strings.Builder
	n := 0
	for i, zone := range cfg.AvailabilityZones {
		id := ""
		if i < len(ids) {
			id = ids[i]
		}
		for id == "" {
			n++
			if candidate := fmt.Sprintf("use1-az%d", n); !slices.Contains(config.VPCOriginUnsupportedAZIDs[cfg.Region], candidate) {
				id = candidate
			}
		}
		fmt.Fprintf(&b, "%s\t%s\n", zone, id)
	}
	return b.String()
}

// placed: the fake account answers describe-availability-zones for the stage's zones with zoneIDs.
func placed(h *harness, stage string, ids ...string) *harness {
	return h.on("aws", []string{"describe-availability-zones"}, zoneIDs(stage, ids...), 0)
}

// preflight: deploy.sh's look at the stage's zones, in its settings, then in the account.
func preflight(stage string) [][]string {
	return calls([]string{"go", "run", "./cmd/config", "-stage", stage, "-placement"},
		append(append([]string{"aws", "ec2", "describe-availability-zones", "--region", "us-east-1", "--zone-names"},
			appConfig[stage].AvailabilityZones...), "--query", "AvailabilityZones[].[ZoneName,ZoneId]", "--output", "text"))
}

// join concatenates call lists.
func join(parts ...[][]string) [][]string {
	var out [][]string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func calls(c ...[]string) [][]string { return c }

// statuses: deploy.sh's first look, at every stack of the stage.
func statuses(stage string) [][]string {
	var c [][]string
	for _, layer := range appLayers {
		c = append(c, statusCall("h2o-"+stage+"-"+layer))
	}
	return c
}

// running: deploy.sh's steps 0 and 1 on a stage whose service runs revision rev.
func running(stage string, rev int) [][]string {
	return join(preflight(stage), statuses(stage), calls(outputsCall("h2o-"+stage+"-compute"), describeServices(stage),
		describeTaskDef(stage, taskDefArn(stage, rev)), alarmStates(stage)))
}

// awake: step 3 on an awake stage.
func awake(stage string) [][]string {
	return calls(outputsCall("h2o-"+stage+"-data"), dbStatus(stage), scalableTarget(stage))
}

// before: deploy.sh's steps 1 to 3 on a deployed stage whose service runs revision rev (tag already in ECR).
func before(stage string, rev int, tag string) [][]string {
	return join(running(stage, rev), calls(ecrDescribe(tag)), awake(stage))
}

// shipped is the tail of every successful deploy after the infrastructure deploy: the stacks read again, the
// migrations on the new task definition, the service deploy with its health check, then the live/previous marker
// tags moved from before to tag.
func shipped(stage, before, tag string) [][]string {
	return join(openCalls(stage, "compute", "edge"), migrateCalls(stage, 1),
		calls(alarmStates(stage), cdkDeployService(stage, tag), waitStable(stage), curlHealth(stage)), moveTags(stage, before, tag))
}

func TestDryRunExactDeployPlan(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.env["DRY_RUN"] = "1"
	h.env["IMAGE_TAG"] = "abc123"
	r := h.run("deploy.sh", "dev")
	expectCode(t, r, 0)
	want := `+ go run ./cmd/config -stage dev -placement
+ aws ec2 describe-availability-zones --region us-east-1 --zone-names '<availabilityZones>' --query 'AvailabilityZones[].[ZoneName,ZoneId]' --output text
+ aws cloudformation describe-stacks --region us-east-1 --stack-name h2o-dev-network --query 'Stacks[0].StackStatus' --output text
+ aws cloudformation describe-stacks --region us-east-1 --stack-name h2o-dev-data --query 'Stacks[0].StackStatus' --output text
+ aws cloudformation describe-stacks --region us-east-1 --stack-name h2o-dev-compute --query 'Stacks[0].StackStatus' --output text
+ aws cloudformation describe-stacks --region us-east-1 --stack-name h2o-dev-edge --query 'Stacks[0].StackStatus' --output text
+ aws cloudformation describe-stacks --region us-east-1 --stack-name h2o-dev-observability --query 'Stacks[0].StackStatus' --output text
+ aws cloudformation describe-stacks --region us-east-1 --stack-name h2o-dev-compute --query 'Stacks[0].Outputs[].[OutputKey,OutputValue]' --output text
+ aws ecs describe-services --region us-east-1 --cluster h2o-dev --services h2o-backend-service --query 'services[0].taskDefinition' --output text
+ aws ecs describe-task-definition --region us-east-1 --task-definition 'arn:aws:ecs:us-east-1:<account>:task-definition/<TaskDefinitionFamily>:<revision>' --query "taskDefinition.[status, containerDefinitions[?name=='backend'] | [0].image]" --output text
+ aws cloudwatch describe-alarms --region us-east-1 --alarm-names '<DeploymentAlarmNames>' --query 'MetricAlarms[].[AlarmName,StateValue,StateUpdatedTimestamp]' --output text
+ aws ecr describe-images --region us-east-1 --repository-name h2o-backend --image-ids imageTag=abc123 --query 'imageDetails[0].imageDigest' --output text
# when the tag is already in ECR, the build and push are skipped
+ aws ecr get-login-password --region us-east-1 | docker login --username AWS --password-stdin REGISTRY
+ docker buildx build --platform linux/arm64 --provenance=false --tag REGISTRY/h2o-backend:abc123 --push BACKEND
+ aws cloudformation describe-stacks --region us-east-1 --stack-name h2o-dev-data --query 'Stacks[0].Outputs[].[OutputKey,OutputValue]' --output text
+ aws rds describe-db-instances --region us-east-1 --db-instance-identifier h2o-dev-postgres --query 'DBInstances[0].DBInstanceStatus' --output text
# when the status is stopped: aws rds start-db-instance --region us-east-1 --db-instance-identifier h2o-dev-postgres --query DBInstance.DBInstanceStatus --output text, then aws rds wait db-instance-available --region us-east-1 --db-instance-identifier h2o-dev-postgres (looped); when stopping: wait until stopped first
+ aws application-autoscaling describe-scalable-targets --region us-east-1 --service-namespace ecs --resource-ids service/h2o-dev/h2o-backend-service --scalable-dimension ecs:service:DesiredCount --query 'ScalableTargets[0].MaxCapacity' --output text
# when MaxCapacity is 0: aws application-autoscaling register-scalable-target --region us-east-1 --service-namespace ecs --resource-id service/h2o-dev/h2o-backend-service --scalable-dimension ecs:service:DesiredCount --min-capacity '<MinTasks>' --max-capacity '<MaxTasks>'
+ npx cdk deploy 'dev/*' -c stage=dev --require-approval never --parameters h2o-dev-compute:MigrationImageTag=abc123 --parameters 'h2o-dev-compute:ImageTag=<previous-tag>'
+ aws cloudformation describe-stacks --region us-east-1 --stack-name h2o-dev-compute --query 'Stacks[0].StackStatus' --output text
+ aws cloudformation describe-stacks --region us-east-1 --stack-name h2o-dev-compute --query 'Stacks[0].Outputs[].[OutputKey,OutputValue]' --output text
+ aws cloudformation describe-stacks --region us-east-1 --stack-name h2o-dev-edge --query 'Stacks[0].StackStatus' --output text
+ aws cloudformation describe-stacks --region us-east-1 --stack-name h2o-dev-edge --query 'Stacks[0].Outputs[].[OutputKey,OutputValue]' --output text
+ aws cloudformation describe-stacks --region us-east-1 --stack-name h2o-dev-compute --query 'Stacks[0].StackStatus' --output text
+ aws cloudformation describe-stacks --region us-east-1 --stack-name h2o-dev-compute --query 'Stacks[0].Outputs[].[OutputKey,OutputValue]' --output text
+ aws ecs describe-task-definition --region us-east-1 --task-definition '<MigrationTaskDefinitionArn>' --query 'taskDefinition.containerDefinitions[?name=='\''backend'\''] | [0].logConfiguration.options.["awslogs-group", "awslogs-stream-prefix"]' --output text
+ aws ecs run-task --region us-east-1 --cluster h2o-dev --launch-type FARGATE --task-definition '<MigrationTaskDefinitionArn>' --network-configuration '{"awsvpcConfiguration":{"subnets":["<TaskSubnetIds>"],"securityGroups":["<TaskSecurityGroupId>"],"assignPublicIp":"<AssignPublicIp>"}}' --started-by h2o-migrate --query 'tasks[0].taskArn' --output text
+ aws ecs wait tasks-stopped --region us-east-1 --cluster h2o-dev --tasks 'arn:aws:ecs:us-east-1:<account>:task/h2o-dev/<task-id>'
+ aws ecs describe-tasks --region us-east-1 --cluster h2o-dev --tasks 'arn:aws:ecs:us-east-1:<account>:task/h2o-dev/<task-id>' --query "tasks[0].[stoppedReason, containers[?name=='backend'] | [0].exitCode]" --output text
+ aws cloudwatch describe-alarms --region us-east-1 --alarm-names '<DeploymentAlarmNames>' --query 'MetricAlarms[].[AlarmName,StateValue,StateUpdatedTimestamp]' --output text
+ npx cdk deploy dev/compute --exclusively -c stage=dev --require-approval never --parameters h2o-dev-compute:ImageTag=abc123
+ aws ecs wait services-stable --region us-east-1 --cluster h2o-dev --services h2o-backend-service
+ curl -fsS --max-time 10 -o /dev/null '<ApiUrl>/health'
# on failure: scripts/rollback.sh dev '<previous-tag>'
+ aws ecr batch-get-image --region us-east-1 --repository-name h2o-backend --image-ids 'imageTag=<previous-tag>' --query 'images[0].imageManifest' --output text
+ aws ecr batch-get-image --region us-east-1 --repository-name h2o-backend --image-ids 'imageTag=<previous-tag>' --query 'images[0].imageManifestMediaType' --output text
+ aws ecr put-image --region us-east-1 --repository-name h2o-backend --image-tag previous-dev --image-manifest '<imageManifest>' --image-manifest-media-type '<imageManifestMediaType>' --query image.imageId.imageDigest --output text
+ aws ecr batch-get-image --region us-east-1 --repository-name h2o-backend --image-ids imageTag=abc123 --query 'images[0].imageManifest' --output text
+ aws ecr batch-get-image --region us-east-1 --repository-name h2o-backend --image-ids imageTag=abc123 --query 'images[0].imageManifestMediaType' --output text
+ aws ecr put-image --region us-east-1 --repository-name h2o-backend --image-tag live-dev --image-manifest '<imageManifest>' --image-manifest-media-type '<imageManifestMediaType>' --query image.imageId.imageDigest --output text
`
	want = strings.NewReplacer("REGISTRY", registry, "BACKEND", h.backend).Replace(want)
	if r.stdout != want {
		t.Fatalf("dry-run plan differs\n--- want\n%s%s", want, r)
	}
}

// The order that makes deploys safe: the stacks' states, wake-up, then infrastructure + migration task
// definition, then the migration, then the service; the ECR tags move only once the stage is healthy.
func TestDeploySuccess(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	deployed(h, "dev", 7, "oldsha").
		on("git", []string{"rev-parse"}, "newsha\n", 0).
		missingImage(1).
		on("curl", nil, "", 0)
	r := h.run("deploy.sh", "dev")
	expectCode(t, r, 0)
	expectCalls(t, r, join(
		calls([]string{"git", "-C", h.backend, "rev-parse", "HEAD"}),
		running("dev", 7),
		calls(ecrDescribe("newsha"), loginPassword, dockerLogin, dockerBuild(h, "newsha")),
		awake("dev"),
		calls(cdkDeployStage("dev", "newsha", "oldsha")),
		shipped("dev", "oldsha", "newsha"),
	)...)
	expectStderr(t, r, "migrate.sh: migrations applied")
}

func TestDeploySkipsBuildWhenImageInECR(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.env["IMAGE_TAG"] = "prebuilt"
	h.env["BACKEND_DIR"] = h.dir + "/no-such-dir" // not needed: nothing to build
	deployed(h, "prod", 3, "oldsha").on("aws", []string{"describe-images"}, "sha256:1234\n", 0)
	r := h.run("deploy.sh", "prod")
	expectCode(t, r, 0)
	expectCalls(t, r, join(
		before("prod", 3, "prebuilt"),
		calls(cdkDeployStage("prod", "prebuilt", "oldsha")),
		shipped("prod", "oldsha", "prebuilt"),
	)...)
}

// Only ECR's ImageNotFoundException means "not there": any other error (here access denied) stops deploy.sh before
// it builds, and rollback.sh before it deploys, with the AWS error.
func TestECRErrorsOtherThanNotFoundStop(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		script string
		args   []string
		want   [][]string
	}{
		{"deploy.sh", []string{"dev"}, join(running("dev", 9), calls(ecrDescribe("newsha")))},
		{"rollback.sh", []string{"dev", "sha7"}, join(start("dev", 9), calls(ecrDescribe("sha7")))},
	} {
		h := newHarness(t)
		h.env["IMAGE_TAG"] = "newsha"
		h.failTimes(0, []string{"describe-images"}, accessDenied("DescribeImages"))
		r := history(h, "dev").run(c.script, c.args...)
		expectCode(t, r, 1)
		expectCalls(t, r, c.want...)
		expectStderr(t, r, "(AccessDenied)", "cannot tell whether h2o-backend:")
	}
}

func TestDeployMissingBackendDirIsAClearFailure(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.env["IMAGE_TAG"] = "newsha"
	h.env["BACKEND_DIR"] = h.dir + "/no-such-dir"
	deployed(h, "dev", 7, "oldsha").missingImage(0)
	r := h.run("deploy.sh", "dev")
	expectCode(t, r, 1)
	if len(filter(r.calls, "npx")) != 0 || !strings.Contains(r.stderr, "no-such-dir' not found, needed to build h2o-backend:newsha") {
		t.Fatalf("want a stop before any deploy, naming the directory\n%s", r)
	}
}

// Without AWS_ACCOUNT_ID (as in the workflow) the registry comes from the caller's identity.
func TestDeployAsksForTheAccountWhenBuilding(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.env["IMAGE_TAG"] = "newsha"
	h.env["AWS_ACCOUNT_ID"] = ""
	deployed(h, "dev", 7, "oldsha").
		missingImage(0).
		on("aws", []string{"sts", "get-caller-identity"}, account+"\n", 0)
	r := h.run("deploy.sh", "dev")
	expectCode(t, r, 0)
	n := len(running("dev", 7)) + 1
	expectCalls(t, result{calls: r.calls[n : n+4]},
		[]string{"aws", "sts", "get-caller-identity", "--region", "us-east-1", "--query", "Account", "--output", "text"},
		loginPassword, dockerLogin, dockerBuild(h, "newsha"))
}

// dev off hours: the database is stopped and the service scaled to 0. Both wake up before any cdk deploy.
func TestDeployWakesASleepingStage(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.env["IMAGE_TAG"] = "newsha"
	h.onTimes(1, "aws", []string{"DBInstances[0].DBInstanceStatus"}, "stopped\n", 0).
		failTimes(1, []string{"db-instance-available"}, waiterError("DBInstanceAvailable", "Max attempts exceeded")).
		on("aws", []string{"describe-scalable-targets"}, "0\n", 0)
	deployed(h, "dev", 7, "oldsha").on("aws", []string{"describe-images"}, "sha256:x\n", 0)
	r := h.run("deploy.sh", "dev")
	expectCode(t, r, 0)
	expectCalls(t, r, join(
		running("dev", 7),
		calls(ecrDescribe("newsha"),
			outputsCall("h2o-dev-data"),
			dbStatus("dev"),
			startDB("dev"),
			waitDB("dev"), waitDB("dev"), // the first 30-minute waiter gave up
			scalableTarget("dev"),
			registerScalableTarget("dev"),
			cdkDeployStage("dev", "newsha", "oldsha")),
		shipped("dev", "oldsha", "newsha"),
	)...)
	expectStderr(t, r, "its schedule puts it back to sleep at the next scale-down")
}

// A database that is stopping cannot be started: wait until it is stopped, then start it.
func TestDeployWaitsForAStoppingDatabase(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.env["IMAGE_TAG"] = "newsha"
	h.env["WAKE_POLL_DELAY"] = "0"
	h.onTimes(2, "aws", []string{"DBInstances[0].DBInstanceStatus"}, "stopping\n", 0).
		onTimes(1, "aws", []string{"DBInstances[0].DBInstanceStatus"}, "stopped\n", 0)
	deployed(h, "dev", 7, "oldsha").on("aws", []string{"describe-images"}, "sha256:x\n", 0)
	r := h.run("deploy.sh", "dev")
	expectCode(t, r, 0)
	n := len(running("dev", 7)) + 1
	expectCalls(t, result{calls: r.calls[n : n+7]},
		outputsCall("h2o-dev-data"), dbStatus("dev"), dbStatus("dev"), dbStatus("dev"), startDB("dev"), waitDB("dev"),
		scalableTarget("dev"))
}

// A database that stays "stopping" is polled as many times as the waiter rounds would poll (60 a round), not forever.
func TestDeployGivesUpOnADatabaseThatStaysStopping(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.env["IMAGE_TAG"] = "newsha"
	h.env["WAKE_WAIT_ROUNDS"] = "1"
	h.env["WAKE_POLL_DELAY"] = "0"
	h.on("aws", []string{"DBInstances[0].DBInstanceStatus"}, "stopping\n", 0)
	deployed(h, "dev", 7, "oldsha").on("aws", []string{"describe-images"}, "sha256:x\n", 0)
	r := h.run("deploy.sh", "dev")
	expectCode(t, r, 1)
	want := calls(outputsCall("h2o-dev-data"))
	for i := 0; i <= 60; i++ { // the first look, then 60 checks
		want = append(want, dbStatus("dev"))
	}
	expectCalls(t, result{calls: r.calls[len(running("dev", 7))+1:]}, want...)
	expectStderr(t, r, "database h2o-dev-postgres is still stopping after 60 status checks")
}

func TestDeployGivesUpOnADatabaseThatNeverComesUp(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.env["IMAGE_TAG"] = "newsha"
	h.env["WAKE_WAIT_ROUNDS"] = "3"
	h.on("aws", []string{"DBInstances[0].DBInstanceStatus"}, "starting\n", 0).
		failTimes(0, []string{"db-instance-available"}, waiterError("DBInstanceAvailable", "Max attempts exceeded"))
	deployed(h, "dev", 7, "oldsha").on("aws", []string{"describe-images"}, "sha256:x\n", 0)
	r := h.run("deploy.sh", "dev")
	expectCode(t, r, 1)
	expectCalls(t, result{calls: r.calls[len(running("dev", 7))+1:]},
		outputsCall("h2o-dev-data"), dbStatus("dev"), waitDB("dev"), waitDB("dev"), waitDB("dev"))
	expectStderr(t, r, "not available after 3 wait rounds")
}

// A waiter that reaches a failure state is an answer (the instance will not come up), not something to wait out.
func TestDeployStopsOnADatabaseThatFailed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.env["IMAGE_TAG"] = "newsha"
	h.on("aws", []string{"DBInstances[0].DBInstanceStatus"}, "starting\n", 0).
		failTimes(0, []string{"db-instance-available"}, waiterError("DBInstanceAvailable",
			"Waiter encountered a terminal failure state: For expression \"DBInstances[].DBInstanceStatus\" we matched expected path: \"incompatible-parameters\""))
	deployed(h, "dev", 7, "oldsha").on("aws", []string{"describe-images"}, "sha256:x\n", 0)
	r := h.run("deploy.sh", "dev")
	expectCode(t, r, 1)
	if n := len(filter(r.calls, "db-instance-available")); n != 1 || len(filter(r.calls, "npx")) != 0 {
		t.Errorf("%d waiter runs (want 1) or a deploy after a failed database\n%s", n, r)
	}
	expectStderr(t, r, "incompatible-parameters")
}

// A first deploy: no stacks yet, so nothing to wake, no rollback target, and both image parameters.
func TestDeployFirstDeploy(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.env["IMAGE_TAG"] = "newsha"
	for _, layer := range appLayers {
		stackIs(h, 1, "dev", layer, "ABSENT")
	}
	h.on("aws", []string{"describe-images"}, "sha256:x\n", 0)
	deployed(h, "dev", 1, "newsha")
	r := h.run("deploy.sh", "dev")
	expectCode(t, r, 0)
	// (no deployment alarm to read before the service deploy: there was no service to deploy over)
	tail := shipped("dev", "", "newsha")
	tail = slices.DeleteFunc(tail, func(c []string) bool { return slices.Equal(c, alarmStates("dev")) })
	expectCalls(t, r, join(
		preflight("dev"), statuses("dev"),
		calls(ecrDescribe("newsha"), cdkDeployStage("dev", "newsha", "newsha")),
		tail,
	)...)
}

// A compute stack deployed before the image became a parameter has no ImageTag to keep: pass the running one.
func TestDeployFromAStackWithoutImageParameters(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.env["IMAGE_TAG"] = "newsha"
	legacy := without(describeStacksAnswer("dev", "compute"), "MigrationTaskDefinitionArn", "MinTasks", "MaxTasks")
	h.onTimes(1, "aws", []string{"describe-stacks", "h2o-dev-compute", "Stacks[0].Outputs[].[OutputKey,OutputValue]"}, legacy, 0).
		on("aws", []string{"describe-images"}, "sha256:x\n", 0)
	deployed(h, "dev", 7, "oldsha")
	r := h.run("deploy.sh", "dev")
	expectCode(t, r, 0)
	expectCalls(t, result{calls: filter(r.calls, "npx")},
		cdkDeployStage("dev", "newsha", "oldsha"), cdkDeployService("dev", "newsha"))
	expectStderr(t, r, "no MinTasks/MaxTasks outputs")
}

// The infrastructure deploy fails: CloudFormation rolled it back, the service never changed: no rollback.sh.
func TestDeployInfrastructureFailureStopsWithoutRollback(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.env["IMAGE_TAG"] = "newsha"
	h.onTimes(1, "npx", nil, "", 1).on("aws", []string{"describe-images"}, "sha256:x\n", 0)
	deployed(h, "prod", 7, "oldsha")
	r := h.run("deploy.sh", "prod")
	expectCode(t, r, 1)
	expectCalls(t, r, join(before("prod", 7, "newsha"), calls(cdkDeployStage("prod", "newsha", "oldsha")))...)
	expectStderr(t, r, "the service still runs oldsha: nothing to roll back")
}

// The migration fails: the deploy stops before the service changes, and says the old version still serves.
func TestDeployMigrationFailureStopsBeforeTheService(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.env["IMAGE_TAG"] = "newsha"
	h.on("aws", []string{"describe-tasks"}, "Essential container in task exited\t1\n", 0).
		on("aws", []string{"describe-images"}, "sha256:x\n", 0)
	deployed(h, "dev", 7, "oldsha")
	r := h.run("deploy.sh", "dev")
	expectCode(t, r, 1)
	expectCalls(t, r, join(
		before("dev", 7, "newsha"),
		calls(cdkDeployStage("dev", "newsha", "oldsha")),
		openCalls("dev", "compute", "edge"),
		migrateCalls("dev", 1),
	)...)
	expectStderr(t, r, "the migration failed", "the old version (oldsha) is still serving", "no rollback needed")
}

func TestDeploySmokeFailureRollsBack(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.env["IMAGE_TAG"] = "newsha"
	h.env["SMOKE_ATTEMPTS"] = "3"
	// Before the deploy the service runs revision 7 (oldsha); after it, revision 8 (newsha).
	h.onTimes(1, "aws", []string{"describe-services"}, taskDefArn("dev", 7)+"\n", 0).
		on("aws", []string{"describe-services"}, taskDefArn("dev", 8)+"\n", 0).
		on("aws", []string{"describe-task-definition", taskDefArn("dev", 8)}, "ACTIVE\t"+imageOf("newsha")+"\n", 0).
		missingImage(0, "imageTag=newsha").
		on("aws", []string{"describe-images", "imageTag=oldsha"}, "sha256:old\n", 0).
		onTimes(3, "curl", nil, "", 22) // the new image never answers; the old one does
	deployed(h, "dev", 7, "oldsha")
	r := h.run("deploy.sh", "dev")
	expectCode(t, r, 1)
	expectCalls(t, r, join(
		// deploy.sh
		running("dev", 7),
		calls(ecrDescribe("newsha"), loginPassword, dockerLogin, dockerBuild(h, "newsha")),
		awake("dev"),
		calls(cdkDeployStage("dev", "newsha", "oldsha")),
		openCalls("dev", "compute", "edge"),
		migrateCalls("dev", 1),
		calls(alarmStates("dev"), cdkDeployService("dev", "newsha"), waitStable("dev"), curlHealth("dev"), curlHealth("dev"), curlHealth("dev")),
		// rollback.sh dev oldsha
		start("dev", 8),
		calls(ecrDescribe("oldsha"), cdkDeployService("dev", "oldsha"), waitStable("dev"), curlHealth("dev")),
		moveTags("dev", "newsha", "oldsha"),
	)...)
	expectStderr(t, r, "deploy of newsha failed; rolled back to oldsha")
}

func TestDeployServiceFailureRollsBack(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.env["IMAGE_TAG"] = "newsha"
	// The infrastructure deploy works, the service deploy (circuit breaker) fails, the rollback works.
	h.on("npx", []string{"dev/compute", "h2o-dev-compute:ImageTag=newsha"}, "", 1).
		on("aws", []string{"describe-images"}, "sha256:x\n", 0)
	deployed(h, "dev", 7, "oldsha")
	r := h.run("deploy.sh", "dev")
	expectCode(t, r, 1)
	expectCalls(t, result{calls: filter(r.calls, "npx")},
		cdkDeployStage("dev", "newsha", "oldsha"), cdkDeployService("dev", "newsha"), cdkDeployService("dev", "oldsha"))
}

// An unstable service after the deploy (the waiter's failure state: the service is draining) rolls back; an
// error of the waiter itself is no answer about the service: the deploy stops without acting on it.
func TestDeployTellsAnUnstableServiceFromAFailedRead(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name     string
		err      awsError
		rollback bool
	}{
		{"draining", waiterError("ServicesStable", "Waiter encountered a terminal failure state: For expression \"services[].status\" we matched expected path: \"DRAINING\" at least once"), true},
		{"access denied", waiterError("ServicesStable", "An error occurred (AccessDeniedException): User is not authorized to perform: ecs:DescribeServices"), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.env["IMAGE_TAG"] = "newsha"
			h.failTimes(1, []string{"services-stable"}, c.err).on("aws", []string{"describe-images"}, "sha256:x\n", 0)
			deployed(h, "dev", 7, "oldsha")
			r := h.run("deploy.sh", "dev")
			expectCode(t, r, 1)
			if rolledBack := len(filter(r.calls, "npx", "dev/compute", "h2o-dev-compute:ImageTag=oldsha")) == 1; rolledBack != c.rollback {
				t.Errorf("rolled back: %v, want %v\n%s", rolledBack, c.rollback, r)
			}
			expectStderr(t, r, strings.TrimSpace(c.err.stderr))
		})
	}
}

func TestDeployFirstDeployServiceFailureHasNoRollback(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.env["IMAGE_TAG"] = "newsha"
	stackIs(h, 1, "dev", "compute", "ABSENT").
		on("npx", []string{"dev/compute"}, "", 1).
		on("aws", []string{"describe-images"}, "sha256:x\n", 0)
	deployed(h, "dev", 1, "unused")
	r := h.run("deploy.sh", "dev")
	expectCode(t, r, 1)
	expectCalls(t, result{calls: filter(r.calls, "npx")}, cdkDeployStage("dev", "newsha", "newsha"), cdkDeployService("dev", "newsha"))
	expectStderr(t, r, "no automatic rollback")
}

// put-image of the manifest a tag already names: ECR's ImageAlreadyExistsException is a success.
func TestDeployTagMoveAlreadyDoneIsASuccess(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.env["IMAGE_TAG"] = "newsha"
	h.onErr("aws", []string{"put-image", "live-dev"},
		"An error occurred (ImageAlreadyExistsException) when calling the PutImage operation: Image with digest 'sha256:1' and tag 'live-dev' already exists\n", 254).
		on("aws", []string{"describe-images"}, "sha256:x\n", 0)
	deployed(h, "dev", 7, "oldsha")
	r := h.run("deploy.sh", "dev")
	expectCode(t, r, 0)
	if strings.Contains(r.stderr, "WARNING") || !strings.Contains(r.stderr, "ECR tag live-dev already names newsha") {
		t.Errorf("want a quiet success\n%s", r)
	}
}

// Any other put-image error, or a failed read of the image, is a warning: the stage is healthy, the deploy
// succeeds; the warning carries the AWS error and does not call the image missing.
func TestDeployTagMoveFailureIsAWarning(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.env["IMAGE_TAG"] = "newsha"
	h.failTimes(0, []string{"put-image"}, accessDenied("PutImage")).
		failTimes(0, []string{"batch-get-image", "imageTag=newsha"}, throttling("BatchGetImage")).
		on("aws", []string{"describe-images"}, "sha256:x\n", 0)
	deployed(h, "dev", 7, "oldsha")
	r := h.run("deploy.sh", "dev")
	expectCode(t, r, 0)
	expectStderr(t, r, "WARNING: could not move ECR tag previous-dev to oldsha", "(AccessDenied)",
		"WARNING: cannot read image newsha from ECR (the AWS CLI's error is above): live-dev not moved", "(Throttling)")
	if strings.Contains(r.stderr, "newsha not found") {
		t.Errorf("a throttled read was taken for a missing image\n%s", r)
	}
}

// The manifest goes back byte for byte, newlines inside it included.
func TestDeployRetagKeepsTheManifestExact(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.env["IMAGE_TAG"] = "newsha"
	manifest := "{\n   \"schemaVersion\": 2\n}"
	h.on("aws", []string{"batch-get-image", "imageTag=newsha", "images[0].imageManifest"}, manifest+"\n", 0).
		on("aws", []string{"describe-images"}, "sha256:x\n", 0)
	deployed(h, "dev", 7, "oldsha")
	r := h.run("deploy.sh", "dev")
	expectCode(t, r, 0)
	var put []string
	if puts := filter(r.calls, "put-image", "live-dev"); len(puts) > 0 {
		put = puts[len(puts)-1]
	}
	if put == nil || put[10] != strings.ReplaceAll(manifest, "\n", `\n`) {
		t.Fatalf("put-image got %q, want the manifest %q\n%s", put, manifest, r)
	}
}

// `make deploy STAGE=<stage>` without an image: the commit's infrastructure with the image the stage runs, through
// the same wake-up, migration (a no-op on an unchanged image) and verification path, and no build. The runbook's
// follow-up to rollback.sh --emergency: the infrastructure deploy passes ImageTag=<what runs> (oldsha), so the
// stack's own ImageTag (the image rolled away from) is not started again by a changed task definition.
func TestDeployKeepImageRedeploysTheRunningImage(t *testing.T) {
	t.Parallel()
	// GIVEN prod running oldsha, and no backend directory (nothing to build)
	h := newHarness(t)
	h.env["BACKEND_DIR"] = h.dir + "/no-such-dir"
	h.env["IMAGE_TAG"] = emptyValue // as the workflow leaves it in keep-image mode
	deployed(h, "prod", 3, "oldsha").on("aws", []string{"describe-images"}, "sha256:1234\n", 0)
	// WHEN deploy.sh --keep-image runs THEN it deploys oldsha again, the calls of any other deploy of it
	r := h.run("deploy.sh", "--keep-image", "prod")
	expectCode(t, r, 0)
	expectCalls(t, r, join(
		before("prod", 3, "oldsha"),
		calls(cdkDeployStage("prod", "oldsha", "oldsha")),
		shipped("prod", "", "oldsha"), // previous-prod still names what ran before oldsha
	)...)
}

func TestDeployKeepImageRefusesAFirstDeployAndAnImageTag(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	stackIs(h, 0, "dev", "compute", "ABSENT")
	r := deployed(h, "dev", 1, "x").run("deploy.sh", "--keep-image", "dev")
	expectCode(t, r, 1)
	expectStderr(t, r, "nothing runs on dev yet: a first deploy needs an image")
	if len(filter(r.calls, "npx")) != 0 {
		t.Errorf("deployed\n%s", r)
	}
	h2 := newHarness(t)
	h2.env["IMAGE_TAG"] = "abc"
	r = h2.run("deploy.sh", "--keep-image", "dev")
	expectCode(t, r, 2)
}

// An empty IMAGE_TAG (a CI variable that was never set) is a usage error, not a build of HEAD.
func TestDeployEmptyImageTagIsAUsageError(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.env["IMAGE_TAG"] = emptyValue
	r := h.run("deploy.sh", "dev")
	expectCode(t, r, 2)
	expectCalls(t, r)
	expectStderr(t, r, "IMAGE_TAG is empty")
}

// IMAGE_TAG=live-dev scripts/deploy.sh prod promotes what dev runs: the image's own tag is deployed, not the marker.
func TestDeployResolvesAMarkerTag(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.env["IMAGE_TAG"] = "live-dev"
	h.on("aws", []string{"describe-images", "imageTag=live-dev", "imageDetails[0].imageTags"}, "live-dev\tnewsha\tprevious-prod\n", 0).
		on("aws", []string{"describe-images"}, "sha256:x\n", 0)
	deployed(h, "prod", 7, "oldsha")
	r := h.run("deploy.sh", "prod")
	expectCode(t, r, 0)
	expectCalls(t, r, join(
		calls(ecrTagsOf("live-dev")),
		before("prod", 7, "newsha"),
		calls(cdkDeployStage("prod", "newsha", "oldsha")),
		shipped("prod", "oldsha", "newsha"),
	)...)
	expectStderr(t, r, "live-dev names the image tagged newsha")
}

// A stage whose zones are, in this account, zone IDs where CloudFront VPC origins are unsupported is refused
// before anything is read or created: the names map to IDs per account, so the account is asked.
func TestDeployRefusesZonesWithoutVPCOrigins(t *testing.T) {
	t.Parallel()
	unsupported := config.VPCOriginUnsupportedAZIDs["us-east-1"][0]
	zones := appConfig["prod"].AvailabilityZones
	// GIVEN an account where prod's second zone name is an unsupported zone ID
	h := newHarness(t)
	h.env["IMAGE_TAG"] = "newsha"
	placed(h, "prod", "", unsupported)
	deployed(h, "prod", 7, "oldsha")
	// WHEN prod is deployed
	r := h.run("deploy.sh", "prod")
	// THEN it stops after the look-up, naming the zone, its ID, where the list lives and how to see the mapping
	expectCode(t, r, 1)
	expectCalls(t, r, preflight("prod")...)
	expectStderr(t, r, "prod is configured for "+zones[1]+" ("+unsupported+"), where CloudFront VPC origins are not supported",
		"config.VPCOriginUnsupportedAZIDs", "config/settings/prod.json",
		"aws ec2 describe-availability-zones --region us-east-1 --query 'AvailabilityZones[].[ZoneName,ZoneId]' --output text")
}

// A zone AWS does not map (a name the account does not have) is no answer about it: the deploy stops.
func TestDeployStopsWhenAZoneIsNotMapped(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.env["IMAGE_TAG"] = "newsha"
	h.on("aws", []string{"describe-availability-zones"}, strings.SplitAfter(zoneIDs("dev"), "\n")[0], 0)
	deployed(h, "dev", 7, "oldsha")
	r := h.run("deploy.sh", "dev")
	expectCode(t, r, 1)
	expectCalls(t, r, preflight("dev")...)
	expectStderr(t, r, "AWS mapped 1 of the 2 availability zones of dev")
}
