package stacks

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"h2o-infra/config"
)

func TestNetworkSubnetsSpanExactlyTheConfiguredAZs(t *testing.T) {
	forEachStage(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		// GIVEN the stage's network stack WHEN synthesized THEN each tier has one /24 subnet in each configured AZ
		tiers := map[string][]string{} // tier name -> AZs
		for _, r := range resources(t, s.Network.Stack, "AWS::EC2::Subnet") {
			p := props(r)
			tier := ""
			for _, tag := range atMaps(t, p, "Tags") {
				if tag["Key"] == "aws-cdk:subnet-name" {
					tier = atString(t, tag, "Value")
				}
			}
			if az, ok := p["AvailabilityZone"].(string); ok {
				tiers[tier] = append(tiers[tier], az)
			} else {
				t.Errorf("subnet AZ is not a literal (a lookup or Fn::GetAZs): %v", p["AvailabilityZone"])
			}
		}
		want := []string{"public", "data", "app"}
		if cfg.NatGateways == 0 {
			want = []string{"public", "data"}
		}
		if len(tiers) != len(want) {
			t.Errorf("tiers %v, want %v", tiers, want)
		}
		for _, tier := range want {
			if got := tiers[tier]; len(got) != 2 || got[0] == got[1] || !slices.Contains(cfg.AvailabilityZones, got[0]) || !slices.Contains(cfg.AvailabilityZones, got[1]) {
				t.Errorf("tier %s in %v, want one subnet in each of %v", tier, got, cfg.AvailabilityZones)
			}
		}
		expect(t, "VPC CIDR", func() {
			tmpl(s.Network.Stack).HasResourceProperties(jsii.String("AWS::EC2::VPC"), &map[string]interface{}{
				"CidrBlock": cfg.VPCCIDR, "EnableDnsHostnames": true, "EnableDnsSupport": true})
		})
	})
}

func TestNetworkNatGatewaysPerStage(t *testing.T) {
	// GIVEN each stage WHEN network is synthesized THEN prod has one NAT gateway per AZ and dev none, with its app
	// subnets public
	want := map[string]int{"dev": 0, "prod": 2} // prod: one per AZ; dev: none (cost)
	forEachStage(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		expect(t, "NAT gateways", func() {
			tmpl(s.Network.Stack).ResourceCountIs(jsii.String("AWS::EC2::NatGateway"), jsii.Number(float64(want[cfg.Stage])))
		})
		if s.Network.AppSubnetsArePublic != (want[cfg.Stage] == 0) {
			t.Errorf("AppSubnetsArePublic %v with %d NAT gateways", s.Network.AppSubnetsArePublic, want[cfg.Stage])
		}
	})
}

func TestNetworkS3EndpointFlowLogsAndDefaultSecurityGroup(t *testing.T) {
	// GIVEN each stage WHEN network is synthesized THEN it has an S3 gateway endpoint, flow logs of all traffic with a
	// retention and a stripped default security group
	forEachStage(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		tm := tmpl(s.Network.Stack)
		expect(t, "S3 gateway endpoint", func() {
			tm.HasResourceProperties(jsii.String("AWS::EC2::VPCEndpoint"), &map[string]interface{}{
				"VpcEndpointType": "Gateway",
				"ServiceName":     assertions.Match_ObjectLike(&map[string]interface{}{"Fn::Join": assertions.Match_ArrayWith(&[]interface{}{assertions.Match_ArrayWith(&[]interface{}{".s3"})})}),
			})
		})
		expect(t, "flow log of all traffic to CloudWatch Logs", func() {
			tm.HasResourceProperties(jsii.String("AWS::EC2::FlowLog"), &map[string]interface{}{
				"ResourceType": "VPC", "TrafficType": "ALL", "LogDestinationType": "cloud-watch-logs"})
		})
		expect(t, "default security group stripped", func() {
			tm.ResourceCountIs(jsii.String("Custom::VpcRestrictDefaultSG"), jsii.Number(1))
		})
	})
}

// TestPlaceholderSettingsRefuseEveryDeploy: with the committed placeholder alarm e-mail, every stack of both stages
// carries a rule CloudFormation evaluates before touching any resource, and it cannot hold; with a real address
// (the variant) there is none.
func TestPlaceholderSettingsRefuseEveryDeploy(t *testing.T) {
	// GIVEN the committed placeholder alarm e-mail (both stages) and a real one (the variant) WHEN synthesized THEN
	// every stack of the first refuses to deploy and none of the second does
	forEachStage(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		for _, stack := range s.Stacks() {
			rules, _ := templateJSON(stack)["Rules"].(map[string]interface{})
			rule := mustJSON(rules["RefusePlaceholderSettings"])
			if !strings.Contains(rule, `"Fn::Contains":[["placeholder settings"],{"Ref":"BootstrapVersion"}]`) ||
				!strings.Contains(rule, "alarmEmail") || !strings.Contains(rule, "config/settings/"+cfg.Stage+".json") {
				t.Errorf("%s: rule %s", *stack.StackName(), rule)
			}
		}
	})
	for _, stack := range withDomain.Stacks() {
		if rules, _ := templateJSON(stack)["Rules"].(map[string]interface{}); rules["RefusePlaceholderSettings"] != nil {
			t.Errorf("%s refuses a deploy with a real alarm e-mail", *stack.StackName())
		}
	}
}
