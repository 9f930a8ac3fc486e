package scripts

import (
	"encoding/json"
	"maps"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The stack states a script can meet (CloudFormation user guide, "Stack status codes"; scripts/aws.sh), and what
// each script does in each: one subtest per script and state.

// writes are the calls of a run that change something (anything but describe/get/list/batch-get reads and waiters).
func writes(r result) [][]string {
	var w [][]string
	for _, c := range r.calls {
		switch {
		case c[0] == "aws" && len(c) > 2 && (c[2] == "wait" || c[2] == "get-login-password" ||
			strings.HasPrefix(c[2], "describe-") || strings.HasPrefix(c[2], "get-") ||
			strings.HasPrefix(c[2], "list-") || strings.HasPrefix(c[2], "batch-get-") || strings.HasPrefix(c[2], "detect-")):
		case c[0] == "aws" || c[0] == "npx" || c[0] == "docker":
			w = append(w, c)
		}
	}
	return w
}

// logicalIDOf is the logical ID of the first resource of type typ in a synthesized stack.
func logicalIDOf(t *testing.T, stage, layer, typ string) string {
	t.Helper()
	resources, _ := app[stage][layer].template["Resources"].(map[string]interface{})
	var ids []string
	for id, r := range resources {
		if r.(map[string]interface{})["Type"] == typ {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	if len(ids) == 0 {
		t.Fatalf("h2o-%s-%s has no %s", stage, layer, typ)
	}
	return ids[0]
}

// protection: describe-stacks answers the stack's termination protection as the app sets it.
func protection(h *harness, stage, layer string) *harness {
	answer := "False\n"
	if app[stage][layer].terminationProtection {
		answer = "True\n"
	}
	return h.on("aws", []string{"describe-stacks", "h2o-" + stage + "-" + layer, "Stacks[0].EnableTerminationProtection"}, answer, 0)
}

// resourcesOf is the Resources section of a synthesized stack.
func resourcesOf(t *testing.T, stage, layer string) map[string]interface{} {
	t.Helper()
	resources, ok := app[stage][layer].template["Resources"].(map[string]interface{})
	if !ok {
		t.Fatalf("h2o-%s-%s: no Resources in the synthesized template", stage, layer)
	}
	return resources
}

// propertiesOf is the Properties of one resource of a synthesized stack.
func propertiesOf(t *testing.T, stage, layer, id string) map[string]interface{} {
	t.Helper()
	resource, ok := resourcesOf(t, stage, layer)[id].(map[string]interface{})
	if !ok {
		t.Fatalf("h2o-%s-%s: no resource %s in the synthesized template", stage, layer, id)
	}
	props, _ := resource["Properties"].(map[string]interface{})
	return props
}

// typeOf is the Type of one resource of a synthesized stack.
func typeOf(t *testing.T, stage, layer, id string) string {
	t.Helper()
	resource, _ := resourcesOf(t, stage, layer)[id].(map[string]interface{})
	typ, ok := resource["Type"].(string)
	if !ok {
		t.Fatalf("h2o-%s-%s: resource %s has no Type", stage, layer, id)
	}
	return typ
}

// fixedName: the first resource of type typ in a synthesized stack and the name its template sets in prop.
func fixedName(t *testing.T, stage, layer, typ, prop string) (id, name string) {
	t.Helper()
	id = logicalIDOf(t, stage, layer, typ)
	name, ok := propertiesOf(t, stage, layer, id)[prop].(string)
	if !ok {
		t.Fatalf("h2o-%s-%s: %s (%s) sets no %s", stage, layer, id, typ, prop)
	}
	return id, name
}

// retainedIn: the logical IDs (sorted) of a synthesized stack's resources with DeletionPolicy Retain, which a
// failed create leaves DELETE_SKIPPED.
func retainedIn(t *testing.T, stage, layer string) []string {
	t.Helper()
	var ids []string
	for id, r := range resourcesOf(t, stage, layer) {
		if resource, ok := r.(map[string]interface{}); ok && resource["DeletionPolicy"] == "Retain" {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		t.Fatalf("h2o-%s-%s retains no resource (DeletionPolicy Retain)", stage, layer)
	}
	slices.Sort(ids)
	return ids
}

// generatedName: a fake name CloudFormation would generate for a resource the template leaves unnamed.
func generatedName(stage, layer, id string) string {
	return strings.ToLower("h2o-" + stage + "-" + layer + "-" + id + "-1a2b3c4d5e6f")
}

// loadBalancerArn: a fake ARN of a load balancer, the physical ID CloudFormation gives it.
func loadBalancerArn(stage, id string) string {
	return "arn:aws:elasticloadbalancing:us-east-1:" + account + ":loadbalancer/app/h2o-" + stage + "-" + id[:8] + "/50dc6c495c0c9188"
}

// deletionProtectionReason stands for CloudFormation's reason a resource with deletion protection was not deleted.
const deletionProtectionReason = "Resource handler returned message: deletion protection is enabled"

// templateOf: get-template answers a property query of a resource from the stack's synthesized template: its
// value (a string as is, anything else as JSON), None for a property it does not set.
func templateOf(t *testing.T, h *harness, stage, layer string) *harness {
	t.Helper()
	stack := "h2o-" + stage + "-" + layer
	for id := range resourcesOf(t, stage, layer) {
		for prop, v := range propertiesOf(t, stage, layer, id) {
			text, ok := v.(string)
			if !ok {
				raw, err := json.Marshal(v)
				if err != nil {
					t.Fatal(err)
				}
				text = string(raw)
			}
			h.on("aws", []string{"get-template", stack, "TemplateBody.Resources." + id + ".Properties." + prop}, text+"\n", 0)
		}
	}
	return h.on("aws", []string{"get-template", stack}, "None\n", 0)
}

// failedResources: describe-stack-resources answers the logical IDs of the stack's resources in status.
func failedResources(h *harness, stage, layer, status string, ids ...string) *harness {
	return h.on("aws", []string{"describe-stack-resources", "h2o-" + stage + "-" + layer,
		"StackResources[?ResourceStatus=='" + status + "'].LogicalResourceId"}, strings.Join(ids, "\t")+"\n", 0)
}

// stateCase is one state of one stack and what a script must do in it.
type stateCase struct {
	name   string
	layer  string // the stack in that state
	setup  func(t *testing.T, h *harness, stage string)
	code   int
	stderr []string // each must occur
	// acts: the script changes something (a stop changes nothing).
	acts bool
	// check: more to verify on the result.
	check func(t *testing.T, r result)
}

// busyThenDone: the stack reports status twice, then UPDATE_COMPLETE (another deploy finishing).
func busyThenDone(layer, status string) func(t *testing.T, h *harness, stage string) {
	return func(_ *testing.T, h *harness, stage string) { stackIs(h, 2, stage, layer, status) }
}

func always(layer, status string) func(t *testing.T, h *harness, stage string) {
	return func(_ *testing.T, h *harness, stage string) { stackIs(h, 0, stage, layer, status) }
}

// someResources: the first n logical IDs (sorted) of a synthesized stack, as the failed resources of a test.
func someResources(stage, layer string, n int) []string {
	resources, _ := app[stage][layer].template["Resources"].(map[string]interface{})
	ids := slices.Sorted(maps.Keys(resources))
	return ids[:min(n, len(ids))]
}

// updateRollbackFailed: two resources of the stack failed to roll back.
func updateRollbackFailed(layer string) func(t *testing.T, h *harness, stage string) {
	return func(t *testing.T, h *harness, stage string) {
		stackIs(h, 0, stage, layer, "UPDATE_ROLLBACK_FAILED")
		failedResources(h, stage, layer, "UPDATE_FAILED", someResources(stage, layer, 2)...)
	}
}

// deleteFailed: one resource of the stack could not be deleted.
func deleteFailed(layer string) func(t *testing.T, h *harness, stage string) {
	return func(t *testing.T, h *harness, stage string) {
		stackIs(h, 0, stage, layer, "DELETE_FAILED")
		failedResources(h, stage, layer, "DELETE_FAILED", someResources(stage, layer, 1)...)
	}
}

func continueRollback(stage, layer string) string {
	return "aws cloudformation continue-update-rollback --region us-east-1 --stack-name h2o-" + stage + "-" + layer
}

// skipping: the recovery command that skips the resources updateRollbackFailed made fail.
func skipping(stage, layer string) string {
	return continueRollback(stage, layer) + " --resources-to-skip " + strings.Join(someResources(stage, layer, 2), " ")
}

func deleteStack(stage, layer string) string {
	return "aws cloudformation delete-stack --region us-east-1 --stack-name h2o-" + stage + "-" + layer
}

// retaining: the recovery command that keeps the resource deleteFailed made fail.
func retaining(stage, layer string) string {
	return deleteStack(stage, layer) + " --retain-resources " + someResources(stage, layer, 1)[0]
}

// runStates runs each case for script (args with the stage) on a deployed prod.
func runStates(t *testing.T, script string, args []string, cases []stateCase, env map[string]string) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.env["STACK_WAIT_CHECKS"] = "2"
			h.env["IMAGE_TAG"] = "newsha"
			h.env["RESTORE_TARGET"] = restored
			for k, v := range env {
				h.env[k] = v
			}
			c.setup(t, h, "prod")
			h.on("aws", []string{"describe-images"}, "sha256:x\n", 0).
				on("aws", []string{"describe-db-instances", "h2o-prod-postgres", "DBInstances[0].DBInstanceStatus"}, "available\n", 0).
				on("aws", []string{"describe-db-instances", "h2o-prod-postgres"}, "h2o-prod-data-subnets\tsg-db1\th2o-prod-pg17\t"+dbClassOf("prod")+"\t2026-12-01T12:00:00Z\n", 0).
				on("aws", []string{"describe-db-instances", restored}, restoredHost+"\t5432\t"+restoredSecret+"\n", 0)
			revision(h, "prod", 8, "ACTIVE", "sha8")
			r := deployed(h, "prod", 9, "sha9").run(script, args...)
			expectCode(t, r, c.code)
			expectStderr(t, r, c.stderr...)
			if acted := len(writes(r)) > 0; acted != c.acts {
				t.Errorf("changed something: %v, want %v: %q\n%s", acted, c.acts, writes(r), r)
			}
			if c.check != nil {
				c.check(t, r)
			}
		})
	}
}

// The cases every script that needs a stack stops on, whatever it does otherwise.
func stopsOn(layer, what string) []stateCase {
	return []stateCase{
		{name: "absent", layer: layer, setup: always(layer, "ABSENT"), code: 1,
			stderr: []string{"h2o-prod-" + layer + " does not exist: " + what}},
		{name: "ROLLBACK_COMPLETE", layer: layer, setup: always(layer, "ROLLBACK_COMPLETE"), code: 1,
			stderr: []string{"h2o-prod-" + layer + " is ROLLBACK_COMPLETE (its create failed and was rolled back: it has no outputs): " + what}},
		{name: "REVIEW_IN_PROGRESS", layer: layer, setup: always(layer, "REVIEW_IN_PROGRESS"), code: 1,
			stderr: []string{"h2o-prod-" + layer + " is REVIEW_IN_PROGRESS (created by a change set that was never executed"}},
		{name: "busy beyond the wait", layer: layer, setup: always(layer, "UPDATE_ROLLBACK_IN_PROGRESS"), code: 1,
			stderr: []string{"stack h2o-prod-" + layer + " is UPDATE_ROLLBACK_IN_PROGRESS: the rollback of a failed update is running",
				"waiting for it, at most 2 checks", "is still UPDATE_ROLLBACK_IN_PROGRESS after 2 checks",
				"aws cloudformation describe-stack-events --region us-east-1 --stack-name h2o-prod-" + layer},
			check: func(t *testing.T, r result) {
				if n := len(filter(r.calls, "h2o-prod-"+layer, "Stacks[0].StackStatus")); n != 3 {
					t.Errorf("%d status reads, want the first and 2 checks\n%s", n, r)
				}
			}},
		{name: "DELETE_FAILED", layer: layer, setup: deleteFailed(layer), code: 1,
			stderr: []string{deleteStack("prod", layer), retaining("prod", layer),
				"stack h2o-prod-" + layer + " is DELETE_FAILED: stopped before changing anything"}},
	}
}

func TestDeployActsOnEveryStackState(t *testing.T) {
	t.Parallel()
	firstDeploy := func(t *testing.T, r result) {
		t.Helper()
		expectCalls(t, result{calls: filter(r.calls, "npx")}, cdkDeployStage("prod", "newsha", "newsha"), cdkDeployService("prod", "newsha"))
		if len(filter(r.calls, "describe-services")) != 0 {
			t.Errorf("read a service of a stack that has none\n%s", r)
		}
	}
	runStates(t, "deploy.sh", []string{"prod"}, []stateCase{
		{name: "absent: a first deploy", layer: "compute", acts: true, check: firstDeploy,
			setup: func(_ *testing.T, h *harness, stage string) { stackIs(h, 1, stage, "compute", "ABSENT") }},
		{name: "ROLLBACK_COMPLETE with termination protection", layer: "compute", code: 1,
			setup: func(t *testing.T, h *harness, stage string) {
				if !app[stage]["compute"].terminationProtection {
					t.Fatalf("h2o-%s-compute has no termination protection in the app: this case needs a stack with it", stage)
				}
				stackIs(h, 0, stage, "compute", "ROLLBACK_COMPLETE")
				h.on("aws", leftovers("h2o-" + stage + "-compute")[1:], "", 0)
				protection(h, stage, "compute")
			},
			stderr: []string{"stack h2o-prod-compute has termination protection: the CDK CLI cannot delete it",
				"aws cloudformation update-termination-protection --region us-east-1 --stack-name h2o-prod-compute --no-enable-termination-protection",
				"stack h2o-prod-compute is ROLLBACK_COMPLETE and has termination protection: stopped"}},
		{name: "ROLLBACK_COMPLETE holding a resource with a fixed name", layer: "data", code: 1,
			setup: func(t *testing.T, h *harness, stage string) {
				stackIs(h, 0, stage, "data", "ROLLBACK_COMPLETE")
				id, name := fixedName(t, stage, "data", "AWS::SecretsManager::Secret", "Name")
				h.on("aws", leftovers("h2o-" + stage + "-data")[1:],
					id+"\tAWS::SecretsManager::Secret\t"+leftoverSecretArn(name)+"\tDELETE_SKIPPED\n", 0)
				templateOf(t, h, stage, "data")
				protection(h, stage, "data")
			},
			check: func(t *testing.T, r result) {
				id, name := fixedName(t, "prod", "data", "AWS::SecretsManager::Secret", "Name")
				expectStderr(t, r, "the failed create of h2o-prod-data left these resources with fixed names",
					id+"  AWS::SecretsManager::Secret  "+leftoverSecretArn(name)+"  DELETE_SKIPPED (Name "+name+")",
					"A retry would fail on them with \"already exists\"",
					"stack h2o-prod-data is ROLLBACK_COMPLETE and holds resources with fixed names that would block its re-creation")
			}},
		{name: "ROLLBACK_COMPLETE holding only retained resources with generated names", layer: "data", code: 1,
			setup: func(t *testing.T, h *harness, stage string) {
				stackIs(h, 0, stage, "data", "ROLLBACK_COMPLETE")
				var rows string
				for _, id := range retainedIn(t, stage, "data") {
					rows += id + "\t" + typeOf(t, stage, "data", id) + "\t" + generatedName(stage, "data", id) + "\tDELETE_SKIPPED\n"
				}
				h.on("aws", leftovers("h2o-" + stage + "-data")[1:], rows, 0)
				templateOf(t, h, stage, "data")
				protection(h, stage, "data")
			},
			check: func(t *testing.T, r result) {
				expectStderr(t, r, "WARNING: the failed create of h2o-prod-data left these resources with generated names",
					"aws cloudformation list-stacks --region us-east-1 --stack-status-filter DELETE_COMPLETE")
				for _, id := range retainedIn(t, "prod", "data") {
					expectStderr(t, r, id+"  "+typeOf(t, "prod", "data", id)+"  "+generatedName("prod", "data", id)+"  DELETE_SKIPPED")
				}
				if strings.Contains(r.stderr, "would block its re-creation") {
					t.Errorf("refused leftovers with generated names\n%s", r)
				}
				// What stops prod is its termination protection, after the leftovers were let through.
				expectStderr(t, r, "stack h2o-prod-data is ROLLBACK_COMPLETE and has termination protection")
			}},
		{name: "ROLLBACK_FAILED on a database with deletion protection", layer: "data", code: 1,
			setup: func(t *testing.T, h *harness, stage string) {
				stackIs(h, 0, stage, "data", "ROLLBACK_FAILED")
				id, identifier := fixedName(t, stage, "data", "AWS::RDS::DBInstance", "DBInstanceIdentifier")
				h.on("aws", deleteFailedResources("h2o-" + stage + "-data")[1:],
					id+"\tAWS::RDS::DBInstance\t"+identifier+"\t"+deletionProtectionReason+"\n", 0)
				protection(h, stage, "data")
			},
			check: func(t *testing.T, r result) {
				id, identifier := fixedName(t, "prod", "data", "AWS::RDS::DBInstance", "DBInstanceIdentifier")
				expectStderr(t, r, "1. "+id+" (AWS::RDS::DBInstance "+identifier+") could not be deleted: "+deletionProtectionReason,
					"aws rds modify-db-instance --region us-east-1 --db-instance-identifier "+identifier+" --no-deletion-protection --apply-immediately",
					"2. allow the delete (the deploy turns termination protection on again): aws cloudformation update-termination-protection --region us-east-1 --stack-name h2o-prod-data --no-enable-termination-protection",
					"3. delete the stack (what it created goes; retained resources stay): "+deleteStack("prod", "data"),
					"aws cloudformation wait stack-delete-complete --region us-east-1 --stack-name h2o-prod-data",
					"4. deploy again",
					"stack h2o-prod-data is ROLLBACK_FAILED: stopped before changing anything")
				expectCalls(t, result{calls: filter(r.calls, "describe-stack-resources")}, deleteFailedResources("h2o-prod-data"))
			}},
		{name: "ROLLBACK_FAILED on a load balancer with deletion protection", layer: "compute", code: 1,
			setup: func(t *testing.T, h *harness, stage string) {
				stackIs(h, 0, stage, "compute", "ROLLBACK_FAILED")
				id := logicalIDOf(t, stage, "compute", "AWS::ElasticLoadBalancingV2::LoadBalancer")
				h.on("aws", deleteFailedResources("h2o-" + stage + "-compute")[1:],
					id+"\tAWS::ElasticLoadBalancingV2::LoadBalancer\t"+loadBalancerArn(stage, id)+"\t"+deletionProtectionReason+"\n", 0)
				protection(h, stage, "compute")
			},
			check: func(t *testing.T, r result) {
				id := logicalIDOf(t, "prod", "compute", "AWS::ElasticLoadBalancingV2::LoadBalancer")
				expectStderr(t, r, "aws elbv2 modify-load-balancer-attributes --region us-east-1 --load-balancer-arn "+
					loadBalancerArn("prod", id)+" --attributes Key=deletion_protection.enabled,Value=false", deleteStack("prod", "compute"))
			}},
		{name: "REVIEW_IN_PROGRESS: created by the deploy", layer: "compute", acts: true,
			setup:  func(_ *testing.T, h *harness, stage string) { stackIs(h, 1, stage, "compute", "REVIEW_IN_PROGRESS") },
			stderr: []string{"h2o-prod-compute is REVIEW_IN_PROGRESS (created by a change set that was never executed: it has no resources): cdk deploy creates it anew"},
			check: func(t *testing.T, r result) {
				firstDeploy(t, r)
				if len(filter(r.calls, "describe-stack-resources")) != 0 {
					t.Errorf("looked for leftovers of a stack without resources\n%s", r)
				}
			}},
		{name: "UPDATE_IN_PROGRESS: waited for", layer: "compute", acts: true, setup: busyThenDone("compute", "UPDATE_IN_PROGRESS"),
			stderr: []string{"stack h2o-prod-compute is UPDATE_IN_PROGRESS: an update is running (a deploy workflow, or someone's cdk deploy)"},
			check: func(t *testing.T, r result) {
				expectCalls(t, result{calls: filter(r.calls, "npx")}, cdkDeployStage("prod", "newsha", "sha9"), cdkDeployService("prod", "newsha"))
			}},
		{name: "UPDATE_IN_PROGRESS beyond the wait", layer: "compute", code: 1, setup: always("compute", "UPDATE_IN_PROGRESS"),
			stderr: []string{"is still UPDATE_IN_PROGRESS after 2 checks: an update has not finished",
				"if that update is stuck: aws cloudformation cancel-update-stack --region us-east-1 --stack-name h2o-prod-compute"}},
		{name: "UPDATE_ROLLBACK_FAILED", layer: "compute", code: 1, setup: updateRollbackFailed("compute"),
			stderr: []string{continueRollback("prod", "compute"), skipping("prod", "compute"),
				"stack h2o-prod-compute is UPDATE_ROLLBACK_FAILED: stopped before changing anything"},
			check: func(t *testing.T, r result) {
				expectCalls(t, result{calls: filter(r.calls, "describe-stack-resources")}, stackResources("h2o-prod-compute", "UPDATE_FAILED"))
			}},
		{name: "DELETE_FAILED", layer: "edge", code: 1, setup: deleteFailed("edge"),
			stderr: []string{retaining("prod", "edge"), "then deploy again: the stack is created anew"}},
		{name: "CREATE_FAILED (rollback disabled)", layer: "network", code: 1, setup: always("network", "CREATE_FAILED"),
			stderr: []string{"aws cloudformation rollback-stack --region us-east-1 --stack-name h2o-prod-network"}},
		{name: "UPDATE_ROLLBACK_COMPLETE: a stable state", layer: "compute", acts: true, setup: always("compute", "UPDATE_ROLLBACK_COMPLETE"),
			check: func(t *testing.T, r result) {
				expectCalls(t, result{calls: filter(r.calls, "npx")}, cdkDeployStage("prod", "newsha", "sha9"), cdkDeployService("prod", "newsha"))
			}},
	}, nil)
}

func TestRollbackActsOnEveryStackState(t *testing.T) {
	t.Parallel()
	what := "no service to roll back"
	cases := append(stopsOn("compute", what),
		stateCase{name: "UPDATE_IN_PROGRESS: waited for", layer: "compute", acts: true, setup: busyThenDone("compute", "UPDATE_IN_PROGRESS"),
			check: func(t *testing.T, r result) {
				expectCalls(t, result{calls: filter(r.calls, "npx")}, cdkDeployService("prod", "sha8"))
			}},
		stateCase{name: "UPDATE_ROLLBACK_FAILED", layer: "compute", code: 1, setup: updateRollbackFailed("compute"),
			stderr: []string{skipping("prod", "compute")}},
		stateCase{name: "edge absent: no health check", layer: "edge", code: 1, setup: always("edge", "ABSENT"),
			stderr: []string{"stack h2o-prod-edge does not exist: no health check possible"}},
	)
	runStates(t, "rollback.sh", []string{"prod"}, cases, nil)
}

// --emergency goes around CloudFormation: a stack being updated, or whose update rollback failed, still names the
// service, so it goes ahead at once (the first a warning, the second with the repair command).
func TestRollbackEmergencyGoesAroundABusyOrStuckStack(t *testing.T) {
	t.Parallel()
	direct := func(t *testing.T, r result) {
		expectCalls(t, result{calls: writes(r)[:1]}, updateService("prod", familyOf("prod")+":8"))
		if n := len(filter(r.calls, "h2o-prod-compute", "Stacks[0].StackStatus")); n != 1 {
			t.Errorf("%d status reads of compute, want 1 (no waiting)\n%s", n, r)
		}
	}
	runStates(t, "rollback.sh", []string{"--emergency", "prod"}, []stateCase{
		{name: "UPDATE_IN_PROGRESS", layer: "compute", acts: true, setup: always("compute", "UPDATE_IN_PROGRESS"), check: direct,
			stderr: []string{"WARNING: stack h2o-prod-compute is UPDATE_IN_PROGRESS (an update is running): going ahead"}},
		{name: "UPDATE_ROLLBACK_FAILED", layer: "compute", acts: true, setup: updateRollbackFailed("compute"), check: direct,
			stderr: []string{"WARNING: stack h2o-prod-compute is UPDATE_ROLLBACK_FAILED: going ahead", continueRollback("prod", "compute")}},
		{name: "CREATE_IN_PROGRESS: nothing to go around yet", layer: "compute", code: 1, setup: always("compute", "CREATE_IN_PROGRESS"),
			stderr: []string{"is still CREATE_IN_PROGRESS after 2 checks: a create has not finished"}},
	}, nil)
}

func TestMigrateActsOnEveryStackState(t *testing.T) {
	t.Parallel()
	cases := append(stopsOn("compute", "nothing to migrate"),
		stateCase{name: "UPDATE_IN_PROGRESS: waited for", layer: "compute", acts: true, setup: busyThenDone("compute", "UPDATE_IN_PROGRESS"),
			check: func(t *testing.T, r result) {
				expectCalls(t, r, join(calls(statusCall("h2o-prod-compute"), statusCall("h2o-prod-compute")), migrateCalls("prod", 1))...)
			}},
		stateCase{name: "UPDATE_ROLLBACK_FAILED", layer: "compute", code: 1, setup: updateRollbackFailed("compute"),
			stderr: []string{skipping("prod", "compute")}},
	)
	runStates(t, "migrate.sh", []string{"prod"}, cases, nil)
}

// restore.sh only reads names from the data stack and creates a new instance beside the live one: a stack being
// updated, or whose update rollback failed, still names the live instance (a warning; the repair command).
func TestRestoreActsOnEveryStackState(t *testing.T) {
	t.Parallel()
	restoredOK := func(t *testing.T, r result) {
		if len(filter(r.calls, "restore-db-instance-to-point-in-time", "h2o-prod-postgres")) != 1 {
			t.Errorf("no restore of the live instance\n%s", r)
		}
	}
	cases := []stateCase{
		stopsOn("data", "no database to restore from")[0], stopsOn("data", "no database to restore from")[1],
		stopsOn("data", "no database to restore from")[2], stopsOn("data", "no database to restore from")[4],
		{name: "CREATE_IN_PROGRESS beyond the wait", layer: "data", code: 1, setup: always("data", "CREATE_IN_PROGRESS"),
			stderr: []string{"is still CREATE_IN_PROGRESS after 2 checks"}},
		{name: "UPDATE_IN_PROGRESS", layer: "data", acts: true, setup: always("data", "UPDATE_IN_PROGRESS"), check: restoredOK,
			stderr: []string{"WARNING: stack h2o-prod-data is UPDATE_IN_PROGRESS (an update is running): going ahead with the outputs of its last good state"}},
		{name: "UPDATE_ROLLBACK_FAILED", layer: "data", acts: true, setup: updateRollbackFailed("data"), check: restoredOK,
			stderr: []string{"WARNING: stack h2o-prod-data is UPDATE_ROLLBACK_FAILED", continueRollback("prod", "data")}},
		{name: "compute not ready: guidance with placeholders", layer: "compute", acts: true, setup: always("compute", "ROLLBACK_COMPLETE"),
			check: func(t *testing.T, r result) {
				restoredOK(t, r)
				expectLines(t, r, "--cluster <ClusterName>", "--task-definition '<MigrationTaskDefinitionArn>'")
			},
			stderr: []string{"stack h2o-prod-compute is ROLLBACK_COMPLETE: the copy commands printed at the end have <placeholders>"}},
	}
	runStates(t, "restore.sh", []string{"prod", "--to", "latest"}, cases, map[string]string{"RESTORE_POLL_DELAY": "0"})
}

// verify.sh reports each stack's state as a check, prints the repair command of a stuck one, and checks what it
// can with the others.
func TestVerifyReportsEveryStackState(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		status, line string
		stderr       []string
	}{
		{"UPDATE_IN_PROGRESS", "FAIL  stacks    h2o-prod-edge UPDATE_IN_PROGRESS: an update is running; verify again once it is done", nil},
		{"REVIEW_IN_PROGRESS", "FAIL  stacks    h2o-prod-edge is REVIEW_IN_PROGRESS (created by a change set that was never executed: it has no resources)", nil},
		{"UPDATE_ROLLBACK_FAILED", "FAIL  stacks    h2o-prod-edge UPDATE_ROLLBACK_FAILED (needs repair: the commands are printed on stderr)",
			[]string{skipping("prod", "edge")}},
		{"DELETE_FAILED", "FAIL  stacks    h2o-prod-edge DELETE_FAILED (needs repair: the commands are printed on stderr)",
			[]string{retaining("prod", "edge")}},
	} {
		t.Run(c.status, func(t *testing.T) {
			t.Parallel()
			r := runVerify(verifyHarness(t, "prod", func(h *harness) {
				switch c.status {
				case "UPDATE_ROLLBACK_FAILED":
					updateRollbackFailed("edge")(t, h, "prod")
				case "DELETE_FAILED":
					deleteFailed("edge")(t, h, "prod")
				default:
					stackIs(h, 0, "prod", "edge", c.status)
				}
			}), "prod")
			expectCode(t, r, 1)
			expectLines(t, r, c.line, "FAIL  waf       stack h2o-prod-edge is not ready (above): no WAF to check", "PASS  backups")
			expectStderr(t, r, c.stderr...)
			if len(filter(r.calls, "h2o-prod-edge", "Stacks[0].Outputs[].[OutputKey,OutputValue]")) != 0 {
				t.Errorf("read the outputs of a stack that is not ready\n%s", r)
			}
		})
	}
}

// A stack without termination protection (dev's) whose create failed is deleted and created anew by the CDK CLI.
func TestDeployRecreatesAFailedCreateWithoutTerminationProtection(t *testing.T) {
	t.Parallel()
	if app["dev"]["compute"].terminationProtection {
		t.Fatal("h2o-dev-compute has termination protection in the app: this test needs a stack without it")
	}
	h := newHarness(t)
	h.env["IMAGE_TAG"] = "newsha"
	stackIs(h, 1, "dev", "compute", "ROLLBACK_COMPLETE")
	h.on("aws", leftovers("h2o-dev-compute")[1:], "", 0)
	protection(h, "dev", "compute")
	h.on("aws", []string{"describe-images"}, "sha256:x\n", 0)
	r := deployed(h, "dev", 1, "newsha").run("deploy.sh", "dev")
	expectCode(t, r, 0)
	expectStderr(t, r, "h2o-dev-compute is ROLLBACK_COMPLETE (its create failed and was rolled back: it has no outputs): cdk deploy creates it anew")
	expectCalls(t, result{calls: filter(r.calls, "npx")}, cdkDeployStage("dev", "newsha", "newsha"), cdkDeployService("dev", "newsha"))
	expectCalls(t, result{calls: filter(r.calls, "describe-stack-resources")}, leftovers("h2o-dev-compute"))
}

// TestEveryKeptTypeHasItsNameProperty: a failed create leaves behind what has DeletionPolicy Retain (DELETE_SKIPPED),
// and check_leftovers tells a fixed name from a generated one through name_property (aws.sh); a type it does not
// list stops every retry as "cannot tell". Every type the synthesized templates keep must be listed.
func TestEveryKeptTypeHasItsNameProperty(t *testing.T) {
	kept := map[string]bool{}
	for _, tmpl := range appTemplates {
		resources, _ := tmpl["Resources"].(map[string]interface{})
		for _, r := range resources {
			res, _ := r.(map[string]interface{})
			if typ, _ := res["Type"].(string); res["DeletionPolicy"] == "Retain" && typ != "" {
				kept[typ] = true
			}
		}
	}
	if len(kept) == 0 {
		t.Fatal("no template keeps a resource (DeletionPolicy Retain): the app's templates were not read")
	}
	for typ := range kept {
		out, err := exec.Command("bash", "-c", `source ./aws.sh && name_property "$1"`, "_", typ).CombinedOutput()
		if err != nil {
			t.Errorf("aws.sh name_property does not list %s, which the templates keep (%v: %s)", typ, err, out)
		}
	}
}

// TestEveryStackFitsOneDescribeStackResources: the scripts list a stack's resources with one DescribeStackResources
// call, which returns "only the first 100 resources" (CloudFormation API reference, DescribeStackResources).
func TestEveryStackFitsOneDescribeStackResources(t *testing.T) {
	if len(appTemplates) == 0 {
		t.Fatal("no synthesized templates")
	}
	for name, tmpl := range appTemplates {
		resources, _ := tmpl["Resources"].(map[string]interface{})
		if len(resources) >= 100 {
			t.Errorf("%s has %d resources: DescribeStackResources would miss some (aws.sh resources_in)", name, len(resources))
		}
	}
}

// leftoverSecretArn is the ARN of a secret of that name (Secrets Manager adds six random characters).
func leftoverSecretArn(name string) string {
	return "arn:aws:secretsmanager:us-east-1:" + account + ":secret:" + name + "-AbCdEf"
}
