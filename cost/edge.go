package cost

import (
	"fmt"
	"strings"
)

func (e *estimator) cloudFront() {
	c, ok := e.claimLine("AWS::CloudFront::Distribution", "CloudFront", "cloudfront_na_https_usd_per_10k_requests",
		"cloudfront_na_data_out_first_10tb_usd_per_gb", "cloudfront_free_tier_requests_per_month", "cloudfront_free_tier_data_out_gb_per_month")
	if !ok {
		return
	}
	vals := c.p
	freeReq, freeGB := e.freeShare(vals[2]), e.freeShare(vals[3])
	req := positive(e.u.CloudFrontRequests - freeReq)
	gb := positive(e.u.CloudFrontGB - freeGB)
	detail := fmt.Sprintf("(%s HTTPS requests − %s free share) × $%s/10k + (%s GB out − %s GB free share) × $%s (usage) [%s]",
		fmtCount(e.u.CloudFrontRequests), fmtCount(freeReq), fmtNum(vals[0]),
		fmtNum(e.u.CloudFrontGB), fmtNum(freeGB), fmtNum(vals[1]), paths(c.rs))
	e.add(c.item, detail, req/10000*vals[0]+gb*vals[1])
}

// paidManagedGroups are AWS managed rule groups with a subscription/request fee on top of the rule price.
var paidManagedGroups = map[string]bool{"AWSManagedRulesBotControlRuleSet": true, "AWSManagedRulesATPRuleSet": true,
	"AWSManagedRulesACFPRuleSet": true, "AWSManagedRulesAntiDDoSRuleSet": true}

func (e *estimator) waf() {
	for _, acl := range e.claim("AWS::WAFv2::WebACL") {
		name := "WAF web ACL " + acl.Path()
		vals, ok := e.priced(name, "", "waf_web_acl_usd_per_month", "waf_rule_usd_per_month", "waf_requests_usd_per_million")
		if !ok {
			continue
		}
		rules := acl.List("Rules")
		var names []string
		for _, r := range rules {
			m, _ := r.(map[string]any)
			n, _ := literalString(m["Name"])
			names = append(names, n)
			if g, ok := dig(m, "Statement.ManagedRuleGroupStatement.Name").(string); ok && paidManagedGroups[g] {
				e.unpriced("WAF "+g+" in "+acl.Path(), "this managed rule group has its own subscription and request fees, not in the price table")
			}
		}
		n := float64(len(rules))
		usd := vals[0] + n*vals[1] + e.u.WafRequests/1e6*vals[2]
		e.add(name, fmt.Sprintf("$%s/ACL + %s rules × $%s (%s) + %s requests (usage) × $%s/M", fmtNum(vals[0]), fmtNum(n),
			fmtNum(vals[1]), strings.Join(names, ", "), fmtCount(e.u.WafRequests), fmtNum(vals[2])), usd)
	}
	for _, lc := range e.of("AWS::WAFv2::LoggingConfiguration") {
		e.markFree(lc)
		dest := strings.Join(literalStrings(lc.Prop("LogDestinationConfigs")), "")
		var group *Resource // referenced, or named in the destination ARN (…:log-group:aws-waf-logs-…)
		for _, g := range e.of("AWS::Logs::LogGroup") {
			if g.Stack == lc.Stack && refersToResource(lc.Prop("LogDestinationConfigs"), g, "LogGroupName") {
				group = g
			}
		}
		if group == nil && !strings.Contains(dest, ":logs:") {
			e.unpriced("WAF logging "+lc.Path(), "logs go to S3 or Firehose, which the estimator does not price")
			continue
		}
		gb := e.u.WafRequests / 1e6 * e.u.WafLogGBPerMillion
		retention := 0.0
		if group != nil {
			e.handled[group] = true
			retention, _ = group.Num("RetentionInDays")
		}
		// Priced at the standard ingestion rate, as every log source: the price table has no vended-logs tier.
		e.logs = append(e.logs, logInput{source: "WAF logs", gb: gb, retentionDays: retention})
	}
}

// route53 prices the hosted zone the stage's records live in: the app imports the zone by id, so it is priced
// once per stage that has records.
func (e *estimator) route53() {
	records := e.claim("AWS::Route53::RecordSet")
	if len(records) == 0 {
		return
	}
	item := "Route 53 hosted zone ×1"
	vals, ok := e.priced(item, "", "route53_hosted_zone_usd_per_month_first_25", "route53_standard_queries_usd_per_million_first_1b")
	if !ok {
		return
	}
	detail := fmt.Sprintf("1 hosted zone × $%s: the zone is referenced by id (not in the templates); priced once for this stage because it has %s",
		fmtNum(vals[0]), plural(len(records), "record"))
	detail += fmt.Sprintf("; %s non-alias queries (usage) × $%s/M (alias queries to AWS resources are free)",
		fmtCount(e.u.Route53Queries), fmtNum(vals[1]))
	e.add(item, detail, vals[0]+e.u.Route53Queries/1e6*vals[1])
}

// amplify prices a static (Platform WEB) frontend: builds, artifacts and data served. An SSR app's compute is
// not priced.
func (e *estimator) amplify() {
	c, ok := e.claimLine("AWS::Amplify::App", "Amplify Hosting", "amplify_build_standard_usd_per_minute", "amplify_storage_usd_per_gb_month",
		"amplify_data_served_usd_per_gb")
	if !ok {
		return
	}
	for _, app := range c.rs {
		if p := app.Str("Platform"); p != "" && p != "WEB" {
			e.unpriced("Amplify SSR compute "+app.Path(), "platform "+p+": SSR requests and duration are not priced by the estimator")
		}
	}
	vals := c.p
	usd := c.n() * (e.u.AmplifyBuildMinutes*vals[0] + e.u.AmplifyStorageGB*vals[1] + e.u.AmplifyServedGB*vals[2])
	e.add(c.item, fmt.Sprintf("%s build min × $%s + %s GB stored × $%s + %s GB served × $%s (usage; build and served rates are low-confidence)",
		fmtNum(e.u.AmplifyBuildMinutes), fmtNum(vals[0]), fmtNum(e.u.AmplifyStorageGB), fmtNum(vals[1]),
		fmtNum(e.u.AmplifyServedGB), fmtNum(vals[2])), usd)
}
