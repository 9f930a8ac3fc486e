package stacks

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"h2o-infra/config"
)

// What every layer stack (and h2o-ci) is built with: its environment, tags, name, data-safety policy, outputs.

// env is where a stack deploys: the region always, the account when one is configured ("" = the deploying
// credentials' account).
func env(account, region string) *awscdk.Environment {
	e := &awscdk.Environment{Region: jsii.String(region)}
	if account != "" {
		e.Account = jsii.String(account)
	}
	return e
}

// tagAll tags every taggable resource under scope (cost allocation tags), in a fixed order.
func tagAll(scope constructs.IConstruct, tags map[string]string) {
	for _, k := range sortedKeys(tags) {
		awscdk.Tags_Of(scope).Add(jsii.String(k), jsii.String(tags[k]), untaggedTypes)
	}
}

// untaggedTypes are left out of the app-wide tags, so a change to the tag set (a new tag, a renamed stage label)
// never updates them:
//   - Listeners, scalable targets, dashboards: CDK 2.276 tags them, but cfn-lint 1.51's schemas reject Tags on
//     them (E3002). Listeners and scalable targets are free, and dashboard charges are not split by tag.
//   - AWS::CloudFront::VpcOrigin: CloudFront refuses any update of a VPC origin a distribution uses, a tag change
//     included ("The specified VPC origin is currently associated with one or more distributions. Please
//     disassociate the VPC origin from all distributions before updating or deleting": aws/aws-cdk#35765,
//     hashicorp/terraform-provider-aws#40905), so a tagged origin would fail the edge stack's next tag change.
//     A VPC origin costs nothing; edge.go gives each configuration its own (newVpcOrigin).
//   - AWS::Backup::BackupVault: after its lock date a compliance-locked vault is immutable, and no AWS page says
//     whether CloudFormation re-sends the lock (PutBackupVaultLockConfiguration, in the update handler's
//     permissions) on an unrelated update such as a tag change. Untagged, nothing but an edit of the vault itself
//     updates it (newBackupPlan; TestBackupVaultIsNeverUpdated pins it). Backup charges follow the recovery
//     points, not the vault's tags.
var untaggedTypes = &awscdk.TagProps{ExcludeResourceTypes: jsii.Strings(
	"AWS::ElasticLoadBalancingV2::Listener", "AWS::ApplicationAutoScaling::ScalableTarget", "AWS::CloudWatch::Dashboard",
	"AWS::CloudFront::VpcOrigin", "AWS::Backup::BackupVault")}

// newLayerStack creates the stack of one layer, named h2o-<stage>-<layer> and tagged Layer=<layer>.
func newLayerStack(scope constructs.Construct, cfg *config.Config, layer, description string) awscdk.Stack {
	stack := awscdk.NewStack(scope, jsii.String(layer), &awscdk.StackProps{
		StackName:   jsii.String(Names{cfg.Stage}.Stack(layer)),
		Description: jsii.String(fmt.Sprintf("h2o %s: %s", cfg.Stage, description)),
		// prod stacks refuse `cdk destroy`/DeleteStack until someone turns this off on purpose.
		TerminationProtection: jsii.Bool(cfg.DeletionProtection),
	})
	tagAll(stack, map[string]string{"Layer": layer})
	if problems := cfg.DeployProblems(); len(problems) > 0 {
		refuseDeploy(stack, problems)
	}
	return stack
}

// refuseDeploy makes CloudFormation refuse to create or update the stack while the stage's settings hold a
// placeholder: CloudFormation evaluates a template's rules before it creates or updates any resource
// (CloudFormation user guide, "Rules"), and this one cannot hold. Rule assertions compare parameter values, so it
// reads BootstrapVersion, the parameter the CDK gives every stack, as the CDK's own CheckBootstrapVersion rule
// does. Synth and `cdk diff` are unaffected; every stack carries it, so `cdk deploy 'dev/*'` stops at the first.
func refuseDeploy(stack awscdk.Stack, problems []string) {
	awscdk.NewCfnRule(stack, jsii.String("RefusePlaceholderSettings"), &awscdk.CfnRuleProps{
		Assertions: &[]*awscdk.CfnRuleAssertion{{
			Assert:            awscdk.Fn_ConditionContains(jsii.Strings("placeholder settings"), awscdk.Fn_Ref(jsii.String("BootstrapVersion"))),
			AssertDescription: jsii.String(strings.Join(problems, "; ")),
		}},
	})
}

// statefulRemoval is what happens to data when its stack is deleted: prod keeps it (retainPolicy), dev lets it
// go with the stack. What prod keeps, and how:
//   - RETAIN_ON_UPDATE_OR_DELETE (DeletionPolicy RetainExceptOnCreate, UpdateReplacePolicy Retain) for anything
//     with a fixed name (secrets, the backup vault, the image repository) and the data key: kept on a stack
//     delete or a replacement, deleted when the operation that created it rolls back, so a failed first create
//     leaves nothing behind whose name would make the retry fail with "already exists" (CloudFormation user
//     guide, "DeletionPolicy attribute"; What's New 2023-07-31, "AWS CloudFormation deletion policies dev-test
//     cycle": "During rollbacks, CloudFormation deletes resources that were created in the stack operation").
//   - RETAIN for the buckets, whose names CloudFormation generates (a retry gets new ones): a bucket cannot be
//     deleted while it holds objects, and an ALB writes ELBAccessLogTestFile into its log bucket as soon as
//     logging is on (ELB user guide, "Enable access logs for your Application Load Balancer"), so deleting the
//     buckets in a rollback would fail the rollback itself.
//   - SNAPSHOT for the database and the cache: on a rollback CloudFormation snapshots and deletes them, which
//     frees their identifiers; the snapshot is named by CloudFormation per operation (the RDS resource provider
//     derives it from the stack, "Snapshot-<logical ID>" and the request token: aws-cloudformation-resource-
//     providers-rds, DeleteHandler.java), so it never collides with a retry.
//
// Deletion protection (prod, cfg.DeletionProtection) is a property of the resource, not a DeletionPolicy, and no
// DeletionPolicy overrides it: a failed first create of a prod stack does NOT roll back cleanly once one of these
// exists (TestEveryDeletionProtectedResourceHasARecovery lists them with the operator's steps; docs/runbook.md, "A failed first create of a prod stack"):
//   - the database (data stack; DeletionProtection, DeletionPolicy Snapshot): the rollback's delete calls
//     DeleteDBInstance as it is (the provider's DeleteHandler does not turn protection off), which RDS refuses for a
//     protected instance (AWS::RDS::DBInstance DeletionProtection: "The database can't be deleted when deletion
//     protection is enabled"); the resource ends DELETE_FAILED and the stack ROLLBACK_FAILED, the instance kept;
//   - the load balancer (compute stack; attribute deletion_protection.enabled, DeletionPolicy Delete): ELB refuses
//     to delete it until the attribute is off (ELB user guide, "Deletion protection"), with the same result.
//     compute's first create fails after the load balancer exists whenever the service does not stabilize.
//
// A ROLLBACK_FAILED stack can only be deleted (CloudFormation user guide, "Stack status codes"), and every prod
// stack has termination protection, which makes DeleteStack fail in any status until it is turned off ("Protect
// CloudFormation stacks from being deleted"); the CDK CLI's own delete-and-recreate of a failed stack fails the same
// way ("cannot be deleted while TerminationProtection is enabled": aws-samples/aws-secure-environment-accelerator#253).
// So after a failed first create of a prod stack someone turns off the protection of what was created, and the
// stack's termination protection, and deletes the stack; operator.go grants the first and the delete.
func statefulRemoval(cfg *config.Config, retainPolicy awscdk.RemovalPolicy) awscdk.RemovalPolicy {
	if cfg.DeletionProtection {
		return retainPolicy
	}
	return awscdk.RemovalPolicy_DESTROY
}

// hostedZone is the stage's public zone, by id and name from config: no lookup, so synth stays offline.
func hostedZone(scope constructs.Construct, cfg *config.Config) awsroute53.IHostedZone {
	return awsroute53.HostedZone_FromHostedZoneAttributes(scope, jsii.String("Zone"), &awsroute53.HostedZoneAttributes{
		HostedZoneId: jsii.String(cfg.HostedZoneID), ZoneName: jsii.String(cfg.DomainName),
	})
}

// outputs adds one stack output per value (in key order, for stable templates), each with the same description.
func outputs(stack awscdk.Stack, description string, values map[string]*string) {
	for _, key := range sortedKeys(values) {
		awscdk.NewCfnOutput(stack, jsii.String(key), &awscdk.CfnOutputProps{Value: values[key], Description: jsii.String(description)})
	}
}

// optional is nil for "" (a property left unset), else the string.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return jsii.String(s)
}

// sortedKeys ranges a map in a fixed order: Go's map order is random, and constructs created (or metadata
// written) in a different order each run would change the templates and make every `cdk diff` noisy.
func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// toAnySlice converts a string list for the L1 properties typed as a list of anything.
func toAnySlice(values *[]*string) *[]interface{} {
	out := make([]interface{}, 0, len(*values))
	for _, v := range *values {
		out = append(out, v)
	}
	return &out
}
