package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/jsii-runtime-go"

	"h2o-infra/config"
)

// How CloudFront's VPC origin (edge.go, newVpcOrigin) reaches the internal load balancer, and how a running stage
// moves from the plain-HTTP origin to the HTTPS one when it gets a domain.

// admitCloudFront lets CloudFront's VPC origin traffic into the load balancer, through CloudFront's origin-facing
// managed prefix list (aws-cdk-lib aws-cloudfront-origins README, "Restrict traffic coming to the VPC origin"), on
// the one port the origin uses: 80 without a domain, 443 with one (the production listener's port). The list weighs
// 55 of a security group's 60 rules (VPC user guide, "AWS-managed prefix list weights"), so a group admits it on one
// port only; while a domain is being added (httpOriginTargetGroup) a second group admits 443 (bridgeHTTPOrigin).
func admitCloudFront(stack awscdk.Stack, cfg *config.Config, network *NetworkStack, c *ComputeStack,
	alb awselasticloadbalancingv2.ApplicationLoadBalancer) {
	cloudFront := awsec2.Peer_PrefixList(jsii.String(cfg.CloudFrontPrefixListID))
	bridging := cfg.HTTPOriginTargetGroup != ""
	port := 80.0
	if c.OriginHTTPS && !bridging {
		port = 443
	}
	alb.Connections().AllowFrom(cloudFront, awsec2.Port_Tcp(jsii.Number(port)), jsii.String("CloudFront origin-facing (VPC origin)"))
	if bridging {
		bridgeHTTPOrigin(stack, cfg, network, c, alb, cloudFront)
	}
}

// bridgeHTTPOrigin keeps the plain-HTTP origin served while a running stage gets a domain. One deploy updates
// compute, then edge (edge reads compute's exports); CloudFront keeps using the old http-only VPC origin on port 80
// until the edge stack has created the HTTPS origin and the distribution has switched to it. So for that deploy the
// load balancer serves both (docs/runbook.md, "Adding a domain to a running stage"; TestAddingADomainKeepsCloudFrontServed):
//   - the production listener moves to HTTPS 443 in place (its logical ID and the production rule ECS manages stay;
//     Port and Protocol update without replacement: CloudFormation AWS::ElasticLoadBalancingV2::Listener), and a
//     listener on port 80 forwards plain HTTP to the target group holding the live tasks. Only ECS knows which of
//     the two that is (each canary deploy moves the tasks to the other: rollout.go), so the operator names it. It
//     is created after the production listener has left port 80 (a load balancer has one listener per port),
//     which leaves port 80 unanswered for the seconds in between (unverified how long).
//   - the existing security group keeps admitting CloudFront on 80, untouched, and a second group admits 443: a
//     group holds CloudFront's list once (admitCloudFront), and changing the existing rule could drop port 80 before
//     the new one is in. An ALB takes up to 5 security groups, updated in place.
//
// The next deploy, with httpOriginTargetGroup empty, narrows the first group to 443 while the second still admits
// it, then detaches and deletes the second group and the port-80 listener; edge does not change.
func bridgeHTTPOrigin(stack awscdk.Stack, cfg *config.Config, network *NetworkStack, c *ComputeStack,
	alb awselasticloadbalancingv2.ApplicationLoadBalancer, cloudFront awsec2.IPeer) {
	https := awsec2.NewSecurityGroup(stack, jsii.String("HttpsOriginSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc: network.Vpc, AllowAllOutbound: jsii.Bool(false),
		Description: jsii.String("h2o load balancer: the CloudFront HTTPS VPC origin while a domain is added"),
	})
	https.AddIngressRule(cloudFront, awsec2.Port_Tcp(jsii.Number(443)), jsii.String("CloudFront origin-facing (HTTPS VPC origin)"), nil)
	alb.AddSecurityGroup(https)
	var live awselasticloadbalancingv2.IApplicationTargetGroup = c.BackendService.TargetGroup()
	if cfg.HTTPOriginTargetGroup == config.TargetGroupAlternate {
		live = c.AlternateTargetGroup
	}
	listener := alb.AddListener(jsii.String("HttpOriginListener"), &awselasticloadbalancingv2.BaseApplicationListenerProps{
		Port: jsii.Number(80), Protocol: awselasticloadbalancingv2.ApplicationProtocol_HTTP,
		Open:          jsii.Bool(false), // CloudFront only: the rules above
		DefaultAction: awselasticloadbalancingv2.ListenerAction_Forward(&[]awselasticloadbalancingv2.IApplicationTargetGroup{live}, nil),
	})
	listener.Node().AddDependency(c.BackendService.Listener())
}
