package scripts

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// scan: the history look-ups of revisions from down to to (newest first).
func scan(stage string, from, to int) [][]string {
	var c [][]string
	for r := from; r >= to; r-- {
		c = append(c, describeTaskDef(stage, fmt.Sprintf("%s:%d", familyOf(stage), r)))
	}
	return c
}

// revision: the history answers revision rev of the stage's family with that status and image tag.
func revision(h *harness, stage string, rev int, status, tag string) *harness {
	return h.on("aws", []string{"describe-task-definition", fmt.Sprintf("%s:%d", familyOf(stage), rev)},
		status+"\t"+imageOf(tag)+"\n", 0)
}

// deletedRevision: ECS no longer has revision rev (DescribeTaskDefinition's answer for a deleted one).
func deletedRevision(h *harness, stage string, rev int) *harness {
	return h.failTimes(0, []string{"describe-task-definition", fmt.Sprintf("%s:%d", familyOf(stage), rev)},
		cliError("absent", "ClientException", "DescribeTaskDefinition", "Unable to describe task definition."))
}

// history: revisions 9 (running, sha9), 8 (sha9 again: a config-only change) and 7 (sha7, still ACTIVE).
func history(h *harness, stage string) *harness {
	revision(h, stage, 8, "INACTIVE", "sha9")
	revision(h, stage, 7, "ACTIVE", "sha7")
	return deployed(h, stage, 9, "sha9")
}

func updateService(stage, td string) []string {
	return []string{"aws", "ecs", "update-service", "--region", "us-east-1", "--cluster", clusterOf(stage),
		"--service", serviceOf(stage), "--task-definition", td, "--query", "service.taskDefinition", "--output", "text"}
}

func describeForRegister(td string) []string {
	return []string{"aws", "ecs", "describe-task-definition", "--region", "us-east-1", "--task-definition", td,
		"--include", "TAGS", "--output", "json"}
}

func register(input string) []string {
	return []string{"aws", "ecs", "register-task-definition", "--region", "us-east-1",
		"--cli-input-json", "file://" + input, "--query", "taskDefinition.taskDefinitionArn", "--output", "text"}
}

// start: rollback.sh's first look: the compute and edge stacks, and what the service runs (revision rev).
func start(stage string, rev int) [][]string {
	return join(openCalls(stage, "compute", "edge"),
		calls(describeServices(stage), describeTaskDef(stage, taskDefArn(stage, rev))))
}

// finish: wait, smoke test, ECR tags.
func finish(stage, from, to string) [][]string {
	return join(calls(waitStable(stage), curlHealth(stage)), moveTags(stage, from, to))
}

func TestRollbackFindsPreviousTag(t *testing.T) {
	t.Parallel()
	h := history(newHarness(t), "dev")
	r := h.run("rollback.sh", "dev")
	expectCode(t, r, 0)
	expectCalls(t, r, join(
		start("dev", 9),
		scan("dev", 8, 1),
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
	expectCalls(t, r, join(start("dev", 9), scan("dev", 8, 8))...)
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
	expectCalls(t, r, join(start("prod", 9), scan("prod", 8, 1), calls(updateService("prod", familyOf("prod")+":7")), finish("prod", "sha9", "sha7"))...)
}

func TestRollbackNothingEarlier(t *testing.T) {
	t.Parallel()
	h := revision(newHarness(t), "dev", 1, "INACTIVE", "sha2")
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
		revision(h, "prod", 10, "ACTIVE", "shaB")
		revision(h, "prod", 9, "INACTIVE", "shaA")
		revision(h, "prod", 8, "ACTIVE", "shaZ")
		deployed(h, "prod", 11, "shaA").on("aws", []string{"describe-images"}, "sha256:z\n", 0)
		args := []string{"prod"}
		if emergency {
			args = []string{"--emergency", "prod"}
		}
		r := h.run("rollback.sh", args...)
		expectCode(t, r, 0)
		apply := calls(ecrDescribe("shaZ"), cdkDeployService("prod", "shaZ"))
		if emergency {
			apply = calls(updateService("prod", familyOf("prod")+":8"))
		}
		expectCalls(t, r, join(start("prod", 11), scan("prod", 10, 1), apply, finish("prod", "shaA", "shaZ"))...)
	}
}

func TestRollbackEmergencyUpdatesServiceDirectly(t *testing.T) {
	t.Parallel()
	h := history(newHarness(t), "prod")
	r := h.run("rollback.sh", "--emergency", "prod")
	expectCode(t, r, 0)
	expectCalls(t, r, join(
		start("prod", 9),
		scan("prod", 8, 1),
		calls(updateService("prod", familyOf("prod")+":7")),
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
		on("aws", []string{"describe-task-definition", familyOf("dev") + ":8", "--include", "TAGS"},
			`{"taskDefinition":{"taskDefinitionArn":"x","family":"`+familyOf("dev")+`","revision":8,"status":"INACTIVE","cpu":"1024",`+
				`"registeredAt":1,"registeredBy":"arn","deregisteredAt":2,"compatibilities":["FARGATE"]},`+
				`"tags":[{"key":"Stage","value":"dev"},{"key":"aws:cloudformation:stack-name","value":"h2o-dev-compute"}]}`, 0).
		on("aws", []string{"register-task-definition"}, taskDefArn("dev", 10)+"\n", 0)
	revision(h, "dev", 8, "INACTIVE", "sha8")
	deployed(h, "dev", 9, "sha9")
	r := h.run("rollback.sh", "dev", "sha8", "--emergency")
	expectCode(t, r, 0)
	expectCalls(t, r, join(
		start("dev", 9),
		scan("dev", 8, 1),
		calls(describeForRegister(familyOf("dev")+":8"),
			register(`{"family":"`+familyOf("dev")+`","cpu":"1024","tags":[{"key":"Stage","value":"dev"}]}`),
			updateService("dev", taskDefArn("dev", 10))),
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
			`{"taskDefinition":{"family":"` + familyOf("dev") + `","status":"INACTIVE","cpu":"1024"}}`, true},
		{"registers a revision being deleted", 9,
			`{"taskDefinition":{"family":"` + familyOf("dev") + `","revision":9,"status":"DELETE_IN_PROGRESS","cpu":"1024",` +
				`"deregisteredAt":2,"deleteRequestedAt":3},"tags":[]}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// GIVEN revision 9 of shaA is being deleted and revision 10 runs shaB
			from := fmt.Sprintf("%s:%d", familyOf("dev"), tc.from)
			h := newHarness(t).
				on("aws", []string{"describe-task-definition", from, "--include", "TAGS"}, tc.describe, 0).
				on("aws", []string{"register-task-definition"}, taskDefArn("dev", 11)+"\n", 0)
			revision(h, "dev", 9, "DELETE_IN_PROGRESS", "shaA")
			if tc.older {
				revision(h, "dev", 8, "INACTIVE", "shaA")
			}
			deployed(h, "dev", 10, "shaB")
			// WHEN an emergency rollback runs
			r := h.run("rollback.sh", "--emergency", "dev")
			// THEN shaA runs again from a new revision 11 registered from the chosen one
			expectCode(t, r, 0)
			expectCalls(t, r, join(
				start("dev", 10),
				scan("dev", 9, 1),
				calls(describeForRegister(from),
					register(`{"family":"`+familyOf("dev")+`","cpu":"1024"}`),
					updateService("dev", taskDefArn("dev", 11))),
				finish("dev", "shaB", "shaA"),
			)...)
		})
	}
}

func TestRollbackFailureHintsCarryTheRegion(t *testing.T) {
	t.Parallel()
	h := history(newHarness(t), "dev").failTimes(0, []string{"services-stable"},
		waiterError("ServicesStable", "Max attempts exceeded"))
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

// A revision ECS no longer has (deleted) is skipped; the history reads on past it.
func TestRollbackSkipsADeletedRevision(t *testing.T) {
	t.Parallel()
	h := deletedRevision(newHarness(t), "dev", 8)
	revision(h, "dev", 7, "ACTIVE", "sha7")
	r := deployed(h, "dev", 9, "sha9").run("rollback.sh", "dev")
	expectCode(t, r, 0)
	expectCalls(t, r, join(start("dev", 9), scan("dev", 8, 1),
		calls(ecrDescribe("sha7"), cdkDeployService("dev", "sha7")), finish("dev", "sha9", "sha7"))...)
}

// A revision that cannot be read is never skipped: once throttled it is read again, and when it stays unreadable
// the rollback stops. History r11 shaA (running), r10 shaB, r9 shaA, r8 shaZ: skipping r9 would hide that shaA ran
// before shaB, and the rollback would go to shaB, the release already rolled away from, instead of shaZ.
func TestRollbackNeverSkipsARevisionItCannotRead(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		times int
		code  int
	}{{"throttled once", 1, 0}, {"throttled beyond the retries", 0, 1}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t).failTimes(c.times, []string{"describe-task-definition", familyOf("prod") + ":9"},
				throttling("DescribeTaskDefinition"))
			revision(h, "prod", 10, "ACTIVE", "shaB")
			revision(h, "prod", 9, "INACTIVE", "shaA")
			revision(h, "prod", 8, "ACTIVE", "shaZ")
			deployed(h, "prod", 11, "shaA").on("aws", []string{"describe-images"}, "sha256:z\n", 0)
			r := h.run("rollback.sh", "prod")
			expectCode(t, r, c.code)
			if c.code == 0 {
				expectCalls(t, result{calls: filter(r.calls, "npx")}, cdkDeployService("prod", "shaZ"))
				return
			}
			if len(filter(r.calls, "npx")) != 0 || len(filter(r.calls, familyOf("prod")+":9")) != 4 {
				t.Errorf("want 4 attempts at revision 9, then a stop before any deploy\n%s", r)
			}
			expectStderr(t, r, "(Throttling)", "cannot read revision 9 of "+familyOf("prod")+" (the AWS CLI's error is above): stopped rather than skip it")
		})
	}
}

// A marker tag is resolved to the image it names before anything is deployed: `rollback.sh prod previous-prod`
// deploys that image's own tag, and the markers then move as for any rollback.
func TestRollbackResolvesAMarkerTag(t *testing.T) {
	t.Parallel()
	h := history(newHarness(t), "prod").
		on("aws", []string{"describe-images", "imageTag=previous-prod", "imageDetails[0].imageTags"}, "previous-prod\tsha7\n", 0).
		on("aws", []string{"describe-images"}, "sha256:7\n", 0)
	r := h.run("rollback.sh", "prod", "previous-prod")
	expectCode(t, r, 0)
	expectCalls(t, r, join(
		calls(ecrTagsOf("previous-prod")),
		start("prod", 9),
		calls(ecrDescribe("sha7"), cdkDeployService("prod", "sha7")),
		finish("prod", "sha9", "sha7"),
	)...)
}

// A marker tag that names no image, an image without a tag of its own, or one with several stops before any
// deploy; so does an empty tag argument, as a usage error.
func TestRollbackRefusesWhatIsNoImageTag(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, answer string
		missing      bool
		want         string
	}{
		{"no image", "", true, "the marker tag live-prod names no image in ECR repository h2o-backend"},
		{"markers only", "live-prod\tprevious-dev\n", false, "names an image with no tag of its own"},
		{"two tags", "live-prod\tsha7\tv1.2\n", false, "names an image with several tags (sha7 v1.2)"},
	} {
		h := newHarness(t)
		if c.missing {
			h.missingImage(0)
		} else {
			h.on("aws", []string{"describe-images", "imageTag=live-prod"}, c.answer, 0)
		}
		r := history(h, "prod").run("rollback.sh", "prod", "live-prod")
		expectCode(t, r, 1)
		expectCalls(t, r, ecrTagsOf("live-prod"))
		expectStderr(t, r, c.want)
	}
	r := history(newHarness(t), "prod").run("rollback.sh", "--", "prod", "")
	expectCode(t, r, 2)
	expectCalls(t, r)
	expectStderr(t, r, "empty <image-tag>")
}
