package stacks

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
)

// physicalName is the name a resource has in AWS: its name property when the template sets one, else the one
// CloudFormation generates, the stack's name, the logical ID and a random suffix (CloudFormation template
// reference, "CloudFormation resource custom naming": "MyStack-MyBucket-abcdefghijk1"), cut to the type's
// limit, in lower case for a bucket.
func physicalName(stack awscdk.Stack, id string, r map[string]interface{}, property string, limit int) string {
	if name, ok := props(r)[property].(string); ok {
		return name
	}
	name := *stack.StackName() + "-" + id + "-ABCDEFGH1234"
	if len(name) > limit {
		name = name[:limit]
	}
	return name
}

// scopedTypeARNs: for each type whose reads driftScopes names, the ARN of one of its resources in the test
// account.
var scopedTypeARNs = map[string]func(stack awscdk.Stack, id string, r map[string]interface{}) string{
	"AWS::CloudWatch::Alarm": func(s awscdk.Stack, id string, r map[string]interface{}) string {
		return "arn:aws:cloudwatch:us-east-1:" + testAccount + ":alarm:" + physicalName(s, id, r, "AlarmName", 255)
	},
	"AWS::CloudWatch::Dashboard": func(s awscdk.Stack, id string, r map[string]interface{}) string {
		return "arn:aws:cloudwatch::" + testAccount + ":dashboard/" + physicalName(s, id, r, "DashboardName", 255)
	},
	"AWS::SNS::Topic": func(s awscdk.Stack, id string, r map[string]interface{}) string {
		return "arn:aws:sns:us-east-1:" + testAccount + ":" + physicalName(s, id, r, "TopicName", 256)
	},
	"AWS::ECS::Cluster": func(s awscdk.Stack, id string, r map[string]interface{}) string {
		return referencedARNs["AWS::ECS::Cluster"](s, id, r)
	},
	"AWS::StepFunctions::StateMachine": func(s awscdk.Stack, id string, r map[string]interface{}) string {
		return "arn:aws:states:us-east-1:" + testAccount + ":stateMachine:" + physicalName(s, id, r, "StateMachineName", 80)
	},
	"AWS::Backup::BackupVault": func(s awscdk.Stack, id string, r map[string]interface{}) string {
		return "arn:aws:backup:us-east-1:" + testAccount + ":backup-vault:" + physicalName(s, id, r, "BackupVaultName", 50)
	},
	"AWS::ECR::Repository": func(s awscdk.Stack, id string, r map[string]interface{}) string {
		return "arn:aws:ecr:us-east-1:" + testAccount + ":repository/" + physicalName(s, id, r, "RepositoryName", 256)
	},
	"AWS::IAM::Role": func(s awscdk.Stack, id string, r map[string]interface{}) string {
		return "arn:aws:iam::" + testAccount + ":role/" + physicalName(s, id, r, "RoleName", 64)
	},
	"AWS::IAM::ManagedPolicy": func(s awscdk.Stack, id string, r map[string]interface{}) string {
		return "arn:aws:iam::" + testAccount + ":policy/" + physicalName(s, id, r, "ManagedPolicyName", 128)
	},
	"AWS::Lambda::Function": func(s awscdk.Stack, id string, r map[string]interface{}) string {
		return "arn:aws:lambda:us-east-1:" + testAccount + ":function:" + physicalName(s, id, r, "FunctionName", 64)
	},
	"AWS::Events::Rule": func(s awscdk.Stack, id string, r map[string]interface{}) string {
		return "arn:aws:events:us-east-1:" + testAccount + ":rule/" + physicalName(s, id, r, "Name", 64)
	},
	"AWS::S3::Bucket": func(s awscdk.Stack, id string, r map[string]interface{}) string {
		return referencedARNs["AWS::S3::Bucket"](s, id, r)
	},
	// These name another resource of the stack: the bucket whose policy, the cluster whose service or providers.
	"AWS::S3::BucketPolicy": func(s awscdk.Stack, _ string, r map[string]interface{}) string {
		return referenced(s, r, "Bucket", "AWS::S3::Bucket")
	},
	"AWS::ECS::ClusterCapacityProviderAssociations": func(s awscdk.Stack, _ string, r map[string]interface{}) string {
		return referenced(s, r, "Cluster", "AWS::ECS::Cluster")
	},
	"AWS::ECS::Service": func(s awscdk.Stack, _ string, r map[string]interface{}) string {
		cluster := referenced(s, r, "Cluster", "AWS::ECS::Cluster")
		return strings.Replace(cluster, ":cluster/", ":service/", 1) + "/" + fmt.Sprint(props(r)["ServiceName"])
	},
}

// referenced is the ARN of the resource a property refers to ({"Ref": id} or {"Fn::GetAtt": [id, ...]}), when it
// is a resource of the stack of type typ; "" otherwise, which no statement allows.
func referenced(stack awscdk.Stack, r map[string]interface{}, property, typ string) string {
	ref, ok := lookup(props(r), property+".Ref")
	if !ok {
		ref, ok = lookup(props(r), property+".Fn::GetAtt.0")
	}
	id, _ := ref.(string)
	target, found := templateJSON(stack)["Resources"].(map[string]interface{})[id].(map[string]interface{})
	if !ok || !found || target["Type"] != typ {
		return ""
	}
	return referencedARNs[typ](stack, id, target)
}

// referencedARNs are the entries of scopedTypeARNs that referenced may follow (a map of its own: Go refuses a
// map whose functions read the map itself).
var referencedARNs = map[string]func(stack awscdk.Stack, id string, r map[string]interface{}) string{
	"AWS::S3::Bucket": func(s awscdk.Stack, id string, r map[string]interface{}) string {
		return "arn:aws:s3:::" + strings.ToLower(physicalName(s, id, r, "BucketName", 63))
	},
	"AWS::ECS::Cluster": func(s awscdk.Stack, id string, r map[string]interface{}) string {
		return "arn:aws:ecs:us-east-1:" + testAccount + ":cluster/" + physicalName(s, id, r, "ClusterName", 255)
	},
}

// TestDriftReadsAreScopedWhereIAMCan: the drift role reads what detection reads (TestDriftRoleReadsEveryCheckedType),
// on the app's own resources wherever IAM can name them (driftScopes). For every resource of every template whose
// type has a scoped read, the role may make each of its type's reads on that resource's ARN; and each scoped read
// is refused on a resource outside the app.
func TestDriftReadsAreScopedWhereIAMCan(t *testing.T) {
	statements := roleStatements(t, ci.Stack, logicalIDOf(t, ci.Stack, ci.DriftRole.Node().DefaultChild()))
	scopes := driftScopes(ci.Stack, []string{"dev", "prod"}, "h2o-backend")
	// GIVEN every resource of the app's templates WHEN the drift role's policy is asked for its type's reads
	checked := map[string]int{}
	for _, stack := range appStacks() {
		for id, r := range allResources(t, stack) {
			typ, _ := r["Type"].(string)
			arnOf, known := scopedTypeARNs[typ]
			read, _ := driftReadOf(typ)
			for _, action := range read.actions {
				if _, scoped := scopes[action]; !scoped {
					continue
				}
				if !known {
					t.Errorf("%s is scoped by driftScopes, but scopedTypeARNs cannot name a %s (%s)", action, typ, id)
					continue
				}
				checked[typ]++
				// THEN it may make each on this resource
				req := request{action: action, resource: arnOf(stack, id, r)}
				if !identityAllows(statements, req) {
					t.Errorf("%s %s: the drift role may not %s: detection would fail on it", *stack.StackName(), id, req)
				}
			}
		}
	}
	for typ := range scopedTypeARNs {
		if checked[typ] == 0 {
			t.Errorf("no %s checked: scopedTypeARNs has a type the templates do not hold, or the scopes changed", typ)
		}
	}
	// ...and no scoped read reaches a resource outside the app
	for action, resources := range scopes {
		outside := strings.NewReplacer("h2o-", "other-").Replace(resources[0])
		if req := (request{action: action, resource: strings.ReplaceAll(outside, "*", "x")}); identityAllows(statements, req) {
			t.Errorf("the drift role may %s", req)
		}
		if !strings.Contains(resources[0], "h2o") {
			t.Errorf("%s is scoped to %v, which names nothing of the app", action, resources)
		}
	}
	if len(scopes) < 20 {
		t.Errorf("only %d reads scoped: %v", len(scopes), fmt.Sprint(scopes))
	}
}
