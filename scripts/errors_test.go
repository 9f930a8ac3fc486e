package scripts

import (
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// A failed AWS read is never an answer. For every read in the golden list of AWS calls (every describe, get,
// list, batch-get and waiter a script makes), one run of the script in which that read fails with an error that
// is not "not found" (access denied, expired credentials, no network, throttling beyond the retries, no
// credentials, in turn):
// the script shows the CLI's message and stops there, changing nothing after it; the one exception is named.

// readScenario makes a script reach one read, and says which call to fail.
type readScenario struct {
	args  []string
	setup func(h *harness) // rules that win over the deployed stage's
	match []string         // the arguments of the call to fail
	op    string           // its API operation, for the error message
	// goesOn: the script continues with the CLI's message as a warning or a FAIL line, as documented: moving the
	// marker tags after a healthy deploy (a warning), a recovery command's list of failed resources (the command
	// is printed without it).
	goesOn bool
	// beside: the read is made while these commands, started before it in the background (the --hotfix watch's
	// cdk deploy), run: their log lines may land after it.
	beside [][]string
}

// hotfixArgs and hotfixing: a deploy with --hotfix during an incident, watched (hotfix_test.go).
var hotfixArgs = []string{"--hotfix", "prod"}

func hotfixing(h *harness) {
	alarmsIn(h, "prod", alarmNames("prod")[0])
	hotfixed(h.t, h, []float64{0}, []float64{0})
}

var besideDeploys = [][]string{cdkDeployStage("prod", "newsha", "oldsha"), cdkDeployService("prod", "newsha")}

var prodData = []string{"prod", "--to", "latest"}

// readScenarios by golden line.
var readScenarios = map[string]readScenario{
	"deploy.sh aws application-autoscaling describe-scalable-targets": {match: []string{"describe-scalable-targets"}, op: "DescribeScalableTargets"},
	"deploy.sh aws cloudformation describe-stack-resources": {match: []string{"describe-stack-resources"}, op: "DescribeStackResources",
		setup: func(h *harness) { stackIs(h, 1, "prod", "compute", "ROLLBACK_COMPLETE") }},
	"deploy.sh aws cloudformation get-template": {match: []string{"get-template"}, op: "GetTemplate",
		setup: func(h *harness) {
			stackIs(h, 1, "prod", "data", "ROLLBACK_COMPLETE")
			id := retainedIn(h.t, "prod", "data")[0]
			h.on("aws", leftovers("h2o-prod-data")[1:],
				id+"\t"+typeOf(h.t, "prod", "data", id)+"\t"+generatedName("prod", "data", id)+"\tDELETE_SKIPPED\n", 0)
		}},
	"deploy.sh aws cloudformation describe-stacks":  {match: []string{"describe-stacks", "h2o-prod-compute"}, op: "DescribeStacks"},
	"deploy.sh aws ec2 describe-availability-zones": {match: []string{"describe-availability-zones"}, op: "DescribeAvailabilityZones"},
	"deploy.sh aws cloudwatch describe-alarms":      {match: []string{"describe-alarms"}, op: "DescribeAlarms"},
	"deploy.sh aws cloudwatch get-metric-data": {args: hotfixArgs, setup: hotfixing, beside: besideDeploys,
		match: []string{"get-metric-data"}, op: "GetMetricData"},
	"deploy.sh aws ecs list-service-deployments": {args: hotfixArgs, setup: hotfixing, beside: besideDeploys,
		match: []string{"list-service-deployments"}, op: "ListServiceDeployments"},
	"deploy.sh aws ecs describe-service-deployments": {args: hotfixArgs, setup: hotfixing, beside: besideDeploys,
		match: []string{"describe-service-deployments"}, op: "DescribeServiceDeployments"},
	"deploy.sh aws elbv2 describe-target-health": {args: hotfixArgs, setup: hotfixing,
		match: []string{"describe-target-health"}, op: "DescribeTargetHealth"},
	"deploy.sh aws ecr batch-get-image": {match: []string{"batch-get-image"}, op: "BatchGetImage", goesOn: true},
	"deploy.sh aws ecr describe-images": {match: []string{"describe-images"}, op: "DescribeImages"},
	"deploy.sh aws ecr get-login-password": {match: []string{"get-login-password"}, op: "GetAuthorizationToken",
		setup: func(h *harness) { h.missingImage(0, "imageTag=newsha") }},
	"deploy.sh aws ecs describe-services":        {match: []string{"describe-services"}, op: "DescribeServices"},
	"deploy.sh aws ecs describe-task-definition": {match: []string{"describe-task-definition"}, op: "DescribeTaskDefinition"},
	"deploy.sh aws ecs wait services-stable":     {match: []string{"services-stable"}, op: "DescribeServices"},
	"deploy.sh aws rds describe-db-instances":    {match: []string{"describe-db-instances"}, op: "DescribeDBInstances"},
	"deploy.sh aws rds wait db-instance-available": {match: []string{"db-instance-available"}, op: "DescribeDBInstances",
		setup: func(h *harness) { h.onTimes(1, "aws", []string{"DBInstances[0].DBInstanceStatus"}, "stopped\n", 0) }},
	"deploy.sh aws sts get-caller-identity": {match: []string{"get-caller-identity"}, op: "GetCallerIdentity",
		setup: func(h *harness) { h.env["AWS_ACCOUNT_ID"] = ""; h.missingImage(0, "imageTag=newsha") }},

	"migrate.sh aws cloudformation describe-stacks": {args: []string{"prod"}, match: []string{"describe-stacks"}, op: "DescribeStacks"},
	"migrate.sh aws cloudformation describe-stack-resources": {args: []string{"prod"}, match: []string{"describe-stack-resources"},
		op: "DescribeStackResources", setup: func(h *harness) { stackIs(h, 0, "prod", "compute", "UPDATE_ROLLBACK_FAILED") }},
	"migrate.sh aws ecs describe-task-definition": {args: []string{"prod"}, match: []string{"describe-task-definition"}, op: "DescribeTaskDefinition"},
	"migrate.sh aws ecs describe-tasks":           {args: []string{"prod"}, match: []string{"describe-tasks"}, op: "DescribeTasks"},
	"migrate.sh aws ecs wait tasks-stopped":       {args: []string{"prod"}, match: []string{"tasks-stopped"}, op: "DescribeTasks"},

	"restore.sh aws cloudformation describe-stack-resources": {args: prodData, match: []string{"describe-stack-resources"}, op: "DescribeStackResources"},
	"restore.sh aws cloudformation describe-stacks":          {args: prodData, match: []string{"describe-stacks", "h2o-prod-data"}, op: "DescribeStacks"},
	"restore.sh aws rds describe-db-instance-automated-backups": {args: []string{"prod", "--to", "2026-12-01T10:00:00Z"},
		match: []string{"describe-db-instance-automated-backups"}, op: "DescribeDBInstanceAutomatedBackups"},
	"restore.sh aws rds describe-db-instances":       {args: prodData, match: []string{"describe-db-instances"}, op: "DescribeDBInstances"},
	"restore.sh aws rds wait db-instance-available":  {args: prodData, match: []string{"db-instance-available"}, op: "DescribeDBInstances"},
	"rollback.sh aws cloudformation describe-stacks": {args: []string{"prod"}, match: []string{"describe-stacks", "h2o-prod-compute"}, op: "DescribeStacks"},
	"rollback.sh aws ecr batch-get-image":            {args: []string{"prod"}, match: []string{"batch-get-image"}, op: "BatchGetImage", goesOn: true},
	"rollback.sh aws ecr describe-images":            {args: []string{"prod", "previous-prod"}, match: []string{"describe-images"}, op: "DescribeImages"},
	"rollback.sh aws ecs describe-services":          {args: []string{"prod"}, match: []string{"describe-services"}, op: "DescribeServices"},
	"rollback.sh aws ecs wait services-stable":       {args: []string{"prod"}, match: []string{"services-stable"}, op: "DescribeServices"},
	"rollback.sh aws cloudformation describe-stack-resources": {args: []string{"prod"}, match: []string{"describe-stack-resources"},
		op: "DescribeStackResources", setup: func(h *harness) { stackIs(h, 0, "prod", "compute", "UPDATE_ROLLBACK_FAILED") }},
	// The history: revision 8 of the running family.
	"rollback.sh aws ecs describe-task-definition": {args: []string{"prod"}, match: []string{"describe-task-definition", "h2o-backend-prod:8"}, op: "DescribeTaskDefinition"},

	"drift.sh aws cloudformation describe-stacks": {args: notifyProd, match: []string{"describe-stacks", "h2o-prod-data"}, op: "DescribeStacks",
		setup: driftAnswers},
	"drift.sh aws cloudformation describe-stack-resources": {args: notifyProd, match: []string{"describe-stack-resources", "h2o-prod-compute"},
		op: "DescribeStackResources", setup: driftAnswers},
	"drift.sh aws cloudformation detect-stack-drift": {args: notifyProd, match: []string{"detect-stack-drift", "h2o-prod-edge"},
		op: "DetectStackDrift", setup: driftAnswers},
	"drift.sh aws cloudformation describe-stack-drift-detection-status": {args: notifyProd,
		match: []string{"describe-stack-drift-detection-status"}, op: "DescribeStackDriftDetectionStatus", setup: driftAnswers},
	"drift.sh aws cloudformation describe-stack-resource-drifts": {args: notifyProd, match: []string{"describe-stack-resource-drifts", "h2o-prod-network"},
		op: "DescribeStackResourceDrifts", setup: driftAnswers},

	"versions.sh aws cloudformation describe-stacks": {args: notifyProd, match: []string{"describe-stacks", "h2o-prod-data"}, op: "DescribeStacks",
		setup: prodVersions},
	"versions.sh aws rds describe-db-major-engine-versions": {args: notifyProd, match: []string{"describe-db-major-engine-versions"},
		op: "DescribeDBMajorEngineVersions", setup: prodVersions},
	"versions.sh aws rds describe-db-engine-versions": {args: notifyProd, match: []string{"describe-db-engine-versions"},
		op: "DescribeDBEngineVersions", setup: prodVersions},
	"versions.sh aws rds describe-db-instances": {args: notifyProd, match: []string{"describe-db-instances"}, op: "DescribeDBInstances",
		setup: prodVersions},
	"versions.sh aws rds describe-pending-maintenance-actions": {args: notifyProd, match: []string{"describe-pending-maintenance-actions"},
		op: "DescribePendingMaintenanceActions", setup: prodVersions},
	"versions.sh aws elasticache describe-cache-engine-versions": {args: notifyProd, match: []string{"describe-cache-engine-versions"},
		op: "DescribeCacheEngineVersions", setup: prodVersions},
	"versions.sh aws elasticache describe-replication-groups": {args: notifyProd, match: []string{"describe-replication-groups"},
		op: "DescribeReplicationGroups", setup: prodVersions},
	"versions.sh aws elasticache describe-cache-clusters": {args: notifyProd, match: []string{"describe-cache-clusters"},
		op: "DescribeCacheClusters", setup: prodVersions},
	"versions.sh aws elasticache describe-update-actions": {args: notifyProd, match: []string{"describe-update-actions"},
		op: "DescribeUpdateActions", setup: prodVersions},

	"verify.sh aws rds describe-db-major-engine-versions": {args: []string{"prod"}, match: []string{"describe-db-major-engine-versions"},
		op: "DescribeDBMajorEngineVersions", setup: prodVersions},
	"verify.sh aws rds describe-db-engine-versions": {args: []string{"prod"}, match: []string{"describe-db-engine-versions"},
		op: "DescribeDBEngineVersions", setup: prodVersions},
	"verify.sh aws rds describe-pending-maintenance-actions": {args: []string{"prod"}, match: []string{"describe-pending-maintenance-actions"},
		op: "DescribePendingMaintenanceActions", setup: prodVersions},
	"verify.sh aws elasticache describe-cache-engine-versions": {args: []string{"prod"}, match: []string{"describe-cache-engine-versions"},
		op: "DescribeCacheEngineVersions", setup: prodVersions},
	"verify.sh aws elasticache describe-replication-groups": {args: []string{"prod"}, match: []string{"describe-replication-groups"},
		op: "DescribeReplicationGroups", setup: prodVersions},
	"verify.sh aws elasticache describe-cache-clusters": {args: []string{"prod"}, match: []string{"describe-cache-clusters"},
		op: "DescribeCacheClusters", setup: prodVersions},
	"verify.sh aws elasticache describe-update-actions": {args: []string{"prod"}, match: []string{"describe-update-actions"},
		op: "DescribeUpdateActions", setup: prodVersions},

	"verify.sh aws backup describe-backup-vault":                {args: []string{"prod"}, match: []string{"describe-backup-vault"}, op: "DescribeBackupVault"},
	"verify.sh aws ec2 describe-managed-prefix-lists":           {args: []string{"prod"}, match: []string{"describe-managed-prefix-lists"}, op: "DescribeManagedPrefixLists"},
	"verify.sh aws backup list-recovery-points-by-backup-vault": {args: []string{"prod"}, match: []string{"list-recovery-points-by-backup-vault"}, op: "ListRecoveryPointsByBackupVault"},
	"verify.sh aws cloudformation describe-stack-resources": {args: []string{"prod"}, match: []string{"describe-stack-resources"},
		op: "DescribeStackResources", goesOn: true, setup: func(h *harness) { stackIs(h, 0, "prod", "edge", "UPDATE_ROLLBACK_FAILED") }},
	"verify.sh aws cloudformation describe-stacks":   {args: []string{"prod"}, match: []string{"describe-stacks", "h2o-prod-edge"}, op: "DescribeStacks"},
	"verify.sh aws cloudfront get-distribution":      {args: []string{"prod"}, match: []string{"get-distribution"}, op: "GetDistribution"},
	"verify.sh aws cloudwatch get-metric-statistics": {args: []string{"prod"}, match: []string{"get-metric-statistics"}, op: "GetMetricStatistics"},
	"verify.sh aws ecs describe-services":            {args: []string{"prod"}, match: []string{"describe-services"}, op: "DescribeServices"},
	"verify.sh aws elbv2 describe-target-health":     {args: []string{"prod"}, match: []string{"describe-target-health"}, op: "DescribeTargetHealth"},
	"verify.sh aws rds describe-db-instances":        {args: []string{"prod"}, match: []string{"describe-db-instances"}, op: "DescribeDBInstances"},
	"verify.sh aws secretsmanager describe-secret":   {args: []string{"prod"}, match: []string{"describe-secret"}, op: "DescribeSecret"},
	"verify.sh aws wafv2 get-logging-configuration":  {args: []string{"prod"}, match: []string{"get-logging-configuration"}, op: "GetLoggingConfiguration"},
}

// notifyProd: the nightly scripts as the workflow runs them (a failed read must also keep them from publishing).
var notifyProd = []string{"--notify", "prod"}

// driftAnswers: prod's stacks as their templates say, for the drift check.
func driftAnswers(h *harness) {
	_ = noDrift(h, "prod") // an unresolvable resource fails TestDriftInSync, which says which
}

// prodVersions: AWS supports what prod is configured with.
func prodVersions(h *harness) { currentVersions(h, "prod") }

// isRead: a golden line of a call that only reads (the others change something and are never retried).
func isRead(line string) bool {
	f := strings.Fields(line)
	// detect-: drift detection reads resources and changes none (DetectStackDrift, API reference).
	return f[3] == "wait" || slices.ContainsFunc([]string{"describe-", "get-", "list-", "batch-get-", "detect-"}, func(p string) bool {
		return strings.HasPrefix(f[3], p)
	})
}

func TestEveryAWSReadIsInjectedWithAnError(t *testing.T) {
	t.Parallel()
	var reads []string
	for _, line := range committedGolden(t) {
		if isRead(line) {
			reads = append(reads, line)
			if _, ok := readScenarios[line]; !ok {
				t.Errorf("%s: no scenario in readScenarios injects an error into this read", line)
			}
		}
	}
	if len(reads) < 30 {
		t.Fatalf("only %d reads in %s", len(reads), goldenFile)
	}
	for line := range readScenarios {
		if !slices.Contains(reads, line) {
			t.Errorf("readScenarios has %s, which no script makes (not in %s)", line, goldenFile)
		}
	}
}

func TestAFailedReadIsNeverAnAnswer(t *testing.T) {
	t.Parallel()
	kinds := []func(op string) awsError{accessDenied, expiredToken, noNetwork, throttling, noCredentials}
	lines := slices.Sorted(maps.Keys(readScenarios))
	for i, line := range lines {
		sc := readScenarios[line]
		e := kinds[i%len(kinds)](sc.op)
		script := strings.Fields(line)[0]
		if f := strings.Fields(line); f[3] == "wait" && e.kind != "network" && e.kind != "no credentials" {
			// A waiter reports its describe call's error as "Waiter <Name> failed: An error occurred (<Code>): ...".
			code := errorCode.FindStringSubmatch(e.stderr)[1]
			e = awsError{e.kind, waiterError("Waiter", "An error occurred ("+code+"): "+e.kind).stderr, 255}
		}
		t.Run(line+" ("+e.kind+")", func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.env["IMAGE_TAG"] = "newsha"
			h.env["AWS_READ_ATTEMPTS"] = "2"
			h.env["RESTORE_TARGET"] = restored
			h.env["RESTORE_POLL_DELAY"] = "0"
			h.env["VERIFY_POLL"] = "0"
			h.env["VERIFY_WAIT"] = "1"
			h.failTimes(0, sc.match, e)
			if sc.setup != nil {
				sc.setup(h)
			}
			h.on("aws", []string{"describe-images", "imageTag=previous-prod", "imageDetails[0].imageTags"}, "previous-prod\tsha8\n", 0).
				on("aws", []string{"describe-images"}, "sha256:x\n", 0).
				on("aws", []string{"describe-db-instances", restored}, restoredHost+"\t5432\t"+restoredSecret+"\n", 0).
				on("aws", []string{"describe-db-instances", "h2o-prod-postgres", "DBInstances[0].DBInstanceStatus"}, "available\n", 0).
				on("aws", []string{"describe-db-instances", "h2o-prod-postgres", "DBInstances[0].[BackupRetentionPeriod, LatestRestorableTime, DBInstanceArn]"},
					"7\t2026-12-01T10:00:00+00:00\t"+dbArn("prod")+"\n", 0).
				on("aws", []string{"describe-db-instances", "h2o-prod-postgres"}, "subnets\tsg-1\tpg\t"+dbClassOf("prod")+"\t2026-12-01T12:00:00Z\n", 0).
				on("aws", []string{"describe-db-instance-automated-backups"}, "2026-11-24T12:05:00+00:00\n", 0).
				on("aws", []string{"describe-services", "--cluster", clusterOf("prod"), "services[0].[desiredCount, runningCount, length(deployments), deployments[?status=='PRIMARY'] | [0].rolloutState]"}, "2\t2\t1\tCOMPLETED\n", 0).
				on("aws", []string{"describe-target-health"}, "healthy\n", 0).
				on("aws", []string{"get-distribution"}, out("prod", "edge", "WebAclArn")+"\n", 0).
				on("aws", []string{"get-logging-configuration"}, out("prod", "edge", "WafLogDestination")+"\n", 0).
				on("aws", []string{"get-metric-statistics"}, "1.0\n", 0).
				on("aws", []string{"describe-secret"}, "True\n", 0).
				on("aws", []string{"list-recovery-points-by-backup-vault"}, "3\n", 0)
			revision(h, "prod", 8, "ACTIVE", "sha8")
			args := sc.args
			if args == nil {
				args = []string{"prod"}
			}
			r := deployed(h, "prod", 9, "sha9").run(script, args...)

			failed := -1
			for i, c := range r.calls {
				if c[0] == "aws" && contains(c[1:], sc.match[0]) && filterOne(c, sc.match) {
					failed = i
					break
				}
			}
			if failed < 0 {
				t.Fatalf("the script never made the read %q\n%s", sc.match, r)
			}
			expectStderr(t, r, strings.TrimSpace(strings.Split(strings.TrimSpace(e.stderr), "\n")[0]))
			if sc.goesOn {
				return
			}
			if r.code == 0 {
				t.Fatalf("went on as if the read had answered\n%s", r)
			}
			after := result{calls: slices.DeleteFunc(slices.Clone(r.calls[failed+1:]), func(c []string) bool {
				return slices.ContainsFunc(sc.beside, func(b []string) bool { return slices.Equal(b, c) })
			})}
			if w := writes(after); len(w) > 0 {
				t.Errorf("changed something after the failed read: %q\n%s", w, r)
			}
			if e.kind == "throttling" && strings.Fields(line)[3] != "wait" {
				if n := len(filter(r.calls, sc.match...)); n < 2 {
					t.Errorf("a throttled read was tried %d times, want AWS_READ_ATTEMPTS=2\n%s", n, r)
				}
				expectStderr(t, r, "still throttled after 2 attempts")
			}
		})
	}
}

var errorCode = regexp.MustCompile(`An error occurred \((\w+)\)`)

// filterOne: call c has every one of args.
func filterOne(c []string, args []string) bool { return len(filter([][]string{c}, args...)) == 1 }

// A throttled read that answers on a later attempt is an answer: the script goes on (the case: one
// throttled describe-stacks made deploy.sh take prod for a first deploy).
func TestAThrottledReadIsTriedAgain(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.env["IMAGE_TAG"] = "newsha"
	h.failTimes(2, []string{"describe-stacks", "h2o-prod-compute", "Stacks[0].StackStatus"}, throttling("DescribeStacks")).
		on("aws", []string{"describe-images"}, "sha256:x\n", 0)
	r := deployed(h, "prod", 7, "oldsha").run("deploy.sh", "prod")
	expectCode(t, r, 0)
	expectCalls(t, result{calls: filter(r.calls, "npx")}, cdkDeployStage("prod", "newsha", "oldsha"), cdkDeployService("prod", "newsha"))
	expectStderr(t, r, "throttled by AWS (An error occurred (Throttling) when calling the DescribeStacks operation (reached max retries: 2): Rate exceeded): trying again in 0 s (attempt 1 of 4)",
		"the service runs oldsha now: the rollback target")
}
