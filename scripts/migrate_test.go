package scripts

import (
	"fmt"
	"strings"
	"testing"
)

func migrationTask(stage string) string {
	return "arn:aws:ecs:us-east-1:" + account + ":task/h2o-" + stage + "/0f1e2d"
}

func migrationLogs(stage string) []string {
	return []string{"aws", "ecs", "describe-task-definition", "--region", "us-east-1", "--task-definition", migrationArn(stage),
		"--query", `taskDefinition.containerDefinitions[?name=='backend'] | [0].logConfiguration.options.["awslogs-group", "awslogs-stream-prefix"]`,
		"--output", "text"}
}

// migrateCalls: migrate.sh's calls, with waits rounds of the tasks-stopped waiter.
func migrateCalls(stage string, waits int) [][]string {
	task := migrationTask(stage)
	c := [][]string{
		describeStacks("h2o-" + stage + "-compute"),
		{"aws", "ecs", "run-task", "--region", "us-east-1", "--cluster", "h2o-" + stage, "--launch-type", "FARGATE",
			"--task-definition", migrationArn(stage),
			"--network-configuration", `{"awsvpcConfiguration":{"subnets":["subnet-aaa","subnet-bbb"],"securityGroups":["sg-0123"],"assignPublicIp":"DISABLED"}}`,
			"--started-by", "h2o-migrate", "--query", "tasks[0].taskArn", "--output", "text"},
		migrationLogs(stage),
	}
	for i := 0; i < waits; i++ {
		c = append(c, []string{"aws", "ecs", "wait", "tasks-stopped", "--region", "us-east-1",
			"--cluster", "h2o-" + stage, "--tasks", task})
	}
	return append(c, []string{"aws", "ecs", "describe-tasks", "--region", "us-east-1", "--cluster", "h2o-" + stage,
		"--tasks", task, "--query", "tasks[0].[stoppedReason, containers[?name=='backend'] | [0].exitCode]",
		"--output", "text"})
}

func migrateHarness(t *testing.T, stage, describeTasks string) *harness {
	return newHarness(t).
		on("aws", []string{"describe-stacks", "h2o-" + stage + "-compute"}, computeOutputs(stage), 0).
		on("aws", []string{"run-task"}, migrationTask(stage)+"\n", 0).
		on("aws", []string{"describe-tasks"}, describeTasks, 0)
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
		onTimes(1, "aws", []string{"tasks-stopped"}, "", 255) // the waiter gave up once
	r := h.run("migrate.sh", "dev")
	expectCode(t, r, 1)
	expectCalls(t, r, migrateCalls("dev", 2)...)
	if !strings.Contains(r.stderr, "CannotPullContainerError") {
		t.Errorf("the stopped reason is not shown\n%s", r)
	}
}

func TestMigrateGivesUpWithAStopHint(t *testing.T) {
	t.Parallel()
	h := migrateHarness(t, "dev", "").on("aws", []string{"tasks-stopped"}, "", 255)
	h.env["MIGRATE_WAIT_ROUNDS"] = "2"
	r := h.run("migrate.sh", "dev")
	expectCode(t, r, 1)
	if len(r.calls) != 5 || !strings.Contains(r.stderr, "aws ecs stop-task --region us-east-1 --cluster h2o-dev --task "+migrationTask("dev")) {
		t.Fatalf("want two waits, then a stop-task hint with --region\n%s", r)
	}
}

func TestMigrateNoTaskStarted(t *testing.T) {
	t.Parallel()
	h := newHarness(t).
		on("aws", []string{"describe-stacks"}, computeOutputs("dev"), 0).
		on("aws", []string{"run-task"}, "None\n", 0)
	r := h.run("migrate.sh", "dev")
	expectCode(t, r, 1)
	if len(r.calls) != 2 {
		t.Fatalf("want no wait after a failed run-task\n%s", r)
	}
}

// The log hints name the task's own stream, with --region, for CLI v1 (get-log-events) and v2 (logs tail).
func TestMigrateLogHintsWorkOnBothCLIs(t *testing.T) {
	t.Parallel()
	h := migrateHarness(t, "dev", "Essential container in task exited\t0\n").
		on("aws", []string{"describe-task-definition"}, "/aws/ecs/h2o-backend-dev\tmigrate\n", 0)
	r := h.run("migrate.sh", "dev")
	expectCode(t, r, 0)
	for _, want := range []string{
		"aws logs get-log-events --region us-east-1 --log-group-name /aws/ecs/h2o-backend-dev --log-stream-name migrate/backend/0f1e2d --query 'events[].message' --output text",
		"CLI v2: aws logs tail /aws/ecs/h2o-backend-dev --region us-east-1 --log-stream-names migrate/backend/0f1e2d --follow",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("missing hint %q\n%s", want, r)
		}
	}
	// Without the task definition's log settings: the stack's log group, from the task's start.
	r = migrateHarness(t, "dev", "Essential container in task exited\t0\n").run("migrate.sh", "dev")
	for _, want := range []string{
		"aws logs filter-log-events --region us-east-1 --log-group-name /aws/ecs/h2o-backend-dev --start-time ",
		"CLI v2: aws logs tail /aws/ecs/h2o-backend-dev --region us-east-1 --since 15m --follow",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("missing hint %q\n%s", want, r)
		}
	}
}

// A compute stack without the migration task definition (deployed by an older app) is a clear failure.
func TestMigrateNeedsTheMigrationTaskDefinition(t *testing.T) {
	t.Parallel()
	legacy := strings.Split(computeOutputs("dev"), "MigrationTaskDefinitionArn")[0]
	r := newHarness(t).on("aws", []string{"describe-stacks"}, legacy, 0).run("migrate.sh", "dev")
	expectCode(t, r, 1)
	if len(r.calls) != 1 || !strings.Contains(r.stderr, "stack output 'MigrationTaskDefinitionArn' not found") {
		t.Fatalf("unclear failure\n%s", r)
	}
}
