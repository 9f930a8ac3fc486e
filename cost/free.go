package cost

import "strings"

// freeTypes are resource types with no charge of their own at this app's volume. Each says why.
var freeTypes = map[string]string{
	"AWS::CDK::Metadata": "CDK bookkeeping",
	// IAM and networking plumbing: no charge.
	"AWS::IAM::Role": "", "AWS::IAM::Policy": "", "AWS::IAM::ManagedPolicy": "", "AWS::IAM::InstanceProfile": "",
	"AWS::IAM::OIDCProvider": "", "AWS::IAM::ServiceLinkedRole": "", "AWS::IAM::RolePolicy": "",
	"AWS::EC2::VPC": "", "AWS::EC2::Subnet": "", "AWS::EC2::RouteTable": "", "AWS::EC2::Route": "",
	"AWS::EC2::SubnetRouteTableAssociation": "", "AWS::EC2::InternetGateway": "", "AWS::EC2::VPCGatewayAttachment": "",
	"AWS::EC2::EgressOnlyInternetGateway": "", "AWS::EC2::SecurityGroup": "", "AWS::EC2::SecurityGroupIngress": "",
	"AWS::EC2::SecurityGroupEgress": "", "AWS::EC2::NetworkAcl": "", "AWS::EC2::NetworkAclEntry": "",
	"AWS::EC2::SubnetNetworkAclAssociation": "", "AWS::EC2::DHCPOptions": "", "AWS::EC2::VPCDHCPOptionsAssociation": "",
	"AWS::EC2::PrefixList": "", "AWS::EC2::LaunchTemplate": "",
	"AWS::EC2::FlowLog": "billed as CloudWatch Logs ingestion of its log group",
	// Load balancer parts: billed through the load balancer's hours and LCUs.
	"AWS::ElasticLoadBalancingV2::Listener": "", "AWS::ElasticLoadBalancingV2::ListenerRule": "",
	"AWS::ElasticLoadBalancingV2::ListenerCertificate": "", "AWS::ElasticLoadBalancingV2::TargetGroup": "",
	// ECS: tasks are billed through their service; the cluster itself is free.
	"AWS::ECS::Cluster": "", "AWS::ECS::TaskDefinition": "", "AWS::ECS::ClusterCapacityProviderAssociations": "",
	"AWS::ApplicationAutoScaling::ScalableTarget": "", "AWS::ApplicationAutoScaling::ScalingPolicy": "",
	// Deploy-time Lambdas of CDK custom resources run a few seconds per deploy: inside the Lambda free tier.
	"AWS::Lambda::Function": "", "AWS::Lambda::Permission": "", "AWS::Lambda::Version": "", "AWS::Lambda::Alias": "",
	"AWS::Lambda::LayerVersion": "", "AWS::CloudFormation::CustomResource": "", "AWS::CloudFormation::WaitConditionHandle": "",
	// Notifications and events: SNS (first 1 M publishes and 1,000 e-mails free), EventBridge rules on AWS
	// events (free) and Scheduler (14 M invocations free).
	"AWS::SNS::Topic": "", "AWS::SNS::Subscription": "", "AWS::SNS::TopicPolicy": "", "AWS::Events::Rule": "",
	"AWS::SQS::Queue": "first 1 M requests a month free", "AWS::SQS::QueuePolicy": "",
	"AWS::Scheduler::Schedule": "", "AWS::Scheduler::ScheduleGroup": "", "AWS::Chatbot::SlackChannelConfiguration": "",
	// Data plumbing billed through its parent (instance, cluster, secret).
	"AWS::RDS::DBSubnetGroup": "", "AWS::RDS::DBParameterGroup": "", "AWS::RDS::OptionGroup": "",
	"AWS::RDS::DBClusterParameterGroup": "", "AWS::ElastiCache::SubnetGroup": "", "AWS::ElastiCache::ParameterGroup": "",
	"AWS::ElastiCache::User": "", "AWS::ElastiCache::UserGroup": "", "AWS::SecretsManager::RotationSchedule": "",
	"AWS::SecretsManager::SecretTargetAttachment": "", "AWS::SecretsManager::ResourcePolicy": "",
	"AWS::S3::BucketPolicy": "", "AWS::KMS::Alias": "", "AWS::ECR::RegistryPolicy": "",
	"AWS::ECR::RepositoryCreationTemplate": "", "AWS::ECR::ReplicationConfiguration": "",
	// Public ACM certificates for integrated services are free.
	"AWS::CertificateManager::Certificate": "",
	// CloudFront configuration objects and VPC origins have no charge of their own.
	"AWS::CloudFront::CachePolicy": "", "AWS::CloudFront::OriginRequestPolicy": "",
	"AWS::CloudFront::ResponseHeadersPolicy": "", "AWS::CloudFront::OriginAccessControl": "",
	"AWS::CloudFront::CloudFrontOriginAccessIdentity": "", "AWS::CloudFront::VpcOrigin": "",
	"AWS::WAFv2::WebACLAssociation": "", "AWS::WAFv2::IPSet": "", "AWS::WAFv2::RegexPatternSet": "",
	"AWS::WAFv2::LoggingConfiguration": "billed as CloudWatch Logs ingestion of its log group",
	"AWS::Logs::SubscriptionFilter":    "", "AWS::Logs::ResourcePolicy": "", "AWS::Logs::QueryDefinition": "",
	"AWS::Amplify::Branch": "billed through the app's builds and hosting", "AWS::Amplify::Domain": "",
}

// isFree reports whether a resource has no charge of its own. CDK custom resources (Custom::*) run a
// deploy-time Lambda; standard-tier SSM parameters are free.
func isFree(r *Resource) bool {
	if _, ok := freeTypes[r.Type]; ok {
		return true
	}
	if strings.HasPrefix(r.Type, "Custom::") {
		return true
	}
	if r.Type == "AWS::SSM::Parameter" {
		tier := r.Str("Tier")
		return tier == "" || tier == "Standard"
	}
	return false
}
