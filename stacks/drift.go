package stacks

import (
	"fmt"
	"slices"
	"strings"
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
	for _, statement := range driftPermissions(stack, cfg.Stages, cfg.RepositoryName) {
		role.AddToPolicy(statement)
	}
	suppressWildcards(role, "The drift role only reads: the read actions of every resource type the stacks hold (their "+
		"CloudFormation read handlers) and the engine version catalogs, on the app's resources where IAM can name them "+
		"(by the names the stacks give, h2o-<stage>-*, or CloudFormation generates from an h2o-* stack name) and on * "+
		"where it cannot (driftScopes); drift detection on the app's stacks (h2o-<stage>-*, by name and stack id); "+
		"DescribeStackDriftDetectionStatus takes only a detection id; KMS keys are reached only through SNS for the "+
		"alarm topics, and SNS asks for kms:GenerateDataKey* (SNS developer guide, Key management).",
		"Resource::*", "Action::kms:GenerateDataKey*", `/^Resource::arn:.*:stack\/h2o-[a-z*-]+\/\*$/`, `/^Resource::arn:.*:key\/\*$/`,
		`/^Resource::arn:.*:(alarm|stateMachine|backup-vault|function):h2o-[a-z-]*\*$/`, `/^Resource::arn:.*:(dashboard|rule|role|policy)\/h2o-[a-z-]*\*$/`,
		`/^Resource::arn:.*:sns:.*:h2o-[a-z-]+\*$/`, `/^Resource::arn:.*:s3:::h2o-[a-z-]+\*$/`)
	return role
}

// driftScopes are the read actions whose resource IAM can name (Service Authorization Reference, the "Actions
// defined by" table of CloudWatch, SNS, ECS, Step Functions, AWS Backup, ECR, IAM, Lambda, S3 and EventBridge: a
// resource type beside each), with the app's resources they read: by the names the stacks give them (Names), or,
// where CloudFormation names them, by the stack's name that its generated names begin with (CloudFormation template
// reference, "CloudFormation resource custom naming": "MyStack-MyBucket-abcdefghijk1"; unverified for every type
// here, a wrong guess shows as a failed detection, never as "in sync"). Every other read is on
// "*": EC2's and ELB's Describe calls, Application Auto Scaling and Route 53's ListHostedZones have no resource
// types; RDS, ElastiCache and CloudWatch Logs' Describe calls also serve versions.sh and the read handlers' listing
// calls, which IAM authorizes on every resource; ACM, CloudFront, WAF, Backup plans and KMS keys are named by IDs
// AWS generates. TestDriftReadsAreScopedWhereIAMCan checks every resource of the templates against these.
func driftScopes(stack awscdk.Stack, stages []string, repository string) map[string][]string {
	region, account, partition := *stack.Region(), *stack.Account(), *stack.Partition()
	arn := func(service, resource string) string {
		return fmt.Sprintf("arn:%s:%s:%s:%s:%s", partition, service, region, account, resource)
	}
	var stagePrefixes []string // h2o-<stage>-*: the names the stacks give, and the stage stacks' generated names
	for _, stage := range stages {
		stagePrefixes = append(stagePrefixes, Names{stage}.Stack("*"))
	}
	generated := append([]string{*stack.StackName() + "-*"}, stagePrefixes...) // and h2o-ci's
	each := func(format func(string) string, names []string) []string {
		var out []string
		for _, n := range names {
			out = append(out, format(n))
		}
		return out
	}
	scopes := map[string][]string{}
	scope := func(resources []string, actions ...string) {
		for _, a := range actions {
			scopes[a] = resources
		}
	}
	var clusters, services []string
	for _, stage := range stages {
		n := Names{stage}
		clusters = append(clusters, arn("ecs", "cluster/"+n.Cluster()))
		services = append(services, arn("ecs", "service/"+n.Cluster()+"/"+n.Service()))
	}
	scope(each(func(p string) string { return arn("cloudwatch", "alarm:"+p) }, stagePrefixes),
		"cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource")
	scope(each(func(p string) string { return fmt.Sprintf("arn:%s:cloudwatch::%s:dashboard/%s", partition, account, p) }, stagePrefixes),
		"cloudwatch:GetDashboard")
	scope(each(func(p string) string { return arn("sns", p) }, stagePrefixes),
		"sns:GetTopicAttributes", "sns:ListTagsForResource", "sns:ListSubscriptionsByTopic", "sns:GetDataProtectionPolicy")
	scope(clusters, "ecs:DescribeClusters")
	scope(services, "ecs:DescribeServices")
	scope(each(func(p string) string { return arn("states", "stateMachine:"+p) }, stagePrefixes),
		"states:DescribeStateMachine", "states:ListTagsForResource")
	scope(each(func(p string) string { return arn("backup", "backup-vault:"+p) }, stagePrefixes),
		"backup:DescribeBackupVault", "backup:GetBackupVaultNotifications", "backup:GetBackupVaultAccessPolicy")
	scope([]string{arn("ecr", "repository/"+repository)},
		"ecr:DescribeRepositories", "ecr:GetLifecyclePolicy", "ecr:GetRepositoryPolicy", "ecr:ListTagsForResource")
	// IAM names are global to the account; the roles h2o-ci names itself (h2o-drift, h2o-diff, ...) begin with h2o-.
	scope([]string{fmt.Sprintf("arn:%s:iam::%s:role/h2o-*", partition, account)},
		"iam:GetRole", "iam:ListAttachedRolePolicies", "iam:ListRolePolicies", "iam:GetRolePolicy")
	scope([]string{fmt.Sprintf("arn:%s:iam::%s:policy/h2o-*", partition, account)},
		"iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListEntitiesForPolicy")
	scope(each(func(p string) string { return arn("lambda", "function:"+p) }, generated),
		"lambda:GetFunction", "lambda:GetFunctionCodeSigningConfig")
	scope(each(func(p string) string { return arn("events", "rule/"+p) }, generated), "events:DescribeRule", "events:ListTargetsByRule")
	buckets := each(func(p string) string { return fmt.Sprintf("arn:%s:s3:::%s", partition, p) }, generated)
	scope(buckets, append(slices.Clone(driftReads["AWS::S3::Bucket"].actions), driftReads["AWS::S3::BucketPolicy"].actions...)...)
	return scopes
}

// driftPermissions are the drift role's statements.
func driftPermissions(stack awscdk.Stack, stages []string, repository string) []awsiam.PolicyStatement {
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
	scopes := driftScopes(stack, stages, repository)
	var unscoped []string
	scoped := map[string][]string{} // actions by their resources
	for _, a := range dedupe(append(append([]string{}, driftReadActions()...), versionReads...)) {
		if resources, ok := scopes[a]; ok {
			key := strings.Join(resources, " ")
			scoped[key] = append(scoped[key], a)
			continue
		}
		unscoped = append(unscoped, a)
	}
	statements := []awsiam.PolicyStatement{
		// Detection and its results on the app's stacks; the stacks' state, outputs (the alarm topics) and resources
		// (which ones to check). CloudFormation authorizes DetectStackResourceDrift on a stack-wide detection too
		// (user guide, Considerations: "cloudformation:DetectStackDrift cloudformation:DetectStackResourceDrift").
		allow([]string{"cloudformation:DescribeStacks", "cloudformation:DescribeStackResources", "cloudformation:DetectStackDrift",
			"cloudformation:DetectStackResourceDrift", "cloudformation:DescribeStackResourceDrifts"}, stacks...),
		// Its one parameter is the detection's id, StackDriftDetectionId; it names no stack (CloudFormation API
		// reference, "DescribeStackDriftDetectionStatus", Request Parameters), so IAM has no stack to scope it to
		// (Service Authorization Reference, "Actions, resources, and condition keys for AWS CloudFormation":
		// no resource type beside it).
		allow([]string{"cloudformation:DescribeStackDriftDetectionStatus"}, "*"),
		allow(unscoped, "*"),
		allow([]string{"sns:Publish"}, topics...),
		viaSNS,
	}
	for _, key := range sortedKeys(scoped) {
		statements = append(statements, allow(scoped[key], strings.Split(key, " ")...))
	}
	return statements
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
