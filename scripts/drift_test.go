package scripts

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"h2o-infra/config"
)

// The drift check's fakes come from the app: each stack's resources are the synthesized template's (physical IDs
// as Ref resolves them), and the differences CloudFormation reports are built from the rules drift.sh reads
// (scripts/drift-rules.txt, generated from the templates by the stacks' tests).

// driftRules is scripts/drift-rules.txt: the checked types and the expected differences.
type driftRules struct {
	checked map[string]bool
	expects []driftExpect
}

type driftExpect struct{ stack, id, path, difference, mention string }

func readDriftRules(t *testing.T) driftRules {
	t.Helper()
	raw, err := os.ReadFile("drift-rules.txt")
	if err != nil {
		t.Fatal(err)
	}
	r := driftRules{checked: map[string]bool{}}
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Split(line, "\t")
		switch f[0] {
		case "check":
			r.checked[f[1]] = true
		case "expect":
			r.expects = append(r.expects, driftExpect{f[1], f[2], f[3], f[4], f[5]})
		}
	}
	if len(r.checked) < 20 || len(r.expects) < 4 {
		t.Fatalf("drift-rules.txt: %d checked types, %d expected differences: not the generated file?", len(r.checked), len(r.expects))
	}
	return r
}

// driftStack is one stack drift.sh checks: its name and template.
func driftStack(stage, layer string) *appStack {
	if stage == "ci" {
		return ciApp
	}
	return app[stage][layer]
}

// driftTargets are the stacks of a target, in drift.sh's order.
func driftTargets(target string) []*appStack {
	if target == "ci" {
		return []*appStack{ciApp}
	}
	var out []*appStack
	for _, layer := range appLayers {
		out = append(out, app[target][layer])
	}
	return out
}

// physicalID is what CloudFormation reports as a resource's physical ID: its Ref, as the fake resolves it.
func physicalID(t *testing.T, stack *appStack, id string) string {
	t.Helper()
	v, err := refOfResource(stack, id)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func refOfResource(stack *appStack, id string) (string, error) {
	templates := map[string]map[string]interface{}{ciApp.name: ciApp.template}
	stage := "ci"
	for s, layers := range app {
		for _, st := range layers {
			templates[st.name] = st.template
			if st == stack {
				stage = s
			}
		}
	}
	return resolver{stage: stage, templates: templates}.returnValue(stack.name, id, "Ref")
}

// resourceIDs are the stack's logical IDs, sorted, with their types.
func resourceIDs(stack *appStack) ([]string, map[string]string) {
	resources, _ := stack.template["Resources"].(map[string]interface{})
	types := map[string]string{}
	for id, r := range resources {
		types[id] = fmt.Sprint(r.(map[string]interface{})["Type"])
	}
	ids := make([]string, 0, len(types))
	for id := range types {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, types
}

const (
	resourcesQuery = "StackResources[].[LogicalResourceId,ResourceType,PhysicalResourceId]"
	driftListQuery = "StackResourceDrifts[?StackResourceDriftStatus!='IN_SYNC'].[LogicalResourceId,ResourceType,StackResourceDriftStatus]"
)

func differencesQuery(id string) string {
	return "StackResourceDrifts[?LogicalResourceId=='" + id + "'] | [0].PropertyDifferences[].[PropertyPath,DifferenceType,ExpectedValue,ActualValue]"
}

// inSync: every stack of the target exists, is UPDATE_COMPLETE, lists its template's resources and has no drift.
func inSync(t *testing.T, h *harness, target string) *harness {
	t.Helper()
	stage := target
	if target == "ci" {
		stage = "prod" // h2o-ci's findings go to prod's alarm topic
	}
	if err := noDrift(h, target); err != nil {
		t.Fatal(err)
	}
	h.on("aws", []string{"sns", "publish"}, "message-1\n", 0)
	return deployed(h, stage, 5, "sha5")
}

// noDrift: the answers of a detection that finds every stack of the target as its template says.
func noDrift(h *harness, target string) error {
	h.env["DRIFT_POLL_DELAY"] = "0"
	for _, st := range driftTargets(target) {
		ids, types := resourceIDs(st)
		var rows strings.Builder
		for _, id := range ids {
			physical, err := refOfResource(st, id)
			if err != nil {
				return err
			}
			fmt.Fprintf(&rows, "%s\t%s\t%s\n", id, types[id], physical)
		}
		h.on("aws", []string{"describe-stack-resources", st.name, resourcesQuery}, rows.String(), 0).
			on("aws", []string{"detect-stack-drift", st.name}, "detection-"+st.name+"\n", 0).
			on("aws", []string{"describe-stack-drift-detection-status", "detection-" + st.name}, "DETECTION_COMPLETE\tIN_SYNC\tNone\n", 0).
			on("aws", []string{"describe-stack-resource-drifts", st.name, driftListQuery}, "", 0)
	}
	return nil
}

// modified: CloudFormation reports resource id of stack as MODIFIED with these differences (path, type,
// expected, actual).
func modified(h *harness, stack *appStack, typ, id string, diffs ...[4]string) {
	var b strings.Builder
	for _, d := range diffs {
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\n", d[0], d[1], d[2], d[3])
	}
	h.on("aws", []string{"describe-stack-resource-drifts", stack.name, differencesQuery(id)}, b.String(), 0)
}

// detectCall: drift.sh's detection on a stack: the template's resources of the checked types, in order.
func detectCall(t *testing.T, rules driftRules, st *appStack) []string {
	t.Helper()
	ids, types := resourceIDs(st)
	c := []string{"aws", "cloudformation", "detect-stack-drift", "--region", "us-east-1", "--stack-name", st.name, "--logical-resource-ids"}
	for _, id := range ids {
		if rules.checked[types[id]] {
			c = append(c, id)
		}
	}
	return append(c, "--query", "StackDriftDetectionId", "--output", "text")
}

func TestDriftInSync(t *testing.T) {
	t.Parallel()
	rules := readDriftRules(t)
	for _, target := range []string{"dev", "ci"} {
		// GIVEN every stack of the target as its template says
		h := inSync(t, newHarness(t), target)
		// WHEN drift.sh --notify runs
		r := h.run("drift.sh", "--notify", target)
		// THEN every stack is checked on its checked types only, found in sync, and nothing is sent
		expectCode(t, r, 0)
		for _, st := range driftTargets(target) {
			expectCalls(t, result{calls: filter(r.calls, "detect-stack-drift", st.name)}, detectCall(t, rules, st))
			expectLines(t, r, "IN_SYNC    "+st.name+": ")
			_, types := resourceIDs(st)
			call := detectCall(t, rules, st)
			for id, typ := range types {
				if (strings.HasPrefix(typ, "Custom::") || typ == "AWS::SecretsManager::Secret" || typ == "AWS::IAM::Policy") && contains(call, id) {
					t.Errorf("%s %s (%s) was passed to drift detection", st.name, id, typ)
				}
			}
		}
		if len(filter(r.calls, "publish")) != 0 {
			t.Errorf("published although nothing drifted\n%s", r)
		}
		expectLines(t, r, fmt.Sprintf("drift.sh %s: %d stack(s), 0 drifted resource(s), 0 expected difference(s), 0 check failure(s)", target, len(driftTargets(target))))
	}
}

// DescribeStackResourceDrifts returns at most 100 results a call (MaxResults, API reference); drift.sh filters
// them client-side (--query), so a stack's checked resources must fit one page whether or not the CLI
// paginates. The same bound keeps DetectStackDrift's LogicalResourceIds list short.
func TestDriftChecksFitOnePage(t *testing.T) {
	t.Parallel()
	rules := readDriftRules(t)
	for _, target := range []string{"dev", "prod", "ci"} {
		for _, st := range driftTargets(target) {
			if n := len(detectCall(t, rules, st)) - 11; n > 100 || n < 1 {
				t.Errorf("%s: %d resources to check, want 1..100", st.name, n)
			}
		}
	}
}

// The nightly workflow checks both stages and h2o-ci, and the versions of both stages.
func TestNightlyWorkflowChecksEveryTarget(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../.github/workflows/nightly.yml")
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	for _, want := range []string{"target: [" + strings.Join(append(config.Stages(), "ci"), ", ") + "]",
		`run: scripts/drift.sh --notify "$TARGET"`, `run: scripts/versions.sh --notify "$TARGET"`,
		"if: ${{ !cancelled() && matrix.target != 'ci' }}", "schedule:", "id-token: write"} {
		if !strings.Contains(text, want) {
			t.Errorf("nightly.yml lacks %q", want)
		}
	}
}

// expectedDifference is a difference CloudFormation could report that matches rule e: the path with each "*" as
// 0, the actual value naming the resource the rule mentions.
func expectedDifference(t *testing.T, e driftExpect) [4]string {
	t.Helper()
	actual := "0"
	if e.mention != "-" {
		stack, id, _ := strings.Cut(e.mention, ":")
		var st *appStack
		for _, s := range append(driftTargets("dev"), driftTargets("prod")...) {
			if s.name == stack {
				st = s
			}
		}
		actual = `{"IpProtocol":"tcp","SourceSecurityGroupId":"` + physicalID(t, st, id) + `"}`
		if strings.Contains(e.path, "TargetGroup") {
			actual = physicalID(t, st, id)
		}
	}
	return [4]string{strings.ReplaceAll(e.path, "*", "0"), e.difference, "1", actual}
}

func TestDriftExpectedOnlyIsNotDrift(t *testing.T) {
	t.Parallel()
	rules := readDriftRules(t)
	// GIVEN dev where every difference the rules expect has happened (autoscaling, the schedule, a canary, the
	// ingress compute adds to data's groups)
	h := newHarness(t)
	byResource := map[[2]string][][4]string{}
	for _, e := range rules.expects {
		if strings.HasPrefix(e.stack, "h2o-dev-") {
			k := [2]string{e.stack, e.id}
			byResource[k] = append(byResource[k], expectedDifference(t, e))
		}
	}
	if len(byResource) < 3 {
		t.Fatalf("only %d dev resources with expected drift", len(byResource))
	}
	lists := map[string]string{}
	for k, diffs := range byResource {
		st := app["dev"][strings.TrimPrefix(k[0], "h2o-dev-")]
		_, types := resourceIDs(st)
		lists[st.name] += k[1] + "\t" + types[k[1]] + "\tMODIFIED\n"
		modified(h, st, types[k[1]], k[1], diffs...)
	}
	for stack, list := range lists {
		h.on("aws", []string{"describe-stack-resource-drifts", stack, driftListQuery}, list, 0)
	}
	// WHEN drift.sh --notify runs
	r := inSync(t, h, "dev").run("drift.sh", "--notify", "dev")
	// THEN each is EXPECTED with its reason, nothing is drift, nothing is sent
	expectCode(t, r, 0)
	n := 0
	for _, diffs := range byResource {
		n += len(diffs)
	}
	if got := strings.Count(r.stdout, "\nEXPECTED "); got != n && !strings.HasPrefix(r.stdout, "EXPECTED ") {
		t.Errorf("%d EXPECTED lines, want %d\n%s", got, n, r)
	}
	if strings.Contains(r.stdout, "DRIFT ") || len(filter(r.calls, "publish")) != 0 {
		t.Errorf("expected drift reported as drift\n%s", r)
	}
	expectLines(t, r, "(desired-count)", "(scheduled-bounds)", "(canary-weights)", "(cross-stack-ingress)",
		fmt.Sprintf("drift.sh dev: 5 stack(s), 0 drifted resource(s), %d expected difference(s), 0 check failure(s)", n))
}

func TestDriftIsReportedAndSent(t *testing.T) {
	t.Parallel()
	rules := readDriftRules(t)
	data, compute, edge := app["prod"]["data"], app["prod"]["compute"], app["prod"]["edge"]
	var dbGroup, service string
	for _, e := range rules.expects {
		if e.stack == data.name && e.difference == "ADD" && strings.HasPrefix(e.id, "DatabaseSecurityGroup") {
			dbGroup = e.id
		}
		if e.stack == compute.name && e.path == "/DesiredCount" {
			service = e.id
		}
	}
	if dbGroup == "" || service == "" {
		t.Fatal("drift-rules.txt has no prod database group or service rule")
	}
	edgeIDs, edgeTypes := resourceIDs(edge)
	var deleted string
	for _, id := range edgeIDs {
		if rules.checked[edgeTypes[id]] {
			deleted = id
			break
		}
	}
	// GIVEN prod where someone opened the database to an address in the console, an emergency rollback moved the
	// service's task definition, and an edge resource was deleted
	h := newHarness(t)
	h.on("aws", []string{"describe-stack-resource-drifts", data.name, driftListQuery}, dbGroup+"\tAWS::EC2::SecurityGroup\tMODIFIED\n", 0).
		on("aws", []string{"describe-stack-resource-drifts", compute.name, driftListQuery}, service+"\tAWS::ECS::Service\tMODIFIED\n", 0).
		on("aws", []string{"describe-stack-resource-drifts", edge.name, driftListQuery}, deleted+"\t"+edgeTypes[deleted]+"\tDELETED\n", 0)
	modified(h, data, "AWS::EC2::SecurityGroup", dbGroup,
		[4]string{"/SecurityGroupIngress/2", "ADD", "null", `{"CidrIp":"203.0.113.7/32","FromPort":5432,"IpProtocol":"tcp","ToPort":5432}`})
	modified(h, compute, "AWS::ECS::Service", service,
		[4]string{"/TaskDefinition", "NOT_EQUAL", "arn:aws:ecs:us-east-1:" + account + ":task-definition/h2o-backend-prod:9",
			"arn:aws:ecs:us-east-1:" + account + ":task-definition/h2o-backend-prod:8"},
		[4]string{"/DesiredCount", "NOT_EQUAL", "2", "3"})
	// WHEN drift.sh --notify runs
	r := inSync(t, h, "prod").run("drift.sh", "--notify", "prod")
	// THEN each is DRIFT with stack, resource, type and property, the desired count is still only expected, the
	// exit status says drift, and the findings went to prod's alarm topic
	expectCode(t, r, 3)
	expectLines(t, r,
		"DRIFT      "+data.name+" "+dbGroup+" (AWS::EC2::SecurityGroup) /SecurityGroupIngress/2 ADD: expected null, actual {\"CidrIp\":\"203.0.113.7/32\"",
		"DRIFT      "+compute.name+" "+service+" (AWS::ECS::Service) /TaskDefinition NOT_EQUAL: expected arn:aws:ecs:us-east-1:"+account+":task-definition/h2o-backend-prod:9",
		"EXPECTED   "+compute.name+" "+service+" (AWS::ECS::Service) /DesiredCount NOT_EQUAL: 2 -> 3 (desired-count)",
		"DRIFT      "+edge.name+" "+deleted+" ("+edgeTypes[deleted]+"): deleted outside CloudFormation",
		"drift.sh prod: 5 stack(s), 3 drifted resource(s), 1 expected difference(s), 0 check failure(s)")
	published := filter(r.calls, "sns", "publish")
	if len(published) != 1 || !contains(published[0], out("prod", "observability", "AlarmTopicArn")) {
		t.Fatalf("want one publish to prod's alarm topic\n%s", r)
	}
	message := checkNotification(t, published[0])
	for _, want := range []string{"/SecurityGroupIngress/2 ADD", "/TaskDefinition NOT_EQUAL", "deleted outside CloudFormation", `docs/runbook.md, "Drift"`} {
		if !strings.Contains(message, want) {
			t.Errorf("the e-mail lacks %q:\n%s", want, message)
		}
	}
	if strings.Contains(message, "/DesiredCount") {
		t.Errorf("the notification lists expected drift:\n%s", message)
	}
}

// checkNotification: a publish call's message is SNS's per-protocol JSON: e-mail gets text, everything else
// (AWS Chatbot) a custom notification; returns the e-mail text.
func checkNotification(t *testing.T, call []string) string {
	t.Helper()
	i := slices.Index(call, "--message")
	if i < 0 || !contains(call, "--message-structure") || !contains(call, "json") {
		t.Fatalf("publish without a JSON message structure: %q", call)
	}
	// The message holds no raw newline (JSON escapes them), so the fake's log has it byte for byte.
	var message struct{ Default, Email string }
	if err := json.Unmarshal([]byte(call[i+1]), &message); err != nil {
		t.Fatalf("message is not JSON: %v\n%s", err, call[i+1])
	}
	var chat struct {
		Version, Source string
		Content         struct{ TextType, Title, Description string }
	}
	if err := json.Unmarshal([]byte(message.Default), &chat); err != nil || chat.Version != "1.0" || chat.Source != "custom" ||
		chat.Content.Title == "" || chat.Content.Description == "" {
		t.Errorf("default is not an AWS Chatbot custom notification (%v): %s", err, message.Default)
	}
	if j := slices.Index(call, "--subject"); j < 0 || len(call[j+1]) > 100 || strings.Contains(call[j+1], `\n`) {
		t.Errorf("subject missing, over 100 characters or not one line: %q", call)
	}
	return message.Email
}

func TestDriftCheckFailuresAreNeverInSync(t *testing.T) {
	t.Parallel()
	compute := app["dev"]["compute"]
	cases := []struct {
		name string
		rule func(h *harness)
		want string
	}{
		{"detection failed", func(h *harness) {
			h.on("aws", []string{"describe-stack-drift-detection-status", "detection-" + compute.name},
				"DETECTION_FAILED\tDRIFTED\tFailed to detect drift on resource [BackendService2147DAF9]: AccessDenied\n", 0)
		}, "FAILED     " + compute.name + ": drift detection failed: Failed to detect drift on resource [BackendService2147DAF9]: AccessDenied"},
		{"detection never ends", func(h *harness) {
			h.env["DRIFT_WAIT_CHECKS"] = "3"
			h.on("aws", []string{"describe-stack-drift-detection-status", "detection-" + compute.name}, "DETECTION_IN_PROGRESS\tNone\tNone\n", 0)
		}, "FAILED     " + compute.name + ": drift detection detection-" + compute.name + " still in progress after 3 checks; not checked"},
		{"resource status unknown", func(h *harness) {
			h.on("aws", []string{"describe-stack-resource-drifts", compute.name, driftListQuery}, "ClusterEB0386A7\tAWS::ECS::Cluster\tUNKNOWN\n", 0)
		}, "UNCHECKED  " + compute.name + " ClusterEB0386A7 (AWS::ECS::Cluster): drift status UNKNOWN"},
		{"stack busy", func(h *harness) {
			stackIs(h, 0, "dev", "compute", "UPDATE_IN_PROGRESS")
		}, "FAILED     " + compute.name + " is UPDATE_IN_PROGRESS: drift detection runs only on"},
		{"stack missing", func(h *harness) {
			stackIs(h, 0, "dev", "compute", "ABSENT")
		}, "FAILED     " + compute.name + " does not exist: not checked"},
		{"type nobody classified", func(h *harness) {
			h.on("aws", []string{"describe-stack-resources", compute.name, resourcesQuery}, "Thing\tAWS::New::Thing\tthing-1\n", 0)
		}, "UNCHECKED  " + compute.name + ": Thing (AWS::New::Thing): type(s) not in scripts/drift-rules.txt"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			// GIVEN dev where one stack cannot be (fully) checked
			h := newHarness(t)
			c.rule(h)
			// WHEN drift.sh --notify runs THEN it says so, exits 1, never calls that stack in sync, and sends it
			r := inSync(t, h, "dev").run("drift.sh", "--notify", "dev")
			expectCode(t, r, 1)
			expectLines(t, r, c.want)
			if strings.Contains(r.stdout, "IN_SYNC    "+compute.name) {
				t.Errorf("%s reported in sync\n%s", compute.name, r)
			}
			published := filter(r.calls, "sns", "publish")
			if len(published) != 1 || !strings.Contains(checkNotification(t, published[0]), strings.TrimSpace(c.want[:10])) {
				t.Errorf("the failure was not sent\n%s", r)
			}
		})
	}
}

// An AWS error is no answer: throttling is tried again, anything else stops drift.sh with the CLI's message
// before it reports or sends anything. (TestAFailedReadIsNeverAnAnswer injects each error into every read.)
func TestDriftStopsOnAWSErrors(t *testing.T) {
	t.Parallel()
	compute := app["dev"]["compute"]
	h := newHarness(t)
	h.failTimes(1, []string{"detect-stack-drift", compute.name}, throttling("DetectStackDrift"))
	r := inSync(t, h, "dev").run("drift.sh", "dev")
	expectCode(t, r, 0)
	if n := len(filter(r.calls, "detect-stack-drift", compute.name)); n != 2 {
		t.Errorf("a throttled detection was started %d times, want 2\n%s", n, r)
	}

	h = newHarness(t)
	h.failTimes(0, []string{"detect-stack-drift", compute.name}, accessDenied("DetectStackDrift"))
	r = inSync(t, h, "dev").run("drift.sh", "--notify", "dev")
	expectCode(t, r, 1)
	expectStderr(t, r, "An error occurred (AccessDenied) when calling the DetectStackDrift operation",
		"cannot start drift detection on "+compute.name)
	if len(filter(r.calls, "publish")) != 0 || strings.Contains(r.stdout, "drift.sh dev:") {
		t.Errorf("went on after the error\n%s", r)
	}
}

func TestDriftUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"ci", "dev"}, {"--fail", "dev"}, {"staging"}} {
		r := newHarness(t).run("drift.sh", args...)
		expectCode(t, r, 2)
		expectCalls(t, r)
	}
	h := newHarness(t)
	h.env["DRIFT_WAIT_CHECKS"] = "0"
	expectCode(t, h.run("drift.sh", "dev"), 2)
}

// drift.sh names h2o-ci as the app does.
func TestDriftKnowsTheCIStack(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("drift.sh")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "\nCI_STACK="+ciApp.name+"\n") {
		t.Errorf("drift.sh does not set CI_STACK=%s", ciApp.name)
	}
}
