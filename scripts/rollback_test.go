package scripts

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// scan: the history look-ups of revisions from down to to (newest first).
func scan(from, to int) [][]string {
	var c [][]string
	for r := from; r >= to; r-- {
		c = append(c, describeTaskDef(fmt.Sprintf("%s:%d", family, r)))
	}
	return c
}

// revision: the history answers revision rev of the family with that status and image tag.
func revision(h *harness, rev int, status, tag string) *harness {
	return h.on("aws", []string{"describe-task-definition", fmt.Sprintf("%s:%d", family, rev)},
		status+"\t"+imageOf(tag)+"\n", 0)
}

// history: revisions 9 (running, sha9), 8 (sha9 again: a config-only change) and 7 (sha7, still ACTIVE).
func history(h *harness, stage string) *harness {
	revision(h, 8, "INACTIVE", "sha9")
	revision(h, 7, "ACTIVE", "sha7")
	return deployed(h, stage, 9, "sha9")
}

func updateService(stage, td string) []string {
	return []string{"aws", "ecs", "update-service", "--region", "us-east-1", "--cluster", "h2o-" + stage,
		"--service", "h2o-backend-service", "--task-definition", td, "--query", "service.taskDefinition", "--output", "text"}
}

func describeForRegister(td string) []string {
	return []string{"aws", "ecs", "describe-task-definition", "--region", "us-east-1", "--task-definition", td,
		"--include", "TAGS", "--output", "json"}
}

func register(input string) []string {
	return []string{"aws", "ecs", "register-task-definition", "--region", "us-east-1",
		"--cli-input-json", "file://" + input, "--query", "taskDefinition.taskDefinitionArn", "--output", "text"}
}

// start: rollback.sh's first three calls.
func start(stage string, rev int) [][]string {
	return calls(describeStacks("h2o-"+stage+"-compute"), describeServices(stage), describeTaskDef(taskDefArn(rev)))
}

// finish: wait, smoke test, ECR tags.
func finish(stage, from, to string) [][]string {
	return join(calls(waitStable(stage), describeStacks("h2o-"+stage+"-edge"), curlHealth()), moveTags(stage, from, to))
}

func TestRollbackFindsPreviousTag(t *testing.T) {
	t.Parallel()
	h := history(newHarness(t), "dev")
	r := h.run("rollback.sh", "dev")
	expectCode(t, r, 0)
	expectCalls(t, r, join(
		start("dev", 9),
		scan(8, 1),
		calls(ecrDescribe("sha7"), cdkDeployService("dev", "sha7")),
		finish("dev", "sha9", "sha7"),
	)...)
}

func TestRollbackSearchDepth(t *testing.T) {
	t.Parallel()
	h := history(newHarness(t), "dev")
	h.env["ROLLBACK_SEARCH_DEPTH"] = "1"
	r := h.run("rollback.sh", "dev")
	expectCode(t, r, 1)
	expectCalls(t, r, join(start("dev", 9), scan(8, 8))...)
	if !strings.Contains(r.stderr, "no earlier image than sha9 in the last 1 revisions") {
		t.Errorf("unclear error\n%s", r)
	}
}

func TestRollbackGivenTag(t *testing.T) {
	t.Parallel()
	h := history(newHarness(t), "prod")
	r := h.run("rollback.sh", "prod", "sha5")
	expectCode(t, r, 0)
	expectCalls(t, r, join(
		start("prod", 9),
		calls(ecrDescribe("sha5"), cdkDeployService("prod", "sha5")),
		finish("prod", "sha9", "sha5"),
	)...)
}

func TestRollbackUnknownTagStopsBeforeDeploying(t *testing.T) {
	t.Parallel()
	h := history(newHarness(t), "dev").missingImage(0)
	r := h.run("rollback.sh", "dev", "nosuchtag")
	expectCode(t, r, 1)
	if len(filter(r.calls, "npx")) != 0 || !strings.Contains(r.stderr, "image tag nosuchtag is not in ECR") {
		t.Fatalf("deployed a missing image, or unclear error\n%s", r)
	}
}

// After --, every argument is the stage or the tag (the rollback workflow passes its inputs that way): a tag that
// looks like an option is refused before any AWS call instead of being obeyed.
func TestRollbackEndOfOptions(t *testing.T) {
	t.Parallel()
	for _, tag := range []string{"--emergency", "-h"} {
		r := history(newHarness(t), "dev").run("rollback.sh", "--", "dev", tag)
		expectCode(t, r, 2)
		expectCalls(t, r)
		if !strings.Contains(r.stderr, "'"+tag+"' is not a valid image tag") {
			t.Errorf("tag %s: unclear error\n%s", tag, r)
		}
	}
	r := history(newHarness(t), "prod").run("rollback.sh", "--emergency", "--", "prod", "sha7")
	expectCode(t, r, 0)
	expectCalls(t, r, join(start("prod", 9), scan(8, 1), calls(updateService("prod", family+":7")), finish("prod", "sha9", "sha7"))...)
}

func TestRollbackNothingEarlier(t *testing.T) {
	t.Parallel()
	h := revision(newHarness(t), 1, "INACTIVE", "sha2")
	deployed(h, "dev", 2, "sha2")
	r := h.run("rollback.sh", "dev")
	expectCode(t, r, 1)
	if len(filter(r.calls, "npx")) != 0 || !strings.Contains(r.stderr, "pass <image-tag>") {
		t.Fatalf("want a clear error\n%s", r)
	}
}

// Newest first: r11 A (running), r10 B, r9 A, r8 Z. r10 was rolled away from (r11 is the rollback's copy of an
// A revision), so "previous" is what ran before A was first deployed: Z, by either path.
func TestRollbackSecondRollbackDoesNotReturnToTheBadImage(t *testing.T) {
	t.Parallel()
	for _, emergency := range []bool{false, true} {
		h := newHarness(t)
		revision(h, 10, "ACTIVE", "shaB")
		revision(h, 9, "INACTIVE", "shaA")
		revision(h, 8, "ACTIVE", "shaZ")
		deployed(h, "prod", 11, "shaA").on("aws", []string{"describe-images"}, "sha256:z\n", 0)
		args := []string{"prod"}
		if emergency {
			args = []string{"--emergency", "prod"}
		}
		r := h.run("rollback.sh", args...)
		expectCode(t, r, 0)
		apply := calls(ecrDescribe("shaZ"), cdkDeployService("prod", "shaZ"))
		if emergency {
			apply = calls(updateService("prod", family+":8"))
		}
		expectCalls(t, r, join(start("prod", 11), scan(10, 1), apply, finish("prod", "shaA", "shaZ"))...)
	}
}

func TestRollbackEmergencyUpdatesServiceDirectly(t *testing.T) {
	t.Parallel()
	h := history(newHarness(t), "prod")
	r := h.run("rollback.sh", "--emergency", "prod")
	expectCode(t, r, 0)
	expectCalls(t, r, join(
		start("prod", 9),
		scan(8, 1),
		calls(updateService("prod", family+":7")),
		finish("prod", "sha9", "sha7"),
	)...)
	if !strings.Contains(r.stderr, "WARNING") || !strings.Contains(r.stderr, "drifts from stack h2o-prod-compute") {
		t.Errorf("no drift warning\n%s", r)
	}
}

func needJQ(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("jq"); err != nil {
		t.Skip("jq not installed")
	}
}

// An INACTIVE revision is registered again, without its read-only fields, with its own tags (not aws:* ones).
func TestRollbackEmergencyRegistersInactiveRevisionAgain(t *testing.T) {
	t.Parallel()
	needJQ(t)
	h := newHarness(t).
		on("aws", []string{"describe-task-definition", family + ":8", "--include", "TAGS"},
			`{"taskDefinition":{"taskDefinitionArn":"x","family":"`+family+`","revision":8,"status":"INACTIVE","cpu":"1024",`+
				`"registeredAt":1,"registeredBy":"arn","deregisteredAt":2,"compatibilities":["FARGATE"]},`+
				`"tags":[{"key":"Stage","value":"dev"},{"key":"aws:cloudformation:stack-name","value":"h2o-dev-compute"}]}`, 0).
		on("aws", []string{"register-task-definition"}, taskDefArn(10)+"\n", 0)
	revision(h, 8, "INACTIVE", "sha8")
	deployed(h, "dev", 9, "sha9")
	r := h.run("rollback.sh", "dev", "sha8", "--emergency")
	expectCode(t, r, 0)
	expectCalls(t, r, join(
		start("dev", 9),
		scan(8, 1),
		calls(describeForRegister(family+":8"),
			register(`{"family":"`+family+`","cpu":"1024","tags":[{"key":"Stage","value":"dev"}]}`),
			updateService("dev", taskDefArn(10))),
		finish("dev", "sha9", "sha8"),
	)...)
}

// A revision being deleted cannot be an update-service target: the image's definition is registered again, from
// the next older revision that runs it, or from the one being deleted (deleteRequestedAt stripped with the other
// read-only fields) when no other does.
func TestRollbackEmergencyRegistersAroundRevisionsBeingDeleted(t *testing.T) {
	needJQ(t)
	for _, tc := range []struct {
		name     string
		from     int    // the revision whose definition is registered again
		describe string // what describe-task-definition says of it
		older    bool   // whether an INACTIVE revision 8 runs the image too
	}{
		{"skips a revision being deleted", 8,
			`{"taskDefinition":{"family":"` + family + `","status":"INACTIVE","cpu":"1024"}}`, true},
		{"registers a revision being deleted", 9,
			`{"taskDefinition":{"family":"` + family + `","revision":9,"status":"DELETE_IN_PROGRESS","cpu":"1024",` +
				`"deregisteredAt":2,"deleteRequestedAt":3},"tags":[]}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// GIVEN revision 9 of shaA is being deleted and revision 10 runs shaB
			from := fmt.Sprintf("%s:%d", family, tc.from)
			h := newHarness(t).
				on("aws", []string{"describe-task-definition", from, "--include", "TAGS"}, tc.describe, 0).
				on("aws", []string{"register-task-definition"}, taskDefArn(11)+"\n", 0)
			revision(h, 9, "DELETE_IN_PROGRESS", "shaA")
			if tc.older {
				revision(h, 8, "INACTIVE", "shaA")
			}
			deployed(h, "dev", 10, "shaB")
			// WHEN an emergency rollback runs
			r := h.run("rollback.sh", "--emergency", "dev")
			// THEN shaA runs again from a new revision 11 registered from the chosen one
			expectCode(t, r, 0)
			expectCalls(t, r, join(
				start("dev", 10),
				scan(9, 1),
				calls(describeForRegister(from),
					register(`{"family":"`+family+`","cpu":"1024"}`),
					updateService("dev", taskDefArn(11))),
				finish("dev", "shaB", "shaA"),
			)...)
		})
	}
}

func TestRollbackFailureHintsCarryTheRegion(t *testing.T) {
	t.Parallel()
	h := history(newHarness(t), "dev").on("aws", []string{"services-stable"}, "", 255)
	r := h.run("rollback.sh", "dev", "sha7")
	expectCode(t, r, 1)
	for _, want := range []string{
		"aws ecs describe-services --region us-east-1 --cluster h2o-dev --services h2o-backend-service --query 'services[0].events[:10].[createdAt,message]' --output text",
		"aws cloudformation describe-stack-events --region us-east-1 --stack-name h2o-dev-compute --max-items 20",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("missing hint %q\n%s", want, r)
		}
	}
	if len(filter(r.calls, "curl")) != 0 {
		t.Errorf("smoke-tested an unstable service\n%s", r)
	}
}
