package stacks

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsamplify"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfrontorigins"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53targets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awswafv2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"h2o-infra/config"
)

// EdgeStack is the public entry point: CloudFront (+ WAF) in front of the internal ALB, optional custom
// domain, optional Amplify frontend.
type EdgeStack struct {
	awscdk.Stack
	Distribution awscloudfront.Distribution
	// VpcOrigin is CloudFront's way into the VPC, to compute's load balancer (newVpcOrigin).
	VpcOrigin awscloudfront.VpcOrigin
	WebACL    awswafv2.CfnWebACL // nil when WAFMode is off
	Frontend  awsamplify.CfnApp  // nil when no FrontendRepository is configured
	APIURL    *string
}

// NewEdgeStack builds the distribution whose only origin is compute's internal ALB, through a CloudFront
// VPC origin: the ALB has no public address, so no request can bypass CloudFront and its WAF.
func NewEdgeStack(scope constructs.Construct, cfg *config.Config, compute *ComputeStack) *EdgeStack {
	stack := newLayerStack(scope, cfg, "edge", "CloudFront, WAF, DNS and the Amplify frontend")
	e := &EdgeStack{Stack: stack}
	var zone awsroute53.IHostedZone
	if cfg.DomainName != "" {
		zone = hostedZone(stack, cfg)
	}

	e.VpcOrigin = newVpcOrigin(stack, compute)
	origin := awscloudfrontorigins.VpcOrigin_WithVpcOrigin(e.VpcOrigin, &awscloudfrontorigins.VpcOriginProps{
		// The timeout chain (compute.Timeouts): CloudFront gives up first, the ALB's idle timeout outlives it.
		ReadTimeout:      awscdk.Duration_Seconds(jsii.Number(float64(compute.Timeouts.Origin))),
		KeepaliveTimeout: awscdk.Duration_Seconds(jsii.Number(float64(compute.Timeouts.OriginKeepalive))),
	})

	logs := newLogBucket(stack, "CdnLogBucket", cfg, "cdn-logs", cfg.LogRetentionDays, true)

	props := &awscloudfront.DistributionProps{
		Comment: jsii.String(fmt.Sprintf("h2o %s API", cfg.Stage)),
		DefaultBehavior: &awscloudfront.BehaviorOptions{
			Origin:               origin,
			ViewerProtocolPolicy: awscloudfront.ViewerProtocolPolicy_REDIRECT_TO_HTTPS,
			AllowedMethods:       awscloudfront.AllowedMethods_ALLOW_ALL(),
			// An API: nothing is cached, everything the viewer sent reaches the backend (the Host header too,
			// so with a domain the ALB certificate for api.<domain> verifies).
			CachePolicy:         awscloudfront.CachePolicy_CACHING_DISABLED(),
			OriginRequestPolicy: awscloudfront.OriginRequestPolicy_ALL_VIEWER(),
			Compress:            jsii.Bool(true),
		},
		HttpVersion:   awscloudfront.HttpVersion_HTTP2_AND_3,
		PriceClass:    awscloudfront.PriceClass_PRICE_CLASS_100, // North America and Europe: where the users are
		EnableLogging: jsii.Bool(true),
		LogBucket:     logs,
		LogFilePrefix: jsii.String("cloudfront/"),
	}
	// What scripts/verify.sh checks the live distribution against: its web ACL and where that logs.
	checked := map[string]*string{}
	if cfg.WAFMode != config.WAFOff {
		e.WebACL = newWebACL(stack, cfg)
		props.WebAclId = e.WebACL.AttrArn()
		checked["WebAclArn"] = e.WebACL.AttrArn()
		if cfg.WAFLogging {
			checked["WafLogDestination"] = newWafLogging(stack, cfg, e.WebACL)
		}
	}
	if zone != nil {
		props.DomainNames = jsii.Strings("api." + cfg.DomainName)
		// Only a custom certificate can set a TLS floor; the default *.cloudfront.net one is fixed by AWS.
		props.MinimumProtocolVersion = awscloudfront.SecurityPolicyProtocol_TLS_V1_2_2021
		props.Certificate = awscertificatemanager.NewCertificate(stack, jsii.String("CdnCertificate"), &awscertificatemanager.CertificateProps{
			DomainName: jsii.String("api." + cfg.DomainName),
			Validation: awscertificatemanager.CertificateValidation_FromDns(zone),
		})
	}
	e.Distribution = awscloudfront.NewDistribution(stack, jsii.String("Distribution"), props)
	e.APIURL = awscdk.Fn_Join(jsii.String(""), jsii.Strings("https://", *e.Distribution.DistributionDomainName()))
	if zone != nil {
		target := awsroute53.RecordTarget_FromAlias(awsroute53targets.NewCloudFrontTarget(e.Distribution))
		awsroute53.NewARecord(stack, jsii.String("ApiRecord"), &awsroute53.ARecordProps{
			Zone: zone, RecordName: jsii.String("api"), Target: target})
		awsroute53.NewAaaaRecord(stack, jsii.String("ApiRecordIpv6"), &awsroute53.AaaaRecordProps{
			Zone: zone, RecordName: jsii.String("api"), Target: target})
		e.APIURL = jsii.String("https://api." + cfg.DomainName)
	}
	nagReasons := map[string]string{
		"AwsSolutions-CFR1": "The API serves customers wherever they are; abuse is handled by WAF rules, not by country.",
	}
	if zone == nil {
		nagReasons["AwsSolutions-CFR4"] = "Without a custom domain only the default *.cloudfront.net certificate exists, whose TLS policy CloudFront fixes; set domainName to get TLSv1.2_2021."
	}
	if e.WebACL == nil {
		nagReasons["AwsSolutions-CFR2"] = "WAF is turned off for this stage in config (wafMode=off) to save its fixed monthly cost."
	}
	suppress(e.Distribution, nagReasons)
	awscdk.NewCfnOutput(stack, jsii.String("ApiUrl"), &awscdk.CfnOutputProps{Value: e.APIURL,
		Description: jsii.String("Public HTTPS URL of the API")})
	checked["DistributionId"] = e.Distribution.DistributionId()
	outputs(stack, "for scripts/verify.sh", checked)

	if cfg.FrontendRepository != "" {
		e.Frontend = newFrontend(stack, cfg, e.APIURL)
	}
	return e
}

// newVpcOrigin is the VPC origin to compute's internal load balancer, one per protocol: plain HTTP inside the VPC
// without a domain (no certificate can exist for the ALB), HTTPS to the ALB's api.<domain> certificate with one.
// CloudFront refuses to update a VPC origin while a distribution uses it, whatever the property ("The specified VPC
// origin is currently associated with one or more distributions. Please disassociate the VPC origin from all
// distributions before updating or deleting": hashicorp/terraform-provider-aws#40905 on a switch to https-only,
// aws/aws-cdk#35765 on a tag change), and CloudFormation would try exactly that: no property of
// AWS::CloudFront::VpcOrigin forces a replacement (its registry schema has no createOnlyProperties). So a VPC
// origin is never edited: its logical ID names its protocol, and a protocol switch (adding a domain) makes
// CloudFormation create the new origin, point the distribution at it, and delete the old one in the cleanup phase,
// once nothing uses it: the "detach, update, reattach" the CloudFront guide asks for (aws/aws-cdk#34629), without
// an outage. Nothing else in it may change with a setting: no tags (untaggedTypes), a name derived from the ID.
func newVpcOrigin(stack awscdk.Stack, compute *ComputeStack) awscloudfront.VpcOrigin {
	id, protocol := "VpcOriginHttp", awscloudfront.OriginProtocolPolicy_HTTP_ONLY
	if compute.OriginHTTPS {
		id, protocol = "VpcOriginHttps", awscloudfront.OriginProtocolPolicy_HTTPS_ONLY
	}
	return awscloudfront.NewVpcOrigin(stack, jsii.String(id), &awscloudfront.VpcOriginProps{
		Endpoint:           awscloudfront.VpcOriginEndpoint_ApplicationLoadBalancer(compute.BackendService.LoadBalancer()),
		ProtocolPolicy:     protocol,
		OriginSslProtocols: &[]awscloudfront.OriginSslPolicy{awscloudfront.OriginSslPolicy_TLS_V1_2},
	})
}

// newWebACL is the CLOUDFRONT-scope WAF: AWS managed rule groups plus a per-IP rate limit. In count mode
// every rule only counts, so dev shows what prod would block.
func newWebACL(stack awscdk.Stack, cfg *config.Config) awswafv2.CfnWebACL {
	block := cfg.WAFMode == config.WAFBlock
	visibility := func(name string) *awswafv2.CfnWebACL_VisibilityConfigProperty {
		return &awswafv2.CfnWebACL_VisibilityConfigProperty{MetricName: jsii.String(name),
			CloudWatchMetricsEnabled: jsii.Bool(true), SampledRequestsEnabled: jsii.Bool(true)}
	}
	override := &awswafv2.CfnWebACL_OverrideActionProperty{Count: map[string]interface{}{}}
	action := &awswafv2.CfnWebACL_RuleActionProperty{Count: &awswafv2.CfnWebACL_CountActionProperty{}}
	if block {
		override = &awswafv2.CfnWebACL_OverrideActionProperty{None: map[string]interface{}{}}
		action = &awswafv2.CfnWebACL_RuleActionProperty{Block: &awswafv2.CfnWebACL_BlockActionProperty{}}
	}
	var rules []interface{}
	if cfg.WAFBodyLimitKiB > 0 {
		// First, so an oversized body is refused before any other rule reads it. A body beyond what WAF inspects
		// (16 KiB on CloudFront by default: AWS WAF developer guide, "Managing body inspection size limits")
		// matches too (OversizeHandling MATCH): it is over the limit either way.
		rules = append(rules, &awswafv2.CfnWebACL_RuleProperty{
			Name: jsii.String("BodySizeLimit"), Priority: jsii.Number(0), Action: action,
			Statement: &awswafv2.CfnWebACL_StatementProperty{SizeConstraintStatement: &awswafv2.CfnWebACL_SizeConstraintStatementProperty{
				FieldToMatch:        &awswafv2.CfnWebACL_FieldToMatchProperty{Body: &awswafv2.CfnWebACL_BodyProperty{OversizeHandling: jsii.String("MATCH")}},
				ComparisonOperator:  jsii.String("GT"),
				Size:                jsii.Number(float64(cfg.WAFBodyLimitKiB * 1024)),
				TextTransformations: []interface{}{&awswafv2.CfnWebACL_TextTransformationProperty{Priority: jsii.Number(0), Type: jsii.String("NONE")}},
			}},
			VisibilityConfig: visibility("BodySizeLimit"),
		})
	}
	for i, group := range managedRuleGroups {
		statement := &awswafv2.CfnWebACL_ManagedRuleGroupStatementProperty{VendorName: jsii.String("AWS"), Name: jsii.String(group)}
		if overrides := countedRules[group]; len(overrides) > 0 {
			var list []interface{}
			for _, rule := range overrides {
				list = append(list, &awswafv2.CfnWebACL_RuleActionOverrideProperty{Name: jsii.String(rule),
					ActionToUse: &awswafv2.CfnWebACL_RuleActionProperty{Count: &awswafv2.CfnWebACL_CountActionProperty{}}})
			}
			statement.RuleActionOverrides = list
		}
		rules = append(rules, &awswafv2.CfnWebACL_RuleProperty{
			Name: jsii.String(group), Priority: jsii.Number(float64(i + 1)), OverrideAction: override,
			Statement:        &awswafv2.CfnWebACL_StatementProperty{ManagedRuleGroupStatement: statement},
			VisibilityConfig: visibility(group),
		})
	}
	rules = append(rules, &awswafv2.CfnWebACL_RuleProperty{
		Name: jsii.String("RatePerIp"), Priority: jsii.Number(float64(len(managedRuleGroups) + 1)), Action: action,
		Statement: &awswafv2.CfnWebACL_StatementProperty{RateBasedStatement: &awswafv2.CfnWebACL_RateBasedStatementProperty{
			Limit: jsii.Number(float64(cfg.WAFRateLimit)), AggregateKeyType: jsii.String("IP")}},
		VisibilityConfig: visibility("RatePerIp"),
	})
	return awswafv2.NewCfnWebACL(stack, jsii.String("WebAcl"), &awswafv2.CfnWebACLProps{
		Name:             jsii.String(Names{cfg.Stage}.WebACL()),
		Scope:            jsii.String("CLOUDFRONT"), // the stage's region is us-east-1, where CLOUDFRONT ACLs live
		DefaultAction:    &awswafv2.CfnWebACL_DefaultActionProperty{Allow: &awswafv2.CfnWebACL_AllowActionProperty{}},
		Rules:            &rules,
		VisibilityConfig: visibility(Names{cfg.Stage}.WebACL()),
	})
}

// managedRuleGroups: OWASP-style common rules, known exploit payloads, IPs AWS sees attacking, SQL injection.
var managedRuleGroups = []string{"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet",
	"AWSManagedRulesAmazonIpReputationList", "AWSManagedRulesSQLiRuleSet"}

// countedRules are rules of a managed group that only count: SizeRestrictions_BODY "inspects for request bodies
// that are over 8 KB (8,192 bytes)" and blocks them (AWS WAF developer guide, "Core rule set (CRS) managed rule
// group"), which would refuse AI prompts and uploads; wafBodyLimitKiB sets the API's own limit instead.
var countedRules = map[string][]string{"AWSManagedRulesCommonRuleSet": {"SizeRestrictions_BODY"}}

// newWafLogging sends the web ACL's request logs to a log group whose name starts with aws-waf-logs- (the prefix
// WAF requires of every log destination: AWS WAF developer guide, "Logging destinations"), with credentials
// redacted. WAF gives itself the log group's resource policy when the logging configuration is created (WAF API
// reference, "LoggingConfiguration"), which the deploying role needs logs:PutResourcePolicy for. It returns the
// destination as the logging configuration names it (what GetLoggingConfiguration answers).
func newWafLogging(stack awscdk.Stack, cfg *config.Config, acl awswafv2.CfnWebACL) *string {
	name := Names{cfg.Stage}.WafLogGroup()
	logs := newLogGroup(stack, "WafLogs", cfg, name)
	// The destination is the log group's ARN without the ":*" suffix of its Arn attribute.
	arn := stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("logs"), Resource: jsii.String("log-group"),
		ResourceName: jsii.String(name), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME})
	redact := func(header string) interface{} {
		return &awswafv2.CfnLoggingConfiguration_FieldToMatchProperty{SingleHeader: map[string]interface{}{"Name": header}}
	}
	logging := awswafv2.NewCfnLoggingConfiguration(stack, jsii.String("WafLogging"), &awswafv2.CfnLoggingConfigurationProps{
		ResourceArn:           acl.AttrArn(),
		LogDestinationConfigs: &[]interface{}{arn},
		RedactedFields:        &[]interface{}{redact("authorization"), redact("cookie")},
	})
	logging.Node().AddDependency(logs)
	return arn
}

// newFrontend is the Amplify Hosting app built from the frontend's GitHub repository.
func newFrontend(stack awscdk.Stack, cfg *config.Config, apiURL *string) awsamplify.CfnApp {
	app := awsamplify.NewCfnApp(stack, jsii.String("Frontend"), &awsamplify.CfnAppProps{
		Name:       jsii.String(Names{cfg.Stage}.Resource("frontend")),
		Repository: jsii.String(cfg.FrontendRepository),
		// A dynamic reference: CloudFormation reads the token from Secrets Manager; it never enters the template.
		AccessToken: awscdk.SecretValue_SecretsManager(jsii.String(cfg.FrontendTokenSecretName), nil).UnsafeUnwrap(),
		Platform:    jsii.String("WEB"),
		EnvironmentVariables: &[]interface{}{&awsamplify.CfnApp_EnvironmentVariableProperty{
			Name: jsii.String("API_URL"), Value: apiURL}},
	})
	awsamplify.NewCfnBranch(stack, jsii.String("FrontendBranch"), &awsamplify.CfnBranchProps{
		AppId: app.AttrAppId(), BranchName: jsii.String(cfg.FrontendBranch), EnableAutoBuild: jsii.Bool(true),
		Stage: jsii.String(amplifyStage(cfg)),
	})
	url := awscdk.Fn_Join(jsii.String(""), jsii.Strings("https://", cfg.FrontendBranch+".", *app.AttrDefaultDomain()))
	if cfg.DomainName != "" {
		// Amplify creates and validates app.<domain> itself in the account's Route 53 zone.
		awsamplify.NewCfnDomain(stack, jsii.String("FrontendDomain"), &awsamplify.CfnDomainProps{
			AppId: app.AttrAppId(), DomainName: jsii.String(cfg.DomainName),
			SubDomainSettings: &[]interface{}{&awsamplify.CfnDomain_SubDomainSettingProperty{
				BranchName: jsii.String(cfg.FrontendBranch), Prefix: jsii.String("app")}},
		})
		url = jsii.String("https://app." + cfg.DomainName)
	}
	awscdk.NewCfnOutput(stack, jsii.String("FrontendUrl"), &awscdk.CfnOutputProps{Value: url,
		Description: jsii.String("Public URL of the Amplify frontend")})
	return app
}

// amplifyStage labels the branch: PRODUCTION where the stage protects its data, DEVELOPMENT elsewhere.
func amplifyStage(cfg *config.Config) string {
	if cfg.DeletionProtection {
		return "PRODUCTION"
	}
	return "DEVELOPMENT"
}
