package stacks

import (
	"fmt"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"

	"h2o-infra/config"
)

// DriftRoleName is the role of the nightly checks (.github/workflows/nightly.yml: scripts/drift.sh and
// scripts/versions.sh).
const DriftRoleName = "h2o-drift"

// driftBranch is the only ref whose runs may assume the drift role. Scheduled workflows "will only run on the
// default branch" (GitHub Docs, "Events that trigger workflows", schedule), and a job that names no environment
// gets the subject repo:<org>/<repo>:ref:refs/heads/<branch> (GitHub Docs, "OpenID Connect reference", example
// subject claims; github/docs#28058): GitHub itself refuses every other branch, a pull request or a fork. An
// environment would need a deployment-branch rule set by hand in the repository's settings to say as much.
const driftBranch = "refs/heads/main"

// driftSession: a nightly run checks three targets, each stack's detection within DRIFT_WAIT (scripts/drift.sh).
const driftSession = time.Hour

// versionReads are the reads of scripts/versions.sh: what RDS and ElastiCache offer and support, and what runs.
var versionReads = []string{"rds:DescribeDBMajorEngineVersions", "rds:DescribeDBEngineVersions", "rds:DescribeDBInstances",
	"rds:DescribePendingMaintenanceActions", "elasticache:DescribeCacheEngineVersions", "elasticache:DescribeReplicationGroups",
	"elasticache:DescribeCacheClusters", "elasticache:DescribeUpdateActions"}

// newDriftRole is h2o-drift: assumable by this repository's default-branch runs only (driftBranch), it may run
// drift detection on the app's stacks, read what detection reads (driftReads) and what versions.sh reads, and
// publish the findings to the stages' alarm topics. It changes nothing.
func newDriftRole(stack awscdk.Stack, cfg *config.CI, provider awsiam.IOidcProvider) awsiam.Role {
	role := githubRole(stack, "DriftRole", provider, fmt.Sprintf("repo:%s:ref:%s", cfg.GitHubRepository, driftBranch),
		DriftRoleName, "Nightly drift and engine version checks (GitHub Actions, default branch only)", driftSession)
	for _, statement := range driftPermissions(stack, cfg.Stages) {
		role.AddToPolicy(statement)
	}
	suppressWildcards(role, "The drift role only reads: the read actions of every resource type the stacks hold (their "+
		"CloudFormation read handlers), most of which IAM cannot scope to a resource, and the engine version catalogs; "+
		"drift detection on the app's stacks (h2o-<stage>-*, by name and stack id); DescribeStackDriftDetectionStatus "+
		"takes only a detection id; KMS keys are reached only through SNS for the alarm topics, and SNS asks for "+
		"kms:GenerateDataKey* (SNS developer guide, Key management).",
		"Resource::*", "Action::kms:GenerateDataKey*", `/^Resource::arn:.*:stack\/h2o-[a-z*-]+\/\*$/`, `/^Resource::arn:.*:key\/\*$/`)
	return role
}

// driftPermissions are the drift role's statements.
func driftPermissions(stack awscdk.Stack, stages []string) []awsiam.PolicyStatement {
	region, account, partition := *stack.Region(), *stack.Account(), *stack.Partition()
	arn := func(service, resource string) string {
		return fmt.Sprintf("arn:%s:%s:%s:%s:%s", partition, service, region, account, resource)
	}
	allow := func(actions []string, resources ...string) awsiam.PolicyStatement {
		return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Actions: jsii.Strings(actions...), Resources: jsii.Strings(resources...)})
	}
	stacks := []string{arn("cloudformation", "stack/"+*stack.StackName()+"/*")}
	var topics []string
	for _, stage := range stages {
		stacks = append(stacks, arn("cloudformation", "stack/"+Names{stage}.Stack("*")+"/*"))
		topics = append(topics, arn("sns", Names{stage}.Resource("alarms")))
	}
	// Publishing to a topic encrypted with a customer managed key needs kms:GenerateDataKey* and kms:Decrypt on it
	// (SNS developer guide, "Key management", as quoted by Sonar RSPEC-6327); SNS passes the topic's ARN as
	// encryption context (kms:EncryptionContext:aws:sns:topicArn, as in the GameLift guide's "Set up an SNS topic
	// with server-side encryption"). The topics' key policies defer to IAM (the CDK's default key policy).
	viaSNS := allow([]string{"kms:GenerateDataKey*", "kms:Decrypt"}, arn("kms", "key/*"))
	viaSNS.AddCondition(jsii.String("StringEquals"), map[string]interface{}{"kms:ViaService": "sns." + region + ".amazonaws.com"})
	viaSNS.AddCondition(jsii.String("ForAnyValue:StringEquals"), map[string]interface{}{"kms:EncryptionContext:aws:sns:topicArn": topics})
	reads := append(append([]string{}, driftReadActions()...), versionReads...)
	return []awsiam.PolicyStatement{
		// Detection and its results on the app's stacks; the stacks' state, outputs (the alarm topics) and resources
		// (which ones to check). CloudFormation authorizes DetectStackResourceDrift on a stack-wide detection too
		// (user guide, Considerations: "cloudformation:DetectStackDrift cloudformation:DetectStackResourceDrift").
		allow([]string{"cloudformation:DescribeStacks", "cloudformation:DescribeStackResources", "cloudformation:DetectStackDrift",
			"cloudformation:DetectStackResourceDrift", "cloudformation:DescribeStackResourceDrifts"}, stacks...),
		// Takes only a detection id (not scoped to a stack: alchemy.run's DescribeStackDriftDetectionStatus binding).
		allow([]string{"cloudformation:DescribeStackDriftDetectionStatus"}, "*"),
		allow(dedupe(reads), "*"),
		allow([]string{"sns:Publish"}, topics...),
		viaSNS,
	}
}

// dedupe keeps the first of each string, in order.
func dedupe(list []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
