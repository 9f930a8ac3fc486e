package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"h2o-infra/config"
)

// NetworkStack is the VPC every other layer lives in.
type NetworkStack struct {
	awscdk.Stack
	Vpc awsec2.Vpc
	// StageKey encrypts every layer's log groups, the app's and cache's secrets and the alarm topic (stagekey.go).
	StageKey awskms.Key
	// AppSubnets hold the Fargate tasks: private with NAT egress, or public when the stage has no NAT.
	AppSubnets *awsec2.SubnetSelection
	// DataSubnets hold the database and cache: isolated, no route to or from the internet.
	DataSubnets *awsec2.SubnetSelection
	// LoadBalancerSubnets hold the internal load balancer: private in every stage (loadBalancerTier).
	LoadBalancerSubnets *awsec2.SubnetSelection
	// AppSubnetsArePublic tells compute to give tasks a public IP (their only way to ECR without a NAT).
	AppSubnetsArePublic bool
}

// NewNetworkStack builds a VPC in exactly the configured AZs with public, app and isolated data tiers.
func NewNetworkStack(scope constructs.Construct, cfg *config.Config) *NetworkStack {
	stack := newLayerStack(scope, cfg, "network", "VPC, subnets, NAT, S3 endpoint, flow logs")

	subnets := []*awsec2.SubnetConfiguration{
		{Name: jsii.String("public"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(24),
			MapPublicIpOnLaunch: jsii.Bool(false)}, // nothing here needs an automatic public IP
		{Name: jsii.String("data"), SubnetType: awsec2.SubnetType_PRIVATE_ISOLATED, CidrMask: jsii.Number(24)},
	}
	appTier := awsec2.SubnetType_PUBLIC
	if cfg.NatGateways > 0 {
		appTier = awsec2.SubnetType_PRIVATE_WITH_EGRESS
		subnets = append(subnets, &awsec2.SubnetConfiguration{Name: jsii.String("app"), SubnetType: appTier, CidrMask: jsii.Number(24)})
	}

	key := newStageKey(stack, cfg) // before the first log group: the flow logs' (newLogGroup finds it)
	flowLogs := newLogGroup(stack, "FlowLogs", cfg, "")
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{
		IpAddresses:         awsec2.IpAddresses_Cidr(jsii.String(cfg.VPCCIDR)),
		AvailabilityZones:   jsii.Strings(cfg.AvailabilityZones...),
		NatGateways:         jsii.Number(float64(cfg.NatGateways)),
		SubnetConfiguration: &subnets,
		// Removes every rule of the default security group, so nothing can use it by accident.
		RestrictDefaultSecurityGroup: jsii.Bool(true),
		// Free S3 traffic (PDFs, ECR image layers) that would otherwise pay NAT processing per GB.
		GatewayEndpoints: &map[string]*awsec2.GatewayVpcEndpointOptions{
			"S3": {Service: awsec2.GatewayVpcEndpointAwsService_S3()},
		},
		FlowLogs: &map[string]*awsec2.FlowLogOptions{
			"FlowLog": {
				Destination: awsec2.FlowLogDestination_ToCloudWatchLogs(flowLogs, nil),
				// ALL: accepted flows are what answers "why can't the task reach the database?".
				TrafficType: awsec2.FlowLogTrafficType_ALL,
			},
		},
	})

	weakRefs(vpc)
	return &NetworkStack{
		Stack:               stack,
		Vpc:                 vpc,
		StageKey:            key,
		AppSubnets:          &awsec2.SubnetSelection{SubnetType: appTier},
		DataSubnets:         &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_ISOLATED},
		LoadBalancerSubnets: &awsec2.SubnetSelection{SubnetType: loadBalancerTier(cfg)},
		AppSubnetsArePublic: cfg.NatGateways == 0,
	}
}

// loadBalancerTier is where the internal load balancer lives: always a private tier, never one routed to the
// internet gateway. AWS describes CloudFront VPC origins as load balancers "in private subnets" (CloudFront
// developer guide, "Restrict access with VPC origins": "You can use Application Load Balancers (ALBs), Network
// Load Balancers (NLBs), and EC2 instances in private subnets as VPC origins"); aws-cdk-lib's own VPC origin example
// puts the ALB in PRIVATE_ISOLATED subnets (aws-cloudfront-origins README, "From an Application Load Balancer").
// An internal load balancer needs no route out: its nodes have private addresses only, reached by CloudFront's
// VPC origin and reaching the tasks inside the VPC (CloudFormation, AWS::ElasticLoadBalancingV2::LoadBalancer
// Scheme). So with NAT it shares the private app tier with the tasks, and without NAT (dev: the tasks are in the
// public tier for their egress) it goes to the isolated tier: both span every configured zone, as an ALB needs
// subnets in at least two ("[Application Load Balancers] You must specify subnets from at least two Availability
// Zones": same reference, Subnets), with a /24 each. Moving it between tiers (natGateways 0 <-> more) is an update
// of the same load balancer (Subnets does not force a replacement).
func loadBalancerTier(cfg *config.Config) awsec2.SubnetType {
	if cfg.NatGateways > 0 {
		return awsec2.SubnetType_PRIVATE_WITH_EGRESS
	}
	return awsec2.SubnetType_PRIVATE_ISOLATED
}

// Cross-stack references are strong by default (cdk.json, "@aws-cdk/core:defaultCrossStackReferences": "strong"):
// an export/import, so CloudFormation refuses to replace or change a producer's resource while another stack uses
// it ("you can't ... modify the exported output value": Fn::ImportValue reference), where a weak Fn::GetStackOutput
// is resolved only when the consumer is created or updated (Fn::GetStackOutput reference) and the CDK skips an
// unchanged consumer, which would keep using a replaced resource.
//
// weakRefs makes references to the VPC and its subnets weak (Fn::GetStackOutput). They are the one place where a
// strong reference would deadlock a normal change: switching natGateways between 0 and more moves the service and
// load balancer between the public and app subnets, so the network's next template drops exports the running
// compute stack still imports, and CloudFormation refuses it ("Export ... cannot be deleted as it is in use",
// aws-cdk-lib README, "Removing automatic cross-stack references"). A weak reference lets the network deploy
// first and compute follow. Replacing a subnet or the VPC in place is not a normal change: the review guard
// and the VPC's own dependants (RDS subnet group, ENIs) stop it.
func weakRefs(vpc awsec2.Vpc) {
	awscdk.CrossStackReferences_Of(vpc).Produce(awscdk.ReferenceStrength_WEAK)
	for _, tier := range [][]awsec2.ISubnet{*vpc.PublicSubnets(), *vpc.PrivateSubnets(), *vpc.IsolatedSubnets()} {
		for _, subnet := range tier {
			awscdk.CrossStackReferences_Of(subnet).Produce(awscdk.ReferenceStrength_WEAK)
		}
	}
}
