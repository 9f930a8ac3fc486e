package stacks

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"

	"h2o-infra/config"
)

// nightlyScripts run with the drift role (.github/workflows/nightly.yml).
var nightlyScripts = map[string]bool{"drift.sh": true, "versions.sh": true}

// templateTypes are the resource types of every synthesized template (both stages, h2o-ci, the all-options
// variant), each with a stack that holds it.
func templateTypes(t *testing.T) map[string]string {
	t.Helper()
	types := map[string]string{}
	for _, stack := range appStacks() {
		for _, r := range allResources(t, stack) {
			types[fmt.Sprint(r["Type"])] = *stack.StackName()
		}
	}
	return types
}

func TestDriftRoleReadsEveryCheckedType(t *testing.T) {
	// GIVEN every resource type of the synthesized templates
	types := templateTypes(t)
	statements := roleStatements(t, ci.Stack, logicalIDOf(t, ci.Stack, ci.DriftRole.Node().DefaultChild()))
	for typ, stack := range types {
		// WHEN the drift check looks the type up THEN it is classified: read with actions, or skipped with a reason
		r, ok := driftReadOf(typ)
		if !ok {
			t.Errorf("%s (in %s) is not in driftReads (stacks/driftread.go): add its read handler's permissions, or skip it with the reason", typ, stack)
			continue
		}
		if r.skip == "" && r.actions == nil {
			t.Errorf("%s: neither read actions nor a reason to skip it", typ)
		}
		// AND the drift role may read it
		for _, a := range r.actions {
			if !grants(statements, a) {
				t.Errorf("drift role cannot %s, which drift detection of %s needs", a, typ)
			}
		}
	}
	// No entry for a type no template holds (a read nobody needs).
	for typ := range driftReads {
		// The CLI's synth adds AWS::CDK::Metadata (version reporting: cdk.out holds it), the tests' App does not.
		if _, ok := types[typ]; !ok && typ != "AWS::CDK::Metadata" {
			t.Errorf("driftReads has %s, which no synthesized template holds", typ)
		}
	}
	// The state machines' definitions use AWS-owned keys, so their read needs no kms:Decrypt (driftread.go).
	for _, stack := range appStacks() {
		for id, sm := range resources(t, stack, "AWS::StepFunctions::StateMachine") {
			if enc, ok := lookup(props(sm), "EncryptionConfiguration.Type"); ok && enc != "AWS_OWNED_KEY" {
				t.Errorf("%s %s is encrypted with %v: its drift check needs kms:Decrypt on that key", *stack.StackName(), id, enc)
			}
		}
	}
}

// TestDriftRoleAllowsEveryNightlyCall: every AWS call of drift.sh and versions.sh (recorded by their tests in
// scripts/testdata/aws-calls.txt) and every read drift detection makes on the templates' types is allowed, and
// the role allows nothing else: only reads, detection, and publishing to the alarm topics.
func TestDriftRoleAllowsEveryNightlyCall(t *testing.T) {
	// GIVEN the nightly scripts' calls and the reads of the checked types
	needed := map[string]string{}
	for _, c := range recordedCalls(t, nightlyScripts) {
		for _, a := range c.actions(t) {
			needed[a] = c.line
		}
	}
	for _, must := range []string{"cloudformation:DetectStackDrift", "rds:DescribeDBMajorEngineVersions", "sns:Publish"} {
		if needed[must] == "" {
			t.Fatalf("no nightly call needs %s: the golden list lost drift.sh or versions.sh (%v)", must, needed)
		}
	}
	for typ := range templateTypes(t) {
		if r, ok := driftReadOf(typ); ok {
			for _, a := range r.actions {
				needed[a] = "drift detection of " + typ
			}
		}
	}
	// WHEN the drift role's policy is read
	statements := roleStatements(t, ci.Stack, logicalIDOf(t, ci.Stack, ci.DriftRole.Node().DefaultChild()))
	// THEN every needed action is allowed...
	for _, a := range sortedKeys(needed) {
		if !grants(statements, a) {
			t.Errorf("drift role does not allow %s (%s)", a, needed[a])
		}
	}
	for _, st := range statements {
		resources := mustJSON(st["Resource"])
		condition := mustJSON(st["Condition"])
		for _, a := range atStrings(t, st, "Action") {
			// ...nothing else...
			if _, ok := needed[a]; !ok {
				t.Errorf("drift role grants %s, which no nightly call or checked type needs", a)
			}
			// ...only reads, detection and the notification, and never a secret, an object or a role to pass...
			_, verb, _ := strings.Cut(a, ":")
			read := slices.ContainsFunc([]string{"Describe", "Get", "List"}, func(p string) bool { return strings.HasPrefix(verb, p) })
			switch {
			case a == "secretsmanager:GetSecretValue" || strings.HasPrefix(a, "s3:GetObject") || a == "iam:PassRole":
				t.Errorf("drift role may %s", a)
			case a == "sns:Publish":
				for _, stage := range config.Stages() {
					if !strings.Contains(resources, ":"+Names{stage}.Resource("alarms")+`"`) {
						t.Errorf("drift role publishes to %s, not to %s's alarm topic", resources, stage)
					}
				}
				if n := len(list(st["Resource"])); n != len(config.Stages()) {
					t.Errorf("drift role publishes to %d topics, want the %d alarm topics", n, len(config.Stages()))
				}
			case strings.HasPrefix(a, "kms:"):
				if !read && (!strings.Contains(condition, `"kms:ViaService":"sns.`) || !strings.Contains(condition, "aws:sns:topicArn")) {
					t.Errorf("drift role may %s outside SNS's use for the alarm topics: %s", a, condition)
				}
			case strings.HasPrefix(a, "cloudformation:"):
				if a != "cloudformation:DescribeStackDriftDetectionStatus" && (strings.Contains(resources, `"*"`) || !strings.Contains(resources, "stack/h2o-")) {
					t.Errorf("drift role may %s on %s, beyond the app's stacks", a, resources)
				}
				if !read && !strings.HasPrefix(verb, "Detect") {
					t.Errorf("drift role may %s", a)
				}
			case !read:
				t.Errorf("drift role may %s, which is not a read", a)
			}
		}
	}
}

func TestDriftRoleTrustsOnlyTheDefaultBranch(t *testing.T) {
	// GIVEN h2o-ci WHEN its drift role is read THEN only a GitHub OIDC token of this repository's default branch
	// may assume it, for an hour
	role := resourceOf(t, ci.Stack, ci.DriftRole)
	trust := mustJSON(props(role)["AssumeRolePolicyDocument"])
	if !strings.Contains(trust, `"token.actions.githubusercontent.com:sub":"repo:h2o-allegiant/h2o-infra:ref:refs/heads/main"`) ||
		!strings.Contains(trust, `"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"`) || strings.Contains(trust, "StringLike") {
		t.Errorf("drift role trust %s", trust)
	}
	if props(role)["RoleName"] != DriftRoleName || props(role)["MaxSessionDuration"] != float64(3600) {
		t.Errorf("drift role %v / %v", props(role)["RoleName"], props(role)["MaxSessionDuration"])
	}
	raw, err := os.ReadFile(filepath.Join("..", ".github", "workflows", "nightly.yml"))
	if err != nil || !strings.Contains(string(raw), "vars.AWS_DRIFT_ROLE_ARN") || strings.Contains(string(raw), "environment:") {
		t.Errorf("nightly.yml must assume vars.AWS_DRIFT_ROLE_ARN in a job without an environment (its subject names the branch): %v", err)
	}
}

// driftStages are the committed settings' templates: each stage's stacks, and h2o-ci alone; stackOrder is the
// deploy order of the stages, then h2o-ci.
func driftStages(t *testing.T) ([]driftStage, []string) {
	t.Helper()
	var stages []driftStage
	var order []string
	add := func(stacks ...awscdk.Stack) {
		st := driftStage{}
		for _, s := range stacks {
			st[*s.StackName()] = templateJSON(s)
			order = append(order, *s.StackName())
		}
		stages = append(stages, st)
	}
	for _, name := range config.Stages() {
		add(built[name].Stacks()...)
	}
	add(ci.Stack)
	return stages, order
}

const driftRulesPath = "../scripts/drift-rules.txt"

// TestDriftRulesFile: scripts/drift-rules.txt (what drift.sh reads) is driftReads and expectedDrifts applied to
// the templates of the committed settings; UPDATE_GOLDEN=1 rewrites it.
func TestDriftRulesFile(t *testing.T) {
	stages, order := driftStages(t)
	want, err := driftRulesFile(stages, order)
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("UPDATE_GOLDEN") == "1" {
		if err := os.WriteFile(driftRulesPath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(driftRulesPath)
	if err != nil || string(got) != want {
		t.Errorf("%s is not what the allowlist and the templates give (%v): UPDATE_GOLDEN=1 go test ./stacks -run TestDriftRulesFile", driftRulesPath, err)
	}
}

// TestExpectedDriftNamesWhatTheTemplatesHold: every kind of expected drift applies somewhere; every path it
// allows to differ exists in the resource's template (a property that is not set is never compared: DetectStackDrift,
// "Only resource properties explicitly defined in the stack template are checked"), except rules added to a list
// from another stack (ADD), whose source must be that stack's resource; every resource a value must mention exists.
func TestExpectedDriftNamesWhatTheTemplatesHold(t *testing.T) {
	stages, _ := driftStages(t)
	used := map[string]int{}
	for _, st := range stages {
		for name, tpl := range st {
			resources, _ := tpl["Resources"].(map[string]interface{})
			for id, raw := range resources {
				res, _ := raw.(map[string]interface{})
				for _, kind := range expectedDrifts {
					if res["Type"] != kind.typ {
						continue
					}
					entries, err := kind.entries(st, name, id, res)
					if err != nil {
						t.Errorf("%s: %v", kind.name, err)
					}
					used[kind.name] += len(entries)
					for _, e := range entries {
						checkExpectedEntry(t, st, name, id, res, e)
					}
				}
			}
		}
	}
	for _, kind := range expectedDrifts {
		if used[kind.name] == 0 {
			t.Errorf("expected drift %q applies to no resource of the templates", kind.name)
		}
	}
}

func checkExpectedEntry(t *testing.T, st driftStage, stack, id string, res map[string]interface{}, e expectedEntry) {
	t.Helper()
	if e.difference != "ADD" && !pathExists(propsOf(res), strings.Split(strings.TrimPrefix(e.path, "/"), "/")) {
		t.Errorf("%s %s: expected drift on %s, which its template does not set", stack, id, e.path)
	}
	if e.mention == "" {
		return
	}
	other, mentioned, _ := strings.Cut(e.mention, ":")
	if resources, _ := st[other]["Resources"].(map[string]interface{}); resources[mentioned] == nil {
		t.Errorf("%s %s %s: the value must mention %s, which is not a resource of that stack", stack, id, e.path, e.mention)
	}
}

// pathExists: the template data holds the path, "*" standing for every element of a list (at least one).
func pathExists(v interface{}, segments []string) bool {
	if len(segments) == 0 {
		return v != nil
	}
	if segments[0] == "*" {
		items, _ := v.([]interface{})
		for _, item := range items {
			if !pathExists(item, segments[1:]) {
				return false
			}
		}
		return len(items) > 0
	}
	next, ok := lookup(v, segments[0])
	return ok && pathExists(next, segments[1:])
}
