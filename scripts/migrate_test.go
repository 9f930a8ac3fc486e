package scripts

import (
	"fmt"
	"strings"
	"testing"
)

func migrationTask(stage string) string {
	return "arn:aws:ecs:us-east-1:" + account + ":task/" + clusterOf(stage) + "/0f1e2d"
}

func migrationLogs(stage string) []string {
	return []string{"aws", "ecs", "describe-task-definition", "--region", "us-east-1", "--task-definition", migrationArn(stage),
		"--query", `taskDefinition.containerDefinitions[?name=='` + containerOf(stage) + `'] | [0].logConfiguration.options.["awslogs-group", "awslogs-stream-prefix"]`,
		"--output", "text"}
}

// networkOf: run-task's --network-configuration for a stage, from its compute stack's outputs.
func networkOf(stage string) string {
	list := func(csv string) string { return `["` + strings.ReplaceAll(csv, ",", `","`) + `"]` }
	return `{"awsvpcConfiguration":{"subnets":` + list(out(stage, "compute", "TaskSubnetIds")) +
		`,"securityGroups":` + list(out(stage, "compute", "TaskSecurityGroupId")) +
		`,"assignPublicIp":"` + out(stage, "compute", "AssignPublicIp") + `"}}`
}

// migrateCalls: migrate.sh's calls, with waits rounds of the tasks-stopped waiter.
func migrateCalls(stage string, waits int) [][]string {
	task := migrationTask(stage)
	c := join(openCalls(stage, "compute"), calls(
		migrationLogs(stage),
		[]string{"aws", "ecs", "run-task", "--region", "us-east-1", "--cluster", clusterOf(stage), "--launch-type", "FARGATE",
			"--task-definition", migrationArn(stage), "--network-configuration", networkOf(stage),
			"--started-by", "h2o-migrate", "--query", "tasks[0].taskArn", "--output", "text"}))
	for i := 0; i < waits; i++ {
		c = append(c, []string{"aws", "ecs", "wait", "tasks-stopped", "--region", "us-east-1",
			"--cluster", clusterOf(stage), "--tasks", task})
	}
	return append(c, []string{"aws", "ecs", "describe-tasks", "--region", "us-east-1", "--cluster", clusterOf(stage),
		"--tasks", task, "--query", "tasks[0].[stoppedReason, containers[?name=='" + containerOf(stage) + "'] | [0].exitCode]",
		"--output", "text"})
}

// migrateHarness: a deployed stage whose migration task stops with describeTasks ("<reason>\t<exit code>"); the
// rules of overrides win over the deployed stage's.
func migrateHarness(t *testing.T, stage, describeTasks string, overrides ...func(h *harness)) *harness {
	h := newHarness(t)
	for _, o := range overrides {
		o(h)
	}
	h.on("aws", []string{"describe-tasks"}, describeTasks, 0)
	return deployed(h, stage, 1, "sha1")
}

func TestMigrateExitsWithContainerCode(t *testing.T) {
	t.Parallel()
	for _, code := range []int{0, 3} {
		h := migrateHarness(t, "prod", fmt.Sprintf("Essential container in task exited\t%d\n", code))
		r := h.run("migrate.sh", "prod")
		expectCode(t, r, code)
		expectCalls(t, r, migrateCalls("prod", 1)...)
	}
}

func TestMigrateWaitsAgainAndReportsContainerThatNeverRan(t *testing.T) {
	t.Parallel()
	h := migrateHarness(t, "dev", "CannotPullContainerError: pull image manifest has been retried\tNone\n").
		failTimes(1, []string{"tasks-stopped"}, waiterError("TasksStopped", "Max attempts exceeded")) // the waiter gave up once
	r := h.run("migrate.sh", "dev")
	expectCode(t, r, 1)
	expectCalls(t, r, migrateCalls("dev", 2)...)
	if !strings.Contains(r.stderr, "CannotPullContainerError") {
		t.Errorf("the stopped reason is not shown\n%s", r)
	}
}

func TestMigrateGivesUpWithAStopHint(t *testing.T) {
	t.Parallel()
	h := migrateHarness(t, "dev", "").failTimes(0, []string{"tasks-stopped"}, waiterError("TasksStopped", "Max attempts exceeded"))
	h.env["MIGRATE_WAIT_ROUNDS"] = "2"
	r := h.run("migrate.sh", "dev")
	expectCode(t, r, 1)
	if len(filter(r.calls, "tasks-stopped")) != 2 || len(filter(r.calls, "describe-tasks")) != 0 ||
		!strings.Contains(r.stderr, "aws ecs stop-task --region us-east-1 --cluster h2o-dev --task "+migrationTask("dev")) {
		t.Fatalf("want two waits, then a stop-task hint with --region\n%s", r)
	}
}

func TestMigrateNoTaskStarted(t *testing.T) {
	t.Parallel()
	h := migrateHarness(t, "dev", "", func(h *harness) { h.on("aws", []string{"run-task"}, "None\n", 0) })
	r := h.run("migrate.sh", "dev")
	expectCode(t, r, 1)
	expectCalls(t, r, migrateCalls("dev", 0)[:4]...)
}

// The log hints name the task's own stream, with --region, for CLI v1 (get-log-events) and v2 (logs tail).
func TestMigrateLogHintsWorkOnBothCLIs(t *testing.T) {
	t.Parallel()
	h := migrateHarness(t, "dev", "Essential container in task exited\t0\n", func(h *harness) {
		h.on("aws", []string{"describe-task-definition", migrationArn("dev")}, out("dev", "compute", "LogGroupName")+"\tmigrate\n", 0)
	})
	r := h.run("migrate.sh", "dev")
	expectCode(t, r, 0)
	for _, want := range []string{
		"aws logs get-log-events --region us-east-1 --log-group-name " + out("dev", "compute", "LogGroupName") + " --log-stream-name migrate/backend/0f1e2d --query 'events[].message' --output text",
		"CLI v2: aws logs tail " + out("dev", "compute", "LogGroupName") + " --region us-east-1 --log-stream-names migrate/backend/0f1e2d --follow",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("missing hint %q\n%s", want, r)
		}
	}
	// Without the task definition's log settings: the stack's log group, from the task's start.
	r = migrateHarness(t, "dev", "Essential container in task exited\t0\n").run("migrate.sh", "dev")
	for _, want := range []string{
		"aws logs filter-log-events --region us-east-1 --log-group-name " + out("dev", "compute", "LogGroupName") + " --start-time ",
		"CLI v2: aws logs tail " + out("dev", "compute", "LogGroupName") + " --region us-east-1 --since 15m --follow",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("missing hint %q\n%s", want, r)
		}
	}
}

// A compute stack without the migration task definition (deployed by an older app) is a clear failure.
func TestMigrateNeedsTheMigrationTaskDefinition(t *testing.T) {
	t.Parallel()
	legacy := without(describeStacksAnswer("dev", "compute"), "MigrationTaskDefinitionArn")
	r := migrateHarness(t, "dev", "", func(h *harness) {
		h.on("aws", []string{"describe-stacks", "Stacks[0].Outputs[].[OutputKey,OutputValue]"}, legacy, 0)
	}).run("migrate.sh", "dev")
	expectCode(t, r, 1)
	expectCalls(t, r, openCalls("dev", "compute")...)
	expectStderr(t, r, "stack h2o-dev-compute has no output 'MigrationTaskDefinitionArn'")
}
