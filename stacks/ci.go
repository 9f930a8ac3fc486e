package stacks

import (
	"fmt"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecr"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"h2o-infra/config"
)

const githubOIDCHost = "token.actions.githubusercontent.com"

// deploySession is how long a deploy role's credentials last: a deploy job may take up to 90 minutes (waking dev's
// database, a data-stack change, migrations), and credentials that expire mid-deploy would leave CloudFormation
// running while the script reports a failure. The workflows ask for the same (role-duration-seconds).
const deploySession = 2 * time.Hour

// CiStack is the account-level stack every stage depends on: the backend's image repository and the roles
// GitHub Actions assumes through OIDC (no long-lived AWS keys). Stages find the repository by name, because
// stacks in a Stage cannot reference a stack outside it.
type CiStack struct {
	awscdk.Stack
	Repository  awsecr.Repository
	DeployRoles map[string]awsiam.Role // by stage
	// OperatorRoles are the roles people assume for the runbook's manual steps, by stage (operator.go).
	OperatorRoles map[string]awsiam.Role
	DiffRole      awsiam.Role
	// DriftRole runs the nightly drift and engine version checks (drift.go).
	DriftRole awsiam.Role
}

// NewCiStack builds h2o-ci.
func NewCiStack(scope constructs.Construct, cfg *config.CI) *CiStack {
	stack := awscdk.NewStack(scope, jsii.String("h2o-ci"), &awscdk.StackProps{StackName: jsii.String("h2o-ci"), Env: env(cfg.Account, cfg.Region),
		Description: jsii.String("h2o account level: backend image repository, GitHub OIDC deploy roles, operator roles")})
	addNagChecks(stack)
	tagAll(stack, map[string]string{"Project": "h2o", "Stage": "shared", "Layer": "ci", "ManagedBy": "cdk"})
	c := &CiStack{Stack: stack, DeployRoles: map[string]awsiam.Role{}, OperatorRoles: map[string]awsiam.Role{}}
	c.Repository = awsecr.NewRepository(stack, jsii.String("BackendRepository"), &awsecr.RepositoryProps{
		RepositoryName:  jsii.String(cfg.RepositoryName),
		ImageScanOnPush: jsii.Bool(true),
		// A commit-SHA tag always means the same image: a rollback to a SHA redeploys exactly what ran before. Only
		// the per-stage marker tags move (scripts/deploy.sh and rollback.sh move them after a healthy rollout):
		// wildcard exclusion filters make the matching tags mutable (ECR API reference,
		// "ImageTagMutabilityExclusionFilter"; aws-cdk-lib aws-ecr TagMutability.IMMUTABLE_WITH_EXCLUSION).
		ImageTagMutability: awsecr.TagMutability_IMMUTABLE_WITH_EXCLUSION,
		ImageTagMutabilityExclusionFilters: &[]awsecr.ImageTagMutabilityExclusionFilter{
			awsecr.ImageTagMutabilityExclusionFilter_Wildcard(jsii.String(LiveTagPrefix + "*")),
			awsecr.ImageTagMutabilityExclusionFilter_Wildcard(jsii.String(PreviousTagPrefix + "*")),
		},
		Encryption:     awsecr.RepositoryEncryption_AES_256(),
		LifecycleRules: imageLifecycle(),
		// Images are rebuildable, but every stage runs from here: never delete it with the stack. Named, so a failed
		// first create of h2o-ci deletes it (statefulRemoval): a kept empty repository would block the retry.
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN_ON_UPDATE_OR_DELETE,
	})
	awscdk.NewCfnOutput(stack, jsii.String("RepositoryUri"), &awscdk.CfnOutputProps{Value: c.Repository.RepositoryUri()})

	var provider awsiam.IOidcProvider
	if cfg.GitHubOIDCProviderARN != "" {
		provider = awsiam.OidcProviderNative_FromOidcProviderArn(stack, jsii.String("GithubOidc"), jsii.String(cfg.GitHubOIDCProviderARN))
	} else {
		provider = awsiam.NewOidcProviderNative(stack, jsii.String("GithubOidc"), &awsiam.OidcProviderNativeProps{
			Url: jsii.String("https://" + githubOIDCHost), ClientIds: jsii.Strings("sts.amazonaws.com"),
		})
	}
	for _, stage := range cfg.Stages {
		// Only a workflow job running in the GitHub environment named after the stage (prod: required reviewers).
		role := githubRole(stack, "DeployRole-"+stage, provider, fmt.Sprintf("repo:%s:environment:%s", cfg.GitHubRepository, stage),
			Names{stage}.DeployRole(), "GitHub Actions deploys of "+stage, deploySession)
		role.AddToPolicy(assumeBootstrapRoles(stack, "deploy", "file-publishing", "image-publishing", "lookup"))
		c.Repository.GrantPullPush(role)
		for _, statement := range scriptPermissions(stack, Names{stage}, c.Repository) {
			role.AddToPolicy(statement)
		}
		suppressWildcards(role, "cdk-hnb659fds-<kind>-role-* names the CDK bootstrap roles of this account; the stage's "+
			"resources are named h2o-<stage>-* (stacks, tasks of its cluster, task definition revisions); the RDS-managed secret "+
			"is rds!db-<id>; CloudFront distribution ids are generated; ecr:GetAuthorizationToken, ecs:Describe/RegisterTaskDefinition, "+
			"elasticloadbalancing:DescribeTargetHealth, cloudwatch:GetMetricStatistics/GetMetricData, ec2:Describe*, "+
			"application-autoscaling's calls and the engine version catalogs (and their pending maintenance and update "+
			"actions) have no resource-level permissions.",
			"Resource::*", `/^Resource::arn:aws:iam::<AWS::AccountId>:role\/cdk-hnb659fds-.*$/`, `/^Resource::arn:.*[:\/]h2o-[a-z]+-.*\*$/`,
			`/^Resource::arn:.*:(task|task-definition)\/h2o-[a-z-]+[:\/]\*$/`, `/^Resource::arn:.*:secret:rds!db-\*$/`,
			`/^Resource::arn:.*:distribution\/\*$/`)
		c.DeployRoles[stage] = role
		awscdk.NewCfnOutput(stack, jsii.String("DeployRoleArn"+stage), &awscdk.CfnOutputProps{Value: role.RoleArn(),
			Description: jsii.String("GitHub variable AWS_DEPLOY_ROLE_ARN of environment " + stage)})
		c.OperatorRoles[stage] = newOperatorRole(stack, cfg, Names{stage}, c.Repository)
		awscdk.NewCfnOutput(stack, jsii.String("OperatorRoleArn"+stage), &awscdk.CfnOutputProps{Value: c.OperatorRoles[stage].RoleArn(),
			Description: jsii.String("role_arn of the " + stage + " operator's AWS CLI profile (docs/runbook.md, \"Who may run what\")")})
	}
	if cfg.BackendRepository != "" {
		// Only pushes to the backend repository's main branch may push images; deploying stays with this repository.
		push := githubRole(stack, "BackendPushRole", provider, fmt.Sprintf("repo:%s:ref:refs/heads/main", cfg.BackendRepository),
			"h2o-backend-push", "GitHub Actions image pushes from "+cfg.BackendRepository, time.Hour)
		c.Repository.GrantPush(push)
		// Whether the commit's image is already there: tags are immutable, so pushing it again would fail
		// (ImageTagAlreadyExistsException: ECR user guide, "Preventing image tags from being overwritten").
		push.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions: jsii.Strings("ecr:DescribeImages"), Resources: jsii.Strings(*c.Repository.RepositoryArn())}))
		suppressWildcards(push, "ecr:GetAuthorizationToken has no resource-level permissions; pushes are scoped to the repository.", "Resource::*")
		awscdk.NewCfnOutput(stack, jsii.String("BackendPushRoleArn"), &awscdk.CfnOutputProps{Value: push.RoleArn(),
			Description: jsii.String("GitHub variable AWS_PUSH_ROLE_ARN of " + cfg.BackendRepository)})
	}
	// Pull requests may only diff: the bootstrap lookup role reads stacks, it cannot change them.
	c.DiffRole = githubRole(stack, "DiffRole", provider, fmt.Sprintf("repo:%s:pull_request", cfg.GitHubRepository),
		"h2o-diff", "GitHub Actions cdk diff on pull requests", time.Hour)
	c.DiffRole.AddToPolicy(assumeBootstrapRoles(stack, "lookup"))
	suppressWildcards(c.DiffRole, "cdk-hnb659fds-lookup-role-* is the CDK bootstrap lookup role of this account.",
		`/^Resource::arn:aws:iam::<AWS::AccountId>:role\/cdk-hnb659fds-.*$/`)
	awscdk.NewCfnOutput(stack, jsii.String("DiffRoleArn"), &awscdk.CfnOutputProps{Value: c.DiffRole.RoleArn(),
		Description: jsii.String("GitHub variable AWS_DIFF_ROLE_ARN")})
	c.DriftRole = newDriftRole(stack, cfg, provider)
	awscdk.NewCfnOutput(stack, jsii.String("DriftRoleArn"), &awscdk.CfnOutputProps{Value: c.DriftRole.RoleArn(),
		Description: jsii.String("GitHub variable AWS_DRIFT_ROLE_ARN (.github/workflows/nightly.yml)")})
	applyNistExceptions(stack, nil, nil) // last, as in NewH2oStage
	return c
}

// The marker tags of the image each stage runs (live-<stage>) and ran before (previous-<stage>): the rollback
// target. scripts/deploy.sh and rollback.sh move them.
const (
	LiveTagPrefix     = "live-"
	PreviousTagPrefix = "previous-"
)

// imageLifecycle never expires an image a stage runs or would roll back to. ECR's lifecycle rules ignore
// running tasks (aws/containers-roadmap#1078), but "an image that matches the tagging requirements of a rule
// cannot be expired by a rule with a lower priority" (ECR user guide, "Lifecycle policy evaluation rules"): the
// marker tags are matched first by rules that only expire after ten years, so no number of pushes to dev can
// push prod's image out of "keep the last 30".
func imageLifecycle() *[]*awsecr.LifecycleRule {
	tenYears := awscdk.Duration_Days(jsii.Number(3650))
	return &[]*awsecr.LifecycleRule{
		{RulePriority: jsii.Number(1), Description: jsii.String("the image each stage runs (live-<stage>)"),
			TagStatus: awsecr.TagStatus_TAGGED, TagPrefixList: jsii.Strings(LiveTagPrefix), MaxImageAge: tenYears},
		{RulePriority: jsii.Number(2), Description: jsii.String("the image each stage ran before (previous-<stage>): its rollback target"),
			TagStatus: awsecr.TagStatus_TAGGED, TagPrefixList: jsii.Strings(PreviousTagPrefix), MaxImageAge: tenYears},
		{RulePriority: jsii.Number(3), Description: jsii.String("untagged layers of failed pushes"),
			TagStatus: awsecr.TagStatus_UNTAGGED, MaxImageAge: awscdk.Duration_Days(jsii.Number(1))},
		// 30 more images cover weeks of deploys to roll back to by SHA, at cents of storage.
		{RulePriority: jsii.Number(4), Description: jsii.String("keep the last 30 other images"),
			TagStatus: awsecr.TagStatus_ANY, MaxImageCount: jsii.Number(30)},
	}
}

// scriptPermissions are the AWS calls the pipeline's scripts make on one stage (deploy.sh, migrate.sh, rollback.sh
// including --emergency, verify.sh; scripts/testdata/aws-calls.txt lists them and TestDeployRoleAllowsEveryScriptCall
// holds this policy to it), each on the stage's own resources where IAM allows naming them. Changing the stacks
// themselves goes through the CDK bootstrap roles (CloudFormation), never through this role.
func scriptPermissions(stack awscdk.Stack, n Names, repo awsecr.Repository) []awsiam.PolicyStatement {
	arn := func(service, resource string) string {
		return fmt.Sprintf("arn:%s:%s:%s:%s:%s", *stack.Partition(), service, *stack.Region(), *stack.Account(), resource)
	}
	allow := func(actions []string, resources ...string) awsiam.PolicyStatement {
		return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Actions: jsii.Strings(actions...), Resources: jsii.Strings(resources...)})
	}
	cluster := arn("ecs", "cluster/"+n.Cluster())
	service := arn("ecs", "service/"+n.Cluster()+"/"+n.Service())
	database := arn("rds", "db:"+n.Database())
	runTask := allow([]string{"ecs:RunTask"}, arn("ecs", "task-definition/"+n.MigrationFamily()+":*"))
	runTask.AddCondition(jsii.String("ArnEquals"), map[string]interface{}{"ecs:cluster": cluster})
	passRoles := allow([]string{"iam:PassRole"}, fmt.Sprintf("arn:%s:iam::%s:role/%s", *stack.Partition(), *stack.Account(), n.BackendRole("task")),
		fmt.Sprintf("arn:%s:iam::%s:role/%s", *stack.Partition(), *stack.Account(), n.BackendRole("execution")))
	passRoles.AddCondition(jsii.String("StringEquals"), map[string]interface{}{"iam:PassedToService": "ecs-tasks.amazonaws.com"})
	return []awsiam.PolicyStatement{
		// The stacks' states and outputs; the resources of a failed create or a stuck stack, for its repair command,
		// and the failed stack's template (which leftovers have a fixed name a retry would take again).
		allow([]string{"cloudformation:DescribeStacks", "cloudformation:DescribeStackResources", "cloudformation:GetTemplate"},
			arn("cloudformation", "stack/"+n.Stack("*")+"/*")),
		allow([]string{"ecr:DescribeImages"}, *repo.RepositoryArn()),
		// Service state, the one-off migration task, and an --emergency rollback outside CloudFormation.
		allow([]string{"ecs:DescribeServices", "ecs:UpdateService", "ecs:ListServiceDeployments"}, service),
		// deploy.sh --hotfix follows the service's deployments and stops one that breaches with a rollback (ECS
		// developer guide, "Permissions required for viewing Amazon ECS service deployments": the service and its
		// service-deployment/<cluster>/<service>/* resources; StopServiceDeployment on the same, unverified).
		allow([]string{"ecs:DescribeServiceDeployments", "ecs:StopServiceDeployment"}, arn("ecs", "service-deployment/"+n.Cluster()+"/"+n.Service()+"/*")),
		// The deployment alarms' states and definitions (resource-level: Application Recovery Controller developer
		// guide, "CloudWatch alarms for application health permissions"), their metrics (GetMetricData: none).
		allow([]string{"cloudwatch:DescribeAlarms"}, arn("cloudwatch", "alarm:"+n.Alarm("*"))),
		allow([]string{"ecs:DescribeTasks"}, arn("ecs", "task/"+n.Cluster()+"/*")),
		runTask, passRoles,
		allow([]string{"ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"}, "*"),
		allow([]string{"ecs:TagResource"}, arn("ecs", "task-definition/"+n.TaskFamily()+":*")),
		// Waking a stage that sleeps off hours: its database and the service's scaling bounds.
		allow([]string{"rds:DescribeDBInstances", "rds:StartDBInstance"}, database),
		allow([]string{"application-autoscaling:DescribeScalableTargets", "application-autoscaling:RegisterScalableTarget"}, "*"),
		// verify.sh: targets, WAF logging, alarm delivery (the canary only), rotation, backups.
		allow([]string{"elasticloadbalancing:DescribeTargetHealth", "cloudwatch:GetMetricStatistics", "cloudwatch:GetMetricData"}, "*"),
		allow([]string{"cloudfront:GetDistribution"}, fmt.Sprintf("arn:%s:cloudfront::%s:distribution/*", *stack.Partition(), *stack.Account())),
		allow([]string{"wafv2:GetLoggingConfiguration"}, arn("wafv2", "global/webacl/"+n.WebACL()+"/*")),
		allow([]string{"cloudwatch:SetAlarmState"}, arn("cloudwatch", "alarm:"+n.Alarm("notification-canary"))),
		allow([]string{"secretsmanager:DescribeSecret"}, arn("secretsmanager", "secret:rds!db-*")),
		allow([]string{"backup:ListRecoveryPointsByBackupVault", "backup:DescribeBackupVault"}, arn("backup", "backup-vault:"+n.BackupVault())),
		// deploy.sh's zone preflight, verify.sh's prefix list: EC2's Describe actions have no resource-level
		// permissions (EC2 user guide, "IAM policies for Amazon EC2").
		allow([]string{"ec2:DescribeAvailabilityZones", "ec2:DescribeManagedPrefixLists"}, "*"),
		// verify.sh's engine version check (scripts/versions.sh): what RDS and ElastiCache offer and support, and
		// what the stage's database and cache run.
		allow([]string{"rds:DescribeDBMajorEngineVersions", "rds:DescribeDBEngineVersions", "rds:DescribePendingMaintenanceActions",
			"elasticache:DescribeCacheEngineVersions", "elasticache:DescribeUpdateActions"}, "*"),
		allow([]string{"elasticache:DescribeReplicationGroups"}, arn("elasticache", "replicationgroup:"+n.Cache())),
		allow([]string{"elasticache:DescribeCacheClusters"}, arn("elasticache", "cluster:"+n.Cache()+"-*")),
	}
}

// githubRole is assumable only with a GitHub OIDC token for sts.amazonaws.com whose subject is exactly sub.
func githubRole(stack awscdk.Stack, id string, provider awsiam.IOidcProvider, sub, name, description string, session time.Duration) awsiam.Role {
	return awsiam.NewRole(stack, jsii.String(id), &awsiam.RoleProps{
		RoleName:    jsii.String(name),
		Description: jsii.String(description),
		AssumedBy: awsiam.NewOpenIdConnectPrincipal(provider, &map[string]interface{}{
			"StringEquals": map[string]interface{}{githubOIDCHost + ":aud": "sts.amazonaws.com", githubOIDCHost + ":sub": sub},
		}),
		MaxSessionDuration: awscdk.Duration_Minutes(jsii.Number(session.Minutes())),
	})
}

// assumeBootstrapRoles allows sts:AssumeRole on the named CDK bootstrap roles (default qualifier) only.
func assumeBootstrapRoles(stack awscdk.Stack, kinds ...string) awsiam.PolicyStatement {
	var arns []*string
	for _, kind := range kinds {
		arns = append(arns, jsii.String(fmt.Sprintf("arn:%s:iam::%s:role/cdk-hnb659fds-%s-role-*",
			*stack.Partition(), *stack.Account(), kind)))
	}
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Actions: jsii.Strings("sts:AssumeRole"), Resources: &arns})
}
