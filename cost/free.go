package cost

import "strings"

// freeTypes are the resource types this app creates that have no charge of their own at its volume; each
// group says why. A type that is neither here nor priced by a family is listed as UNPRICED.
var freeTypes = map[string]string{
	"AWS::CDK::Metadata": "CDK bookkeeping",
	// IAM and networking plumbing: no charge.
	"AWS::IAM::Role": "", "AWS::IAM::Policy": "", "AWS::IAM::OIDCProvider": "",
	"AWS::IAM::ManagedPolicy": "customer managed policies (the CDK's OverflowPolicy of a role) have no charge",
	"AWS::EC2::VPC":           "", "AWS::EC2::Subnet": "", "AWS::EC2::RouteTable": "", "AWS::EC2::Route": "",
	"AWS::EC2::SubnetRouteTableAssociation": "", "AWS::EC2::InternetGateway": "", "AWS::EC2::VPCGatewayAttachment": "",
	"AWS::EC2::SecurityGroup": "", "AWS::EC2::SecurityGroupIngress": "", "AWS::EC2::SecurityGroupEgress": "",
	"AWS::EC2::FlowLog": "billed as CloudWatch Logs ingestion of its log group",
	// Load balancer parts: billed through the load balancer's hours and LCUs. Rule evaluations are an LCU dimension
	// whose first 10 rules per request are free (Elastic Load Balancing pricing, "LCU details"): the canary's one
	// production rule costs nothing.
	"AWS::ElasticLoadBalancingV2::Listener": "", "AWS::ElasticLoadBalancingV2::TargetGroup": "",
	"AWS::ElasticLoadBalancingV2::ListenerRule": "",
	// ECS: tasks are billed through their service; the cluster itself is free.
	"AWS::ECS::Cluster": "", "AWS::ECS::TaskDefinition": "", "AWS::ECS::ClusterCapacityProviderAssociations": "",
	"AWS::ApplicationAutoScaling::ScalableTarget": "", "AWS::ApplicationAutoScaling::ScalingPolicy": "",
	// Deploy-time Lambdas of CDK custom resources run a few seconds per deploy: inside the Lambda free tier.
	"AWS::Lambda::Function": "",
	// Notifications and events: SNS (first 1 M publishes and 1,000 e-mails free), EventBridge rules on AWS
	// service events to the default bus (free), Scheduler (14 M invocations free), Chatbot (no charge).
	"AWS::SNS::Topic": "", "AWS::SNS::Subscription": "", "AWS::SNS::TopicPolicy": "", "AWS::Events::Rule": "",
	"AWS::Scheduler::Schedule": "", "AWS::Chatbot::SlackChannelConfiguration": "",
	// Data plumbing billed through its parent (instance, cluster, bucket, key).
	"AWS::RDS::DBSubnetGroup": "", "AWS::RDS::DBParameterGroup": "", "AWS::ElastiCache::SubnetGroup": "",
	"AWS::S3::BucketPolicy": "", "AWS::KMS::Alias": "",
	// AWS Backup: the vault and the selection have no charge of their own; the plan's recovery points are priced.
	"AWS::Backup::BackupVault": "", "AWS::Backup::BackupSelection": "",
	// Public ACM certificates for integrated services are free.
	"AWS::CertificateManager::Certificate": "",
	// CloudFront VPC origins have no charge of their own.
	"AWS::CloudFront::VpcOrigin":       "",
	"AWS::WAFv2::LoggingConfiguration": "billed as CloudWatch Logs ingestion of its log group",
	"AWS::Amplify::Branch":             "billed through the app's builds and hosting", "AWS::Amplify::Domain": "",
}

// isFree reports whether a resource has no charge of its own. CDK custom resources (Custom::*) run a
// deploy-time Lambda.
func isFree(r *Resource) bool {
	_, ok := freeTypes[r.Type]
	return ok || strings.HasPrefix(r.Type, "Custom::")
}
