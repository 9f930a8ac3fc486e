package stacks

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"h2o-infra/config"
)

// Managed policy IDs AWS publishes for CloudFront (CloudFront developer guide, "Use managed cache policies" and
// "Use managed origin request policies").
const (
	cachingDisabledPolicy = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
	allViewerPolicy       = "216adef6-5c7f-47e4-b989-5492eafa07d3"
)

func TestCloudFrontServesTheApiOverHttpsWithoutCaching(t *testing.T) {
	// GIVEN each stage WHEN edge is synthesized THEN the distribution redirects to HTTPS, caches nothing, forwards
	// every viewer header and method, logs and outputs the API URL
	forEachStage(t, func(t *testing.T, s *H2oStage, _ *config.Config) {
		dc := distributionConfig(t, s)
		behavior := atMap(t, dc, "DefaultCacheBehavior")
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
		origins := atList(t, dc, "Origins")
		if len(origins) != 1 {
			t.Fatalf("want one origin, got %d", len(origins))
		}
		origin := atMap(t, dc, "Origins.0")
		if origin["VpcOriginConfig"] == nil || origin["CustomOriginConfig"] != nil {
			t.Errorf("origin is not a VPC origin: %v", origin)
		}
		expect(t, "VPC origin targets the compute ALB", func() {
			tmpl(s.Edge.Stack).HasResourceProperties(jsii.String("AWS::CloudFront::VpcOrigin"), &map[string]interface{}{
				"VpcOriginEndpointConfig": assertions.Match_ObjectLike(&map[string]interface{}{
					"Arn":                  map[string]interface{}{"Fn::ImportValue": assertions.Match_StringLikeRegexp(jsii.String("^" + *s.Compute.StackName() + ":"))},
					"OriginProtocolPolicy": "http-only",
				})})
		})
	})
}

func TestWafRulesAndModePerStage(t *testing.T) {
	// GIVEN prod, the variant (count mode, a body limit) and dev WHEN edge is synthesized THEN prod blocks with the
	// managed and rate rules, the variant counts, dev has no WAF
	// prod blocks; dev has no WAF (cost); the variant runs prod's rules in count mode.
	checkWebACL(t, built["prod"], "None", "Block", 0)
	checkWebACL(t, withDomain, "Count", "Count", 12)
	expect(t, "dev without WAF", func() {
		tmpl(built["dev"].Edge.Stack).ResourceCountIs(jsii.String("AWS::WAFv2::WebACL"), jsii.Number(0))
	})
}

func checkWebACL(t *testing.T, s *H2oStage, managedOverride, rateAction string, bodyLimit int) {
	t.Helper()
	aclID, acl := only(t, s.Edge.Stack, "AWS::WAFv2::WebACL")
	p := props(acl)
	if p["Scope"] != "CLOUDFRONT" || !jsonEqual(p["DefaultAction"], map[string]interface{}{"Allow": map[string]interface{}{}}) {
		t.Errorf("scope %v default %v", p["Scope"], p["DefaultAction"])
	}
	rules := map[string]map[string]interface{}{}
	var names []string
	for _, r := range atMaps(t, p, "Rules") {
		name := atString(t, r, "Name")
		names = append(names, name)
		rules[name] = r
		// Every managed rule group carries the mode's override (a group without one would not be checked at all).
		if _, managed := lookup(r, "Statement.ManagedRuleGroupStatement"); managed {
			if _, has := atMap(t, r, "OverrideAction")[managedOverride]; !has {
				t.Errorf("rule %s override %v, want %s", r["Name"], r["OverrideAction"], managedOverride)
			}
		}
	}
	want := "AWSManagedRulesCommonRuleSet,AWSManagedRulesKnownBadInputsRuleSet,AWSManagedRulesAmazonIpReputationList,AWSManagedRulesSQLiRuleSet,RatePerIp"
	if bodyLimit > 0 {
		want = "BodySizeLimit," + want
		body := rules["BodySizeLimit"]
		if body == nil {
			t.Fatalf("no BodySizeLimit rule (rules %v)", names)
		}
		size := atMap(t, body, "Statement.SizeConstraintStatement")
		if _, has := atMap(t, body, "Action")[rateAction]; !has || size["Size"] != float64(bodyLimit*1024) ||
			size["ComparisonOperator"] != "GT" || !strings.Contains(mustJSON(size["FieldToMatch"]), `"OversizeHandling":"MATCH"`) {
			t.Errorf("body size rule %v, want %s over %d KiB", rules["BodySizeLimit"], rateAction, bodyLimit)
		}
	}
	if strings.Join(names, ",") != want {
		t.Errorf("rules %v, want %s", names, want)
	}
	rate := rules["RatePerIp"]
	if rate == nil {
		t.Fatalf("no RatePerIp rule (rules %v)", names)
	}
	if _, has := atMap(t, rate, "Action")[rateAction]; !has ||
		!jsonEqual(rate["Statement"], map[string]interface{}{"RateBasedStatement": map[string]interface{}{"AggregateKeyType": "IP", "Limit": float64(2000)}}) {
		t.Errorf("rate rule %v, want %s at 2000/IP", rate, rateAction)
	}
	if got := distributionConfig(t, s)["WebACLId"]; !jsonEqual(got, map[string]interface{}{"Fn::GetAtt": []interface{}{aclID, "Arn"}}) {
		t.Errorf("the distribution's web ACL is %v, not %s", got, aclID)
	}
}

// TestManagedRulesDoNotBlockApiBodies: the common rule set's SizeRestrictions_BODY blocks every body over 8 KB
// (AWS WAF developer guide, "Core rule set (CRS) managed rule group"); in every web ACL of the app it only counts.
func TestManagedRulesDoNotBlockApiBodies(t *testing.T) {
	// GIVEN every web ACL of the app WHEN its common rule set is read THEN SizeRestrictions_BODY only counts
	acls := 0
	for _, stack := range appStacks() {
		for id, acl := range resources(t, stack, "AWS::WAFv2::WebACL") {
			for _, r := range optMaps(t, acl, "Properties.Rules") {
				group, _ := atMap(t, r, "Statement")["ManagedRuleGroupStatement"].(map[string]interface{})
				if group["Name"] != "AWSManagedRulesCommonRuleSet" {
					continue
				}
				acls++
				want := []interface{}{map[string]interface{}{"Name": "SizeRestrictions_BODY",
					"ActionToUse": map[string]interface{}{"Count": map[string]interface{}{}}}}
				if !jsonEqual(group["RuleActionOverrides"], want) {
					t.Errorf("%s %s: common rule set overrides %v, want SizeRestrictions_BODY counted", *stack.StackName(), id, group["RuleActionOverrides"])
				}
			}
		}
	}
	if acls < 2 {
		t.Errorf("checked %d web ACLs, want prod's and the variant's", acls)
	}
}

// TestWafLogsGoToAwsWafLogsDestinationsWithCredentialsRedacted: WAF only logs to destinations whose name starts
// with aws-waf-logs- (AWS WAF developer guide, "Logging destinations"); every logging configuration of the app
// names such a log group of its stack, with a retention, and redacts the credential headers. prod logs.
func TestWafLogsGoToAwsWafLogsDestinationsWithCredentialsRedacted(t *testing.T) {
	// GIVEN every WAF logging configuration of the app WHEN read THEN it logs to an aws-waf-logs- log group of its
	// stack with a retention and redacts authorization and cookie
	configs := 0
	for _, stack := range appStacks() {
		groups := map[string]map[string]interface{}{}
		for _, g := range resources(t, stack, "AWS::Logs::LogGroup") {
			groups[fmt.Sprint(props(g)["LogGroupName"])] = props(g)
		}
		for id, lc := range resources(t, stack, "AWS::WAFv2::LoggingConfiguration") {
			configs++
			p := props(lc)
			for _, dest := range list(p["LogDestinationConfigs"]) {
				arn, ok := resolve(dest)
				_, name, _ := strings.Cut(arn, ":log-group:")
				if !ok || !strings.HasPrefix(name, "aws-waf-logs-") || groups[name] == nil || groups[name]["RetentionInDays"] == nil {
					t.Errorf("%s %s: destination %s is not an aws-waf-logs- log group of the stack with a retention", *stack.StackName(), id, mustJSON(dest))
				}
			}
			for _, header := range []string{"authorization", "cookie"} {
				if !strings.Contains(mustJSON(p["RedactedFields"]), `{"SingleHeader":{"Name":"`+header+`"}}`) {
					t.Errorf("%s %s: %s is not redacted: %v", *stack.StackName(), id, header, p["RedactedFields"])
				}
			}
		}
	}
	expect(t, "prod logs its web ACL", func() {
		tmpl(built["prod"].Edge.Stack).ResourceCountIs(jsii.String("AWS::WAFv2::LoggingConfiguration"), jsii.Number(1))
	})
	if configs < 2 {
		t.Errorf("%d logging configurations, want prod's and the variant's", configs)
	}
}

func TestWithoutADomainNothingNeedsDnsOrCertificates(t *testing.T) {
	// GIVEN each stage without a domain WHEN edge is synthesized THEN there are no records, certificates, Amplify app
	// or aliases
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
	// GIVEN the variant with a domain WHEN edge is synthesized THEN CloudFront serves api.<domain> with a
	// DNS-validated certificate, A/AAAA aliases and HTTPS to the origin
	tm := tmpl(withDomain.Edge.Stack)
	dc := distributionConfig(t, withDomain)
	if !jsonEqual(dc["Aliases"], []interface{}{"api.h2o.example.com"}) {
		t.Errorf("aliases %v", dc["Aliases"])
	}
	viewer := atMap(t, dc, "ViewerCertificate")
	if viewer["MinimumProtocolVersion"] != "TLSv1.2_2021" || viewer["SslSupportMethod"] != "sni-only" {
		t.Errorf("viewer certificate %v", viewer)
	}
	expect(t, "CloudFront certificate DNS-validated in the zone", func() {
		tm.HasResourceProperties(jsii.String("AWS::CertificateManager::Certificate"), &map[string]interface{}{
			"DomainName": "api.h2o.example.com", "ValidationMethod": "DNS"})
	})
	distID := logicalIDOf(t, withDomain.Edge.Stack, withDomain.Edge.Distribution.Node().DefaultChild())
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
	// GIVEN the variant with a frontend repository WHEN edge is synthesized THEN Amplify builds main from it with a
	// dynamic-reference token and the API URL, served at app.<domain>
	tm := tmpl(withDomain.Edge.Stack)
	_, app := only(t, withDomain.Edge.Stack, "AWS::Amplify::App")
	p := props(app)
	if p["Repository"] != "https://github.com/h2o-allegiant/frontend" ||
		!strings.HasPrefix(atString(t, p, "AccessToken"), "{{resolve:secretsmanager:h2o/github-token") {
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

func TestEdgeOutputsNameWhatVerifyChecks(t *testing.T) {
	// GIVEN every stage and the all-options variant WHEN edge is synthesized THEN DistributionId names the
	// distribution, WebAclArn the web ACL it uses (only where there is one) and WafLogDestination where that web
	// ACL logs (only where it logs): scripts/verify.sh compares the live distribution with them
	forEachBuild(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		outputs := atMap(t, templateJSON(s.Edge.Stack), "Outputs")
		value := func(key string) interface{} {
			if o, ok := outputs[key].(map[string]interface{}); ok {
				return o["Value"]
			}
			return nil
		}
		distID, _ := only(t, s.Edge.Stack, "AWS::CloudFront::Distribution")
		if want := map[string]interface{}{"Ref": distID}; !jsonEqual(value("DistributionId"), want) {
			t.Errorf("DistributionId = %v, want %v", value("DistributionId"), want)
		}
		acls := resources(t, s.Edge.Stack, "AWS::WAFv2::WebACL")
		if cfg.WAFMode == config.WAFOff {
			if len(acls) != 0 || value("WebAclArn") != nil || value("WafLogDestination") != nil {
				t.Errorf("no WAF, yet %d web ACLs, WebAclArn %v, WafLogDestination %v", len(acls), value("WebAclArn"), value("WafLogDestination"))
			}
			return
		}
		webACL := distributionConfig(t, s)["WebACLId"]
		if value("WebAclArn") == nil || !jsonEqual(value("WebAclArn"), webACL) {
			t.Errorf("WebAclArn = %v, the distribution uses %v", value("WebAclArn"), webACL)
		}
		loggings := resources(t, s.Edge.Stack, "AWS::WAFv2::LoggingConfiguration")
		if !cfg.WAFLogging {
			if len(loggings) != 0 || value("WafLogDestination") != nil {
				t.Errorf("wafLogging off, yet %d logging configurations, WafLogDestination %v", len(loggings), value("WafLogDestination"))
			}
			return
		}
		for _, logging := range loggings {
			dest := atList(t, props(logging), "LogDestinationConfigs")
			if len(dest) != 1 || !jsonEqual(value("WafLogDestination"), dest[0]) {
				t.Errorf("WafLogDestination = %v, the web ACL logs to %v", value("WafLogDestination"), dest)
			}
		}
		if len(loggings) != 1 {
			t.Errorf("%d WAF logging configurations, want 1", len(loggings))
		}
	})
}

// vpcOriginIDRe is a VPC origin's logical ID, which names its protocol (newVpcOrigin).
var vpcOriginIDRe = regexp.MustCompile(`^VpcOrigin(Https?)[0-9A-F]{8}$`)

// TestEachVpcOriginIsKeyedByItsProtocolAndNeverTagged: CloudFront refuses any update of a VPC origin in use, tags
// included (aws/aws-cdk#35765), so in every build the one VPC origin carries no tags, its logical ID names its
// protocol (a switch creates a new origin instead of updating this one) and the distribution uses it.
func TestEachVpcOriginIsKeyedByItsProtocolAndNeverTagged(t *testing.T) {
	// GIVEN every build WHEN its VPC origin and distribution are read
	forEachBuild(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		id, origin := only(t, s.Edge.Stack, "AWS::CloudFront::VpcOrigin")
		// THEN the origin's ID names the protocol it speaks
		m := vpcOriginIDRe.FindStringSubmatch(id)
		policy := atString(t, origin, "Properties.VpcOriginEndpointConfig.OriginProtocolPolicy")
		if m == nil || map[string]string{"Http": "http-only", "Https": "https-only"}[m[1]] != policy {
			t.Errorf("VPC origin %s speaks %s: its logical ID must name the protocol (VpcOriginHttp/VpcOriginHttps)", id, policy)
		}
		if want := map[bool]string{false: "http-only", true: "https-only"}[cfg.DomainName != ""]; policy != want {
			t.Errorf("origin protocol %s, want %s", policy, want)
		}
		// and it has no tags, nor anything else a setting could change
		if p := props(origin); p["Tags"] != nil || len(p) != 1 {
			t.Errorf("VPC origin %s has properties %v: only its endpoint configuration, never tags", id, sortedKeys(p))
		}
		// and the distribution's one origin uses it
		if got := mustJSON(at(t, distributionConfig(t, s), "Origins.0.VpcOriginConfig.VpcOriginId")); got != mustJSON(map[string]interface{}{"Fn::GetAtt": []interface{}{id, "Id"}}) {
			t.Errorf("the distribution's origin is %s, not %s", got, id)
		}
	})
}
