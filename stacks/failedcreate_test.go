package stacks

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"

	"h2o-infra/config"
)

// physicalNameProps are, per resource type, the property that gives it a fixed physical name, from the one list
// scripts/aws.sh reads too (scripts/name-properties.txt; "-": none of its own): a resource created with it and kept
// by a rolled-back create blocks the retry with "already exists". A type the app keeps that is not listed fails
// TestAFailedCreateLeavesNoNameTaken until it is added there.
func physicalNameProps(t *testing.T) map[string][]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "scripts", "name-properties.txt"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for i, line := range strings.Split(string(raw), "\n") {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 || !strings.HasPrefix(fields[0], "AWS::") {
			t.Fatalf("scripts/name-properties.txt line %d: %q is not \"<type> <property>\"", i+1, line)
		}
		out[fields[0]] = []string{}
		if fields[1] != "-" {
			out[fields[0]] = []string{fields[1]}
		}
	}
	if len(out) == 0 {
		t.Fatal("scripts/name-properties.txt lists no type")
	}
	return out
}

// snapshotTypes may use DeletionPolicy Snapshot: CloudFormation snapshots and then deletes them, on a rollback
// too, which frees their identifier; the snapshot's own name is made per operation (statefulRemoval).
var snapshotTypes = map[string]bool{"AWS::RDS::DBInstance": true, "AWS::ElastiCache::ReplicationGroup": true}

// TestAFailedCreateLeavesNoNameTaken: a create that fails and rolls back must leave nothing behind that makes
// the same create fail again. A resource that CloudFormation keeps (DeletionPolicy Retain) on that rollback is
// fine only without a fixed name; with one, it must be RetainExceptOnCreate (deleted when the operation that
// created it rolls back, kept otherwise) and keep its data on a replacement too (UpdateReplacePolicy Retain).
func TestAFailedCreateLeavesNoNameTaken(t *testing.T) {
	// GIVEN every stack of both stages, h2o-ci, the all-options variant and h2o-ci importing its OIDC provider
	stacks := append(appStacks(), ciImported.Stack)
	nameProps := physicalNameProps(t)
	counts := map[string]int{}
	for _, stack := range stacks {
		// WHEN each resource's deletion policy and name properties are read
		for id, r := range allResources(t, stack) {
			policy, _ := r["DeletionPolicy"].(string)
			typ, _ := r["Type"].(string)
			if policy == "" || policy == "Delete" {
				continue
			}
			counts[policy]++
			where := *stack.StackName() + " " + id + " (" + typ + ")"
			names, known := nameProps[typ]
			if !known {
				t.Errorf("%s is kept (%s) but scripts/name-properties.txt does not say which property names it: add its type", where, policy)
				continue
			}
			var named []string
			for _, prop := range names {
				if _, set := props(r)[prop]; set {
					named = append(named, prop)
				}
			}
			// THEN a kept resource with a fixed name is kept except on the create that made it
			switch policy {
			case "Retain":
				if len(named) > 0 {
					t.Errorf("%s has DeletionPolicy Retain and the fixed name %v: a failed create keeps it and the retry fails "+
						"with \"already exists\"; use RemovalPolicy_RETAIN_ON_UPDATE_OR_DELETE", where, named)
				}
			case "RetainExceptOnCreate":
				if r["UpdateReplacePolicy"] != "Retain" {
					t.Errorf("%s: UpdateReplacePolicy %v, want Retain (a replacement must keep the old resource's data)", where, r["UpdateReplacePolicy"])
				}
			case "Snapshot":
				if !snapshotTypes[typ] {
					t.Errorf("%s: DeletionPolicy Snapshot on a type not decided for it", where)
				}
			default:
				t.Errorf("%s: unknown DeletionPolicy %s", where, policy)
			}
		}
	}
	// The rule must have met every kind of kept resource the app has, or it checks nothing.
	for _, policy := range []string{"Retain", "RetainExceptOnCreate", "Snapshot"} {
		if counts[policy] == 0 {
			t.Errorf("no resource with DeletionPolicy %s found in %d stacks", policy, len(stacks))
		}
	}
}

// TestNamedKeptResourcesAreRetainedExceptOnCreate pins the named resources that prod and h2o-ci keep to
// RetainExceptOnCreate (the general rule above would also accept dropping their names).
func TestNamedKeptResourcesAreRetainedExceptOnCreate(t *testing.T) {
	// GIVEN prod's data stack and h2o-ci WHEN their named, kept resources are read THEN each is
	// RetainExceptOnCreate
	want := map[awscdk.Stack][]string{
		built["prod"].Data.Stack: {"AWS::Backup::BackupVault", "AWS::KMS::Key", "AWS::SecretsManager::Secret"},
		ci.Stack:                 {"AWS::ECR::Repository"},
	}
	for stack, types := range want {
		var got []string
		for _, r := range allResources(t, stack) {
			if typ, _ := r["Type"].(string); r["DeletionPolicy"] == "RetainExceptOnCreate" {
				got = append(got, typ)
			}
		}
		sort.Strings(got)
		for _, typ := range types {
			if i := sort.SearchStrings(got, typ); i == len(got) || got[i] != typ {
				t.Errorf("%s: no %s with DeletionPolicy RetainExceptOnCreate (found %v)", *stack.StackName(), typ, got)
			}
		}
	}
}

// protection is what a failed first create does with a resource that has deletion protection, and who does what
// about it (layer.go, statefulRemoval; docs/runbook.md, "A failed first create of a prod stack").
type protection struct {
	policy   string // the DeletionPolicy it must have ("" = Delete, CloudFormation's default for the type)
	rollback string // what the rollback of a failed first create does with it
	// operator is, per IAM action of the recovery, the request the stage's operator role must allow for the
	// resource (its logical ID and properties) in a stack; administrator, the requests it must not: turning a
	// protection off is an administrator's, as is the stack's termination protection, which every stack holding
	// a protected resource has (the same setting), so the operator could not finish the recovery anyway.
	operator, administrator map[string]func(stack awscdk.Stack, id string, r map[string]interface{}) request
}

// onStack is a request on the stack itself (DescribeStackEvents, DeleteStack).
func onStack(action string) func(awscdk.Stack, string, map[string]interface{}) request {
	return func(stack awscdk.Stack, _ string, _ map[string]interface{}) request {
		return request{action: action, resource: "arn:aws:cloudformation:us-east-1:" + testAccount + ":stack/" + *stack.StackName() + "/0123abcd-0123-4567-89ab-0123456789ab"}
	}
}

// deletionProtected: every resource type the app creates with deletion protection on (found by
// deletionProtectionOn); a protected type missing here fails TestEveryDeletionProtectedResourceHasARecovery.
var deletionProtected = map[string]protection{
	"AWS::RDS::DBInstance": {policy: "Snapshot",
		rollback: "RDS refuses DeleteDBInstance on a protected instance (the provider's DeleteHandler does not turn protection off): DELETE_FAILED, stack ROLLBACK_FAILED, instance kept",
		operator: map[string]func(awscdk.Stack, string, map[string]interface{}) request{
			"cloudformation:DescribeStackEvents": onStack("cloudformation:DescribeStackEvents"),
			"cloudformation:DeleteStack":         onStack("cloudformation:DeleteStack"),
		},
		administrator: map[string]func(awscdk.Stack, string, map[string]interface{}) request{
			"rds:ModifyDBInstance": func(_ awscdk.Stack, _ string, r map[string]interface{}) request { // --no-deletion-protection
				return request{action: "rds:ModifyDBInstance", resource: fmt.Sprintf("arn:aws:rds:us-east-1:%s:db:%v", testAccount, props(r)["DBInstanceIdentifier"])}
			},
		}},
	"AWS::ElasticLoadBalancingV2::LoadBalancer": {policy: "",
		rollback: "ELB refuses to delete a load balancer with deletion_protection.enabled: DELETE_FAILED, stack ROLLBACK_FAILED, load balancer kept",
		operator: map[string]func(awscdk.Stack, string, map[string]interface{}) request{
			"cloudformation:DescribeStackEvents": onStack("cloudformation:DescribeStackEvents"),
			"cloudformation:DeleteStack":         onStack("cloudformation:DeleteStack"),
		},
		administrator: map[string]func(awscdk.Stack, string, map[string]interface{}) request{
			"elasticloadbalancing:ModifyLoadBalancerAttributes": func(stack awscdk.Stack, _ string, _ map[string]interface{}) request {
				// deletion_protection.enabled=false; CloudFormation generates the name, and tags it with the stack's
				return request{action: "elasticloadbalancing:ModifyLoadBalancerAttributes",
					resource: "arn:aws:elasticloadbalancing:us-east-1:" + testAccount + ":loadbalancer/app/h2o-p-LoadB-0123ABCD/0123456789abcdef",
					context:  map[string]string{"aws:ResourceTag/aws:cloudformation:stack-name": *stack.StackName()}}
			},
		}},
}

// recoveryActions are the IAM actions of every recovery above (the operator role needs them beside the
// runbook's: TestOperatorRoleAllowsEveryManualCall).
func recoveryActions() []string {
	seen := map[string]bool{}
	for _, p := range deletionProtected {
		for a := range p.operator {
			seen[a] = true
		}
	}
	return sortedKeys(seen)
}

// deletionProtectionOn says whether a resource has deletion protection on, in any of the shapes CloudFormation
// resources spell it: a DeletionProtection or DeletionProtectionEnabled property, or ELB's
// deletion_protection.enabled attribute.
func deletionProtectionOn(r map[string]interface{}) bool {
	p := props(r)
	if p["DeletionProtection"] == true || p["DeletionProtectionEnabled"] == true || p["DeletionProtection"] == "true" {
		return true
	}
	return keyValue(p["LoadBalancerAttributes"], "deletion_protection.enabled") == "true"
}

// TestEveryDeletionProtectedResourceHasARecovery: deletion protection outranks DeletionPolicy, so a failed first
// create of a stack holding a protected resource ends ROLLBACK_FAILED (layer.go). For every protected resource of
// every stage: its type is one whose rollback is described here, it has the DeletionPolicy decided for it, its stack
// has termination protection, the stage's operator role may take the recovery's reads and delete, and neither turn
// the resource's deletion protection nor the stack's termination protection off: an administrator does
// (docs/runbook.md, "A failed first create of a prod stack").
func TestEveryDeletionProtectedResourceHasARecovery(t *testing.T) {
	found := map[string]int{}
	// GIVEN every stack of each build
	forEachBuild(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		operator := roleStatements(t, ci.Stack, logicalIDOf(t, ci.Stack, ci.OperatorRoles[cfg.Stage].Node().DefaultChild()))
		for _, stack := range s.Stacks() {
			for id, r := range allResources(t, stack) {
				// WHEN a resource has deletion protection on
				if !deletionProtectionOn(r) {
					continue
				}
				typ, _ := r["Type"].(string)
				where := *stack.StackName() + " " + id + " (" + typ + ")"
				p, known := deletionProtected[typ]
				if !known {
					t.Errorf("%s has deletion protection, which no rollback deletes: add its type to deletionProtected with the recovery", where)
					continue
				}
				found[typ]++
				// THEN it has its decided DeletionPolicy...
				if policy, _ := r["DeletionPolicy"].(string); policy != p.policy {
					t.Errorf("%s: DeletionPolicy %q, want %q (%s)", where, policy, p.policy, p.rollback)
				}
				// ...the stage's operator may take the recovery's own steps and no administrator's...
				for _, action := range sortedKeys(p.operator) {
					if req := p.operator[action](stack, id, r); !identityAllows(operator, req) {
						t.Errorf("%s: %s; the %s operator role may not %s", where, p.rollback, cfg.Stage, req)
					}
				}
				for _, action := range sortedKeys(p.administrator) {
					if req := p.administrator[action](stack, id, r); identityAllows(operator, req) {
						t.Errorf("%s: the %s operator role may %s, an administrator's step", where, cfg.Stage, req)
					}
				}
				// ...and its stack has termination protection, which only an administrator turns off
				if !*stack.TerminationProtection() {
					t.Errorf("%s has deletion protection but its stack has no termination protection", where)
				}
				for _, st := range operator {
					if actionMatches(st["Action"], "cloudformation:UpdateTerminationProtection") {
						t.Errorf("the %s operator role may turn off termination protection: %s", cfg.Stage, mustJSON(st))
					}
				}
			}
		}
	})
	for typ := range deletionProtected {
		if found[typ] == 0 {
			t.Errorf("no %s with deletion protection found: the entry is stale or the detection broken", typ)
		}
	}
}
