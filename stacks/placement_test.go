package stacks

import (
	"fmt"
	"net/netip"
	"testing"

	"h2o-infra/config"
)

// TestLoadBalancerSitsInPrivateSubnets: AWS describes CloudFront VPC origins as load balancers in private subnets
// (CloudFront developer guide, "Restrict access with VPC origins"), so in every build the internal ALB's subnets
// have no route to an internet gateway. An ALB needs subnets in at least two zones (CloudFormation
// AWS::ElasticLoadBalancingV2::LoadBalancer, Subnets) of at least a /27 each, "with at least 8 free IP addresses"
// (ALB user guide, "Subnets for your load balancer").
func TestLoadBalancerSitsInPrivateSubnets(t *testing.T) {
	// GIVEN every build (dev without NAT, prod and the variant with it)
	forEachBuild(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		// WHEN the ALB's subnets are followed into the network stack
		_, alb := only(t, s.Compute.Stack, "AWS::ElasticLoadBalancingV2::LoadBalancer")
		subnets := atList(t, alb, "Properties.Subnets")
		network := templateJSON(s.Network.Stack)
		zones := map[string]bool{}
		for i := range subnets {
			id := subnetOfOutput(t, network, atMap(t, alb, fmt.Sprintf("Properties.Subnets.%d", i)), *s.Network.StackName())
			subnet := atMap(t, network, "Resources."+id)
			zones[atString(t, subnet, "Properties.AvailabilityZone")] = true
			// THEN none of them routes to an internet gateway
			for _, route := range routesOf(t, network, id) {
				if gw, ok := lookup(route, "Properties.GatewayId.Ref"); ok && atString(t, network, fmt.Sprintf("Resources.%v.Type", gw)) == "AWS::EC2::InternetGateway" {
					t.Errorf("the load balancer's subnet %s routes %v to the internet gateway %v: a public subnet", id, props(route)["DestinationCidrBlock"], gw)
				}
			}
			// and each is large enough for the load balancer's nodes
			if prefix, err := netip.ParsePrefix(atString(t, subnet, "Properties.CidrBlock")); err != nil || prefix.Bits() > 27 {
				t.Errorf("subnet %s is %v, want /27 or larger", id, props(subnet)["CidrBlock"])
			}
		}
		// and they span at least two of the stage's zones
		if len(zones) < 2 || len(zones) != len(subnets) {
			t.Errorf("the load balancer's %d subnets are in zones %v, want one in each of at least two", len(subnets), sortedKeys(zones))
		}
	})
}

// subnetOfOutput is the network's subnet a compute reference reads (the network's references are weak:
// Fn::GetStackOutput of an output holding the subnet's Ref).
func subnetOfOutput(t *testing.T, network map[string]interface{}, ref map[string]interface{}, networkStack string) string {
	t.Helper()
	if atString(t, ref, "Fn::GetStackOutput.StackName") != networkStack {
		t.Fatalf("subnet reference %s does not read %s", mustJSON(ref), networkStack)
	}
	output := atString(t, ref, "Fn::GetStackOutput.OutputName")
	id := atString(t, network, "Outputs."+output+".Value.Ref")
	if typ := atString(t, network, "Resources."+id+".Type"); typ != "AWS::EC2::Subnet" {
		t.Fatalf("output %s is a %s, not a subnet", output, typ)
	}
	return id
}

// routesOf are the routes of the route table associated with the subnet.
func routesOf(t *testing.T, network map[string]interface{}, subnetID string) []map[string]interface{} {
	t.Helper()
	table := ""
	resources := atMap(t, network, "Resources")
	for id := range resources {
		r := atMap(t, resources, id)
		if r["Type"] == "AWS::EC2::SubnetRouteTableAssociation" && jsonEqual(props(r)["SubnetId"], map[string]interface{}{"Ref": subnetID}) {
			table = atString(t, r, "Properties.RouteTableId.Ref")
		}
	}
	if table == "" {
		t.Fatalf("subnet %s has no route table association", subnetID)
	}
	var routes []map[string]interface{}
	for id := range resources {
		r := atMap(t, resources, id)
		if r["Type"] == "AWS::EC2::Route" && jsonEqual(props(r)["RouteTableId"], map[string]interface{}{"Ref": table}) {
			routes = append(routes, r)
		}
	}
	return routes
}
