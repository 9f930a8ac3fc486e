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
// the port of each origin the stage serves: 80 while the plain-HTTP origin exists (no domain, or the deploy that
// adds one), 443 with a domain.
//
// A reference to the list counts as its weight, 55, against the group's rules (VPC user guide, "AWS-managed prefix
// list weights": com.amazonaws.global.cloudfront.origin-facing weighs 55;
// https://docs.aws.amazon.com/vpc/latest/userguide/working-with-aws-managed-prefix-lists.html), and a group holds 60
// inbound rules (VPC user guide, "Amazon VPC quotas", security groups: inbound rules per security group, 60), so a
// group can reference it once. No group ever changes the port on which it admits the list: CloudFormation may add a
// group's new rule before it revokes the old one, and two references in one group exceed the quota
// (RulesPerSecurityGroupLimitExceeded). So each port has a group of its own:
//   - the load balancer's own group admits port 80, only while the HTTP origin exists; the deploy that ends the
//     bridge removes that rule and adds none;
//   - HttpsOriginSecurityGroup admits 443 whenever the origin is HTTPS, bridging or not, with the same logical ID,
//     so the deploy that ends the bridge leaves it alone and a stage created with its domain has the same groups as
//     one that was bridged (TestAddingADomainKeepsCloudFrontServed, checkPrefixListOncePerGroup).
//
// An ALB takes up to 5 security groups, updated in place.
func admitCloudFront(stack awscdk.Stack, cfg *config.Config, network *NetworkStack, c *ComputeStack,
	alb awselasticloadbalancingv2.ApplicationLoadBalancer) {
	cloudFront := awsec2.Peer_PrefixList(jsii.String(cfg.CloudFrontPrefixListID))
	if plainHTTPOrigin(cfg) {
		// On the group itself, not through alb.Connections(): a Connections rule is applied to every group the load
		// balancer has and will have (aws-cdk-lib aws-ec2 Connections.allowFrom, forEachAndForever), so it would
		// put port 80 into HttpsOriginSecurityGroup too, a second reference there.
		ownGroup := (*alb.Connections().SecurityGroups())[0]
		ownGroup.AddIngressRule(cloudFront, awsec2.Port_Tcp(jsii.Number(80)), jsii.String("CloudFront origin-facing (VPC origin)"), nil)
	}
	if c.OriginHTTPS {
		https := awsec2.NewSecurityGroup(stack, jsii.String("HttpsOriginSecurityGroup"), &awsec2.SecurityGroupProps{
			Vpc: network.Vpc, AllowAllOutbound: jsii.Bool(false),
			Description: jsii.String("h2o load balancer: the CloudFront HTTPS VPC origin"),
		})
		https.AddIngressRule(cloudFront, awsec2.Port_Tcp(jsii.Number(443)), jsii.String("CloudFront origin-facing (HTTPS VPC origin)"), nil)
		alb.AddSecurityGroup(https)
	}
	if cfg.HTTPOriginTargetGroup != "" {
		bridgeHTTPOrigin(cfg, c, alb)
	}
}

// plainHTTPOrigin: CloudFront reaches the ALB over HTTP, always without a domain, and for the one deploy that adds
// one (bridgeHTTPOrigin).
func plainHTTPOrigin(cfg *config.Config) bool {
	return cfg.DomainName == "" || cfg.HTTPOriginTargetGroup != ""
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
//   - the load balancer's own group keeps admitting CloudFront on 80, untouched, and HttpsOriginSecurityGroup is
//     added for 443 (admitCloudFront).
//
// The next deploy, with httpOriginTargetGroup empty, removes the port-80 rule from the load balancer's own group
// and deletes the port-80 listener; HttpsOriginSecurityGroup and edge do not change.
func bridgeHTTPOrigin(cfg *config.Config, c *ComputeStack, alb awselasticloadbalancingv2.ApplicationLoadBalancer) {
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
