package stacks

import (
	"sort"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
)

// physicalNameProps are, per resource type the app keeps (DeletionPolicy other than Delete), the properties
// that give it a fixed physical name (CloudFormation template reference, "Name type"): a resource created with
// one of them and kept by a rolled-back create blocks the retry with "already exists". A type the app keeps
// that is not listed fails TestAFailedCreateLeavesNoNameTaken until it is added here ("" = no name property).
var physicalNameProps = map[string][]string{
	"AWS::S3::Bucket":                    {"BucketName"},
	"AWS::KMS::Key":                      {}, // named only through AWS::KMS::Alias, a resource of its own
	"AWS::KMS::Alias":                    {"AliasName"},
	"AWS::SecretsManager::Secret":        {"Name"},
	"AWS::ECR::Repository":               {"RepositoryName"},
	"AWS::Backup::BackupVault":           {"BackupVaultName"},
	"AWS::Logs::LogGroup":                {"LogGroupName"},
	"AWS::RDS::DBInstance":               {"DBInstanceIdentifier"},
	"AWS::ElastiCache::ReplicationGroup": {"ReplicationGroupId"},
	"AWS::IAM::Role":                     {"RoleName"},
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
			names, known := physicalNameProps[typ]
			if !known {
				t.Errorf("%s is kept (%s) but physicalNameProps does not say which property names it: add its type", where, policy)
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
