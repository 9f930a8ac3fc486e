package stacks

import (
	"slices"
	"strings"
)

// Drift detection reads every resource with the caller's credentials: "a user must have ... Read permission for
// each resource that supports drift detection included in the stack" (CloudFormation user guide, "Detect
// unmanaged configuration changes to stacks and resources with drift detection", Considerations). A registry
// type is read through its schema's read handler, so the drift role gets exactly handlers.read.permissions of
// every type the app's templates hold (the CloudFormation registry schemas as mirrored in
// pulumi/pulumi-aws-native, aws-cloudformation-schema/<service>-<type>.json). TestDriftRoleReadsEveryCheckedType
// fails for a type of a synthesized template that is not in driftReads.
//
// A type is either read (its actions) or skipped (never passed to DetectStackDrift, with the reason):
// CloudFormation cannot check it (no read handler), or reading it would take more than a read.

// driftRead is how the drift check treats one resource type.
type driftRead struct {
	actions []string
	skip    string // why the type is left out of detection; empty: checked with actions
}

// noReadHandler: "Resources that do not currently support drift detection cannot be checked" (DetectStackDrift,
// API reference); the schema has no read handler, so there is nothing CloudFormation could compare.
const noReadHandler = "CloudFormation cannot check it: the type's registry schema has no read handler"

var driftReads = map[string]driftRead{
	"AWS::ApplicationAutoScaling::ScalableTarget": {actions: []string{"application-autoscaling:DescribeScalableTargets",
		"application-autoscaling:DescribeScheduledActions", "application-autoscaling:ListTagsForResource"}},
	"AWS::ApplicationAutoScaling::ScalingPolicy": {actions: []string{"application-autoscaling:DescribeScalingPolicies"}},
	"AWS::Backup::BackupPlan":                    {actions: []string{"backup:GetBackupPlan", "backup:ListTags"}},
	"AWS::Backup::BackupSelection":               {actions: []string{"backup:GetBackupSelection"}},
	"AWS::Backup::BackupVault": {actions: []string{"backup:DescribeBackupVault", "backup:GetBackupVaultNotifications",
		"backup:GetBackupVaultAccessPolicy", "backup:ListTags"}},
	"AWS::CertificateManager::Certificate":    {actions: []string{"acm:DescribeCertificate", "acm:ListTagsForCertificate"}},
	"AWS::Chatbot::SlackChannelConfiguration": {actions: []string{"chatbot:DescribeSlackChannelConfigurations"}},
	"AWS::CloudFront::Distribution": {actions: []string{"cloudfront:GetDistribution", "cloudfront:GetDistributionConfig",
		"cloudfront:ListTagsForResource"}},
	"AWS::CloudFront::VpcOrigin":                    {actions: []string{"cloudfront:GetVpcOrigin", "cloudfront:ListTagsForResource"}},
	"AWS::CloudWatch::Alarm":                        {actions: []string{"cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource"}},
	"AWS::CloudWatch::Dashboard":                    {actions: []string{"cloudwatch:GetDashboard"}},
	"AWS::EC2::EIP":                                 {actions: []string{"ec2:DescribeAddresses"}},
	"AWS::EC2::FlowLog":                             {actions: []string{"ec2:DescribeFlowLogs"}},
	"AWS::EC2::InternetGateway":                     {actions: []string{"ec2:DescribeInternetGateways"}},
	"AWS::EC2::NatGateway":                          {actions: []string{"ec2:DescribeNatGateways"}},
	"AWS::EC2::Route":                               {actions: []string{"ec2:DescribeRouteTables"}},
	"AWS::EC2::RouteTable":                          {actions: []string{"ec2:DescribeRouteTables"}},
	"AWS::EC2::SecurityGroup":                       {actions: []string{"ec2:DescribeSecurityGroups"}},
	"AWS::EC2::SecurityGroupEgress":                 {actions: []string{"ec2:DescribeSecurityGroupRules"}},
	"AWS::EC2::SecurityGroupIngress":                {actions: []string{"ec2:DescribeSecurityGroups", "ec2:DescribeSecurityGroupRules"}},
	"AWS::EC2::Subnet":                              {actions: []string{"ec2:DescribeSubnets", "ec2:DescribeNetworkAcls"}},
	"AWS::EC2::SubnetRouteTableAssociation":         {actions: []string{"ec2:DescribeRouteTables"}},
	"AWS::EC2::VPCEndpoint":                         {actions: []string{"ec2:DescribeVpcEndpoints"}},
	"AWS::ECS::ClusterCapacityProviderAssociations": {actions: []string{"ecs:DescribeClusters"}},
	"AWS::ECS::TaskDefinition":                      {actions: []string{"ecs:DescribeTaskDefinition"}},
	"AWS::ECS::Service":                             {actions: []string{"ecs:DescribeServices"}},
	"AWS::ECR::Repository": {actions: []string{"ecr:DescribeRepositories", "ecr:GetLifecyclePolicy", "ecr:GetRepositoryPolicy",
		"ecr:ListTagsForResource"}},
	"AWS::ElastiCache::ReplicationGroup": {actions: []string{"elasticache:DescribeReplicationGroups", "elasticache:ListTagsForResource"}},
	"AWS::ElastiCache::SubnetGroup":      {actions: []string{"elasticache:DescribeCacheSubnetGroups", "elasticache:ListTagsForResource"}},
	"AWS::ElasticLoadBalancingV2::Listener": {actions: []string{"elasticloadbalancing:DescribeListeners",
		"elasticloadbalancing:DescribeListenerAttributes"}},
	"AWS::ElasticLoadBalancingV2::ListenerRule": {actions: []string{"elasticloadbalancing:DescribeRules", "elasticloadbalancing:DescribeTags"}},
	"AWS::ElasticLoadBalancingV2::LoadBalancer": {actions: []string{"elasticloadbalancing:DescribeLoadBalancers",
		"elasticloadbalancing:DescribeLoadBalancerAttributes", "elasticloadbalancing:DescribeTags"}},
	"AWS::ElasticLoadBalancingV2::TargetGroup": {actions: []string{"elasticloadbalancing:DescribeTargetGroups",
		"elasticloadbalancing:DescribeTargetGroupAttributes", "elasticloadbalancing:DescribeTargetHealth", "elasticloadbalancing:DescribeTags"}},
	"AWS::IAM::OIDCProvider": {actions: []string{"iam:GetOpenIDConnectProvider"}},
	// The CDK's overflow policy of a role whose inline policy outgrows IAM's size limit (the operator roles).
	"AWS::IAM::ManagedPolicy": {actions: []string{"iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListEntitiesForPolicy"}},
	"AWS::IAM::Role":          {actions: []string{"iam:GetRole", "iam:ListAttachedRolePolicies", "iam:ListRolePolicies", "iam:GetRolePolicy"}},
	"AWS::KMS::Alias":         {actions: []string{"kms:ListAliases"}},
	"AWS::KMS::Key":           {actions: []string{"kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListResourceTags"}},
	"AWS::Lambda::Function":   {actions: []string{"lambda:GetFunction", "lambda:GetFunctionCodeSigningConfig"}},
	"AWS::Logs::LogGroup":     {actions: []string{"logs:DescribeLogGroups", "logs:ListTagsForResource", "logs:GetDataProtectionPolicy"}},
	"AWS::Logs::MetricFilter": {actions: []string{"logs:DescribeMetricFilters"}},
	"AWS::RDS::DBInstance": {actions: []string{"rds:DescribeDBInstances", "ec2:DescribeAccountAttributes", "ec2:DescribeAvailabilityZones",
		"ec2:DescribeInternetGateways", "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcAttribute", "ec2:DescribeVpcs"}},
	"AWS::RDS::DBParameterGroup": {actions: []string{"rds:DescribeDBParameterGroups", "rds:ListTagsForResource"}},
	"AWS::RDS::DBSubnetGroup":    {actions: []string{"rds:DescribeDBSubnetGroups", "rds:ListTagsForResource"}},
	"AWS::Route53::RecordSet":    {actions: []string{"route53:ListHostedZones", "route53:ListResourceRecordSets", "route53:GetHostedZone"}},
	// Its read handler lists the bucket (object keys): the role may list keys, never read an object.
	"AWS::S3::Bucket": {actions: []string{"s3:GetAccelerateConfiguration", "s3:GetLifecycleConfiguration", "s3:GetBucketPublicAccessBlock",
		"s3:GetAnalyticsConfiguration", "s3:GetBucketCORS", "s3:GetEncryptionConfiguration", "s3:GetInventoryConfiguration",
		"s3:GetBucketLogging", "s3:GetMetricsConfiguration", "s3:GetBucketNotification", "s3:GetBucketVersioning",
		"s3:GetReplicationConfiguration", "s3:GetBucketWebsite", "s3:GetBucketObjectLockConfiguration", "s3:GetBucketTagging",
		"s3:GetBucketOwnershipControls", "s3:GetIntelligentTieringConfiguration", "s3:GetBucketMetadataTableConfiguration", "s3:ListBucket"}},
	"AWS::S3::BucketPolicy":    {actions: []string{"s3:GetBucketPolicy"}},
	"AWS::Scheduler::Schedule": {actions: []string{"scheduler:GetSchedule"}},
	"AWS::SNS::Topic": {actions: []string{"sns:GetTopicAttributes", "sns:ListTagsForResource", "sns:ListSubscriptionsByTopic",
		"sns:GetDataProtectionPolicy"}},
	"AWS::SNS::TopicPolicy": {actions: []string{}}, // its read handler names no permission
	// The schema also lists kms:Decrypt, for a definition encrypted with a customer managed key; the app's state
	// machines use AWS-owned keys (TestDriftRoleReadsEveryCheckedType), so the role gets no kms:Decrypt for it.
	"AWS::StepFunctions::StateMachine": {actions: []string{"states:DescribeStateMachine", "states:ListTagsForResource"}},
	"AWS::WAFv2::LoggingConfiguration": {actions: []string{"wafv2:GetLoggingConfiguration"}},
	"AWS::WAFv2::WebACL":               {actions: []string{"wafv2:GetWebACL", "wafv2:ListTagsForResource"}},
	"AWS::ECS::Cluster":                {actions: []string{"ecs:DescribeClusters", "kms:DescribeKey"}},
	"AWS::EC2::VPC": {actions: []string{"ec2:DescribeNetworkAcls", "ec2:DescribeSecurityGroups", "ec2:DescribeVpcAttribute",
		"ec2:DescribeVpcEncryptionControls", "ec2:DescribeVpcs"}},
	// No registry schema with handlers was found for these two (the stored AWS::Events::Rule schema has none: a
	// type CloudFormation reads itself); the actions are the APIs that describe them (EventBridge DescribeRule and
	// ListTargetsByRule; EC2 DescribeInternetGateways, DescribeVpnGateways). Unverified without an account: a
	// missing one shows as a failed detection, never as "in sync".
	"AWS::Events::Rule":              {actions: []string{"events:DescribeRule", "events:ListTargetsByRule"}},
	"AWS::EC2::VPCGatewayAttachment": {actions: []string{"ec2:DescribeInternetGateways", "ec2:DescribeVpnGateways"}},

	"AWS::SecretsManager::Secret": {skip: "its read handler reads the secret value (secretsmanager:GetSecretValue), which the drift role " +
		"must never hold; a secret's settings change only through a deploy"},
	"AWS::Amplify::App":    {skip: "its read handler needs iam:PassRole and CodeCommit reads, more than a read-only role should hold"},
	"AWS::Amplify::Branch": {skip: "its read handler needs iam:PassRole and s3:GetObject, more than a read-only role should hold"},
	"AWS::Amplify::Domain": {skip: "its read handler needs iam:PassRole, more than a read-only role should hold"},
	// IAM::Policy has no read handler: a console edit of a role's inline policy is invisible to drift detection.
	"AWS::IAM::Policy":       {skip: noReadHandler},
	"AWS::SNS::Subscription": {skip: noReadHandler},
	"AWS::Budgets::Budget":   {skip: noReadHandler},
	"AWS::CDK::Metadata":     {skip: "the CDK's own metadata, not a resource"},
}

// customResourceSkip: a Custom::* resource is a Lambda call, not a registry type: nothing to read.
const customResourceSkip = "a custom resource (a Lambda call), which CloudFormation cannot check"

// driftReadOf is how the drift check treats a type; ok false for a type nobody classified.
func driftReadOf(typ string) (driftRead, bool) {
	if strings.HasPrefix(typ, "Custom::") {
		return driftRead{skip: customResourceSkip}, true
	}
	r, ok := driftReads[typ]
	return r, ok
}

// driftReadActions is every action the checked types need, sorted and unique.
func driftReadActions() []string {
	var out []string
	for _, r := range driftReads {
		out = append(out, r.actions...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
