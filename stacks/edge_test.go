package stacks

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"h2o-infra/config"
)

// Managed policy IDs AWS publishes for CloudFront.
const (
	cachingDisabledPolicy = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
	allViewerPolicy       = "216adef6-5c7f-47e4-b989-5492eafa07d3"
)

func distributionConfig(t *testing.T, s *H2oStage) map[string]interface{} {
	t.Helper()
	_, dist := only(t, s.Edge.Stack, "AWS::CloudFront::Distribution")
	return props(dist)["DistributionConfig"].(map[string]interface{})
}

func TestCloudFrontServesTheApiOverHttpsWithoutCaching(t *testing.T) {
	forEachStage(t, func(t *testing.T, s *H2oStage, _ *config.Config) {
		dc := distributionConfig(t, s)
		behavior := dc["DefaultCacheBehavior"].(map[string]interface{})
		for k, v := range map[string]interface{}{
			"ViewerProtocolPolicy": "redirect-to-https", "CachePolicyId": cachingDisabledPolicy,
			"OriginRequestPolicyId": allViewerPolicy, "Compress": true,
			"AllowedMethods": []interface{}{"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"},
		} {
			if !jsonEqual(behavior[k], v) {
				t.Errorf("default behavior %s = %v, want %v", k, behavior[k], v)
			}
		}
		if dc["HttpVersion"] != "http2and3" || dc["PriceClass"] != "PriceClass_100" || dc["Logging"] == nil {
			t.Errorf("http version %v, price class %v, logging %v", dc["HttpVersion"], dc["PriceClass"], dc["Logging"])
		}
		expect(t, "API URL output", func() { tmpl(s.Edge.Stack).HasOutput(jsii.String("ApiUrl"), &map[string]interface{}{}) })
	})
}

func TestOnlyCloudFrontReachesTheAlb(t *testing.T) {
	forEachStage(t, func(t *testing.T, s *H2oStage, _ *config.Config) {
		// GIVEN the edge stack WHEN synthesized THEN its single origin is a VPC origin pointing at compute's ALB
		dc := distributionConfig(t, s)
		origins := dc["Origins"].([]interface{})
		if len(origins) != 1 {
			t.Fatalf("want one origin, got %d", len(origins))
		}
		origin := origins[0].(map[string]interface{})
		if origin["VpcOriginConfig"] == nil || origin["CustomOriginConfig"] != nil {
			t.Errorf("origin is not a VPC origin: %v", origin)
		}
		expect(t, "VPC origin targets the compute ALB", func() {
			tmpl(s.Edge.Stack).HasResourceProperties(jsii.String("AWS::CloudFront::VpcOrigin"), &map[string]interface{}{
				"VpcOriginEndpointConfig": assertions.Match_ObjectLike(&map[string]interface{}{
					"Arn": map[string]interface{}{"Fn::GetStackOutput": assertions.Match_ObjectLike(&map[string]interface{}{
						"StackName": *s.Compute.StackName()})},
					"OriginProtocolPolicy": "http-only",
				})})
		})
		// AND nothing in compute faces the internet: an internal ALB admitting only the VPC range.
		for id, sg := range resources(t, s.Compute.Stack, "AWS::EC2::SecurityGroup") {
			if strings.Contains(mustJSON(props(sg)["SecurityGroupIngress"]), "0.0.0.0/0") {
				t.Errorf("%s is open to the internet", id)
			}
		}
	})
}

func TestWafRulesAndModePerStage(t *testing.T) {
	// prod blocks; dev has no WAF (cost); the variant runs prod's rules in count mode.
	checkWebAcl(t, built["prod"], "None", "Block")
	checkWebAcl(t, withDomain, "Count", "Count")
	expect(t, "dev without WAF", func() {
		tmpl(built["dev"].Edge.Stack).ResourceCountIs(jsii.String("AWS::WAFv2::WebACL"), jsii.Number(0))
	})
}

func checkWebAcl(t *testing.T, s *H2oStage, managedOverride, rateAction string) {
	t.Helper()
	_, acl := only(t, s.Edge.Stack, "AWS::WAFv2::WebACL")
	p := props(acl)
	if p["Scope"] != "CLOUDFRONT" || !jsonEqual(p["DefaultAction"], map[string]interface{}{"Allow": map[string]interface{}{}}) {
		t.Errorf("scope %v default %v", p["Scope"], p["DefaultAction"])
	}
	rules := p["Rules"].([]interface{})
	var names []string
	for _, r := range rules {
		r := r.(map[string]interface{})
		names = append(names, r["Name"].(string))
		if override, ok := r["OverrideAction"].(map[string]interface{}); ok {
			if _, has := override[managedOverride]; !has {
				t.Errorf("rule %s override %v, want %s", r["Name"], override, managedOverride)
			}
		}
	}
	want := "AWSManagedRulesCommonRuleSet,AWSManagedRulesKnownBadInputsRuleSet,AWSManagedRulesAmazonIpReputationList,AWSManagedRulesSQLiRuleSet,RatePerIp"
	if strings.Join(names, ",") != want {
		t.Errorf("rules %v, want %s", names, want)
	}
	rate := rules[4].(map[string]interface{})
	if _, has := rate["Action"].(map[string]interface{})[rateAction]; !has ||
		!jsonEqual(rate["Statement"], map[string]interface{}{"RateBasedStatement": map[string]interface{}{"AggregateKeyType": "IP", "Limit": float64(2000)}}) {
		t.Errorf("rate rule %v, want %s at 2000/IP", rate, rateAction)
	}
	if !strings.Contains(mustJSON(distributionConfig(t, s)["WebACLId"]), "WebAcl") {
		t.Error("the distribution is not associated with the web ACL")
	}
}

func TestWithoutADomainNothingNeedsDnsOrCertificates(t *testing.T) {
	forEachStage(t, func(t *testing.T, s *H2oStage, _ *config.Config) {
		for _, typ := range []string{"AWS::Route53::RecordSet", "AWS::CertificateManager::Certificate", "AWS::Amplify::App"} {
			expect(t, typ, func() { tmpl(s.Edge.Stack).ResourceCountIs(jsii.String(typ), jsii.Number(0)) })
		}
		if dc := distributionConfig(t, s); dc["Aliases"] != nil {
			t.Errorf("aliases %v without a domain", dc["Aliases"])
		}
	})
}

func TestWithADomainTheApiHasItsNameCertificateAndRecords(t *testing.T) {
	tm := tmpl(withDomain.Edge.Stack)
	dc := distributionConfig(t, withDomain)
	if !jsonEqual(dc["Aliases"], []interface{}{"api.h2o.example.com"}) {
		t.Errorf("aliases %v", dc["Aliases"])
	}
	viewer := dc["ViewerCertificate"].(map[string]interface{})
	if viewer["MinimumProtocolVersion"] != "TLSv1.2_2021" || viewer["SslSupportMethod"] != "sni-only" {
		t.Errorf("viewer certificate %v", viewer)
	}
	expect(t, "CloudFront certificate DNS-validated in the zone", func() {
		tm.HasResourceProperties(jsii.String("AWS::CertificateManager::Certificate"), &map[string]interface{}{
			"DomainName": "api.h2o.example.com", "ValidationMethod": "DNS"})
	})
	distID := logicalIDOf(withDomain.Edge.Stack, withDomain.Edge.Distribution.Node().DefaultChild())
	for _, typ := range []string{"A", "AAAA"} {
		expect(t, typ+" alias api.<domain> -> CloudFront", func() {
			tm.HasResourceProperties(jsii.String("AWS::Route53::RecordSet"), &map[string]interface{}{
				"Name": "api.h2o.example.com.", "Type": typ, "HostedZoneId": "Z0123456789ABCDEFGHIJ",
				"AliasTarget": assertions.Match_ObjectLike(&map[string]interface{}{
					"DNSName": map[string]interface{}{"Fn::GetAtt": []interface{}{distID, "DomainName"}}})})
		})
	}
	expect(t, "origin over HTTPS to the ALB's certificate", func() {
		tm.HasResourceProperties(jsii.String("AWS::CloudFront::VpcOrigin"), &map[string]interface{}{
			"VpcOriginEndpointConfig": assertions.Match_ObjectLike(&map[string]interface{}{"OriginProtocolPolicy": "https-only"})})
	})
	expect(t, "API URL is the custom name", func() {
		tm.HasOutput(jsii.String("ApiUrl"), &map[string]interface{}{"Value": "https://api.h2o.example.com"})
	})
}

func TestAmplifyFrontendWhenARepositoryIsConfigured(t *testing.T) {
	tm := tmpl(withDomain.Edge.Stack)
	_, app := only(t, withDomain.Edge.Stack, "AWS::Amplify::App")
	p := props(app)
	if p["Repository"] != "https://github.com/h2o-allegiant/frontend" ||
		!strings.HasPrefix(p["AccessToken"].(string), "{{resolve:secretsmanager:h2o/github-token") {
		t.Errorf("repository %v, token %v (must be a dynamic reference)", p["Repository"], p["AccessToken"])
	}
	if env := mustJSON(p["EnvironmentVariables"]); !strings.Contains(env, `"Name":"API_URL","Value":"https://api.h2o.example.com"`) {
		t.Errorf("API_URL not passed to the build: %s", env)
	}
	expect(t, "main auto-builds", func() {
		tm.HasResourceProperties(jsii.String("AWS::Amplify::Branch"), &map[string]interface{}{
			"BranchName": "main", "EnableAutoBuild": true, "Stage": "PRODUCTION"})
	})
	expect(t, "app.<domain> on the main branch", func() {
		tm.HasResourceProperties(jsii.String("AWS::Amplify::Domain"), &map[string]interface{}{
			"DomainName":        "h2o.example.com",
			"SubDomainSettings": []interface{}{map[string]interface{}{"BranchName": "main", "Prefix": "app"}}})
	})
	expect(t, "frontend URL output", func() {
		tm.HasOutput(jsii.String("FrontendUrl"), &map[string]interface{}{"Value": "https://app.h2o.example.com"})
	})
}
