package cost

import (
	"fmt"
	"strings"
)

func (e *estimator) cloudFront() {
	dists := e.of("AWS::CloudFront::Distribution")
	for _, d := range dists {
		e.handled[d] = true
	}
	if len(dists) > 0 {
		vals, missing := e.prices("cloudfront_na_https_usd_per_10k_requests", "cloudfront_na_data_out_first_10tb_usd_per_gb")
		item := fmt.Sprintf("CloudFront ×%d", len(dists))
		if len(missing) > 0 {
			e.unpriced(item, noKey(missing))
		} else {
			req := positive(e.u.CloudFrontRequests - e.u.Free.CloudFrontRequests)
			gb := positive(e.u.CloudFrontGB - e.u.Free.CloudFrontGB)
			detail := fmt.Sprintf("(%s HTTPS requests − %s free share) × $%s/10k + (%s GB out − %s GB free share) × $%s (usage) [%s]",
				fmtCount(e.u.CloudFrontRequests), fmtCount(e.u.Free.CloudFrontRequests), fmtNum(vals[0]),
				fmtNum(e.u.CloudFrontGB), fmtNum(e.u.Free.CloudFrontGB), fmtNum(vals[1]), paths(dists))
			e.add(item, detail, req/10000*vals[0]+gb*vals[1])
		}
	}
	for _, f := range e.of("AWS::CloudFront::Function") {
		e.handled[f] = true
		free, ok := e.price("cloudfront_free_tier_function_invocations_per_month")
		share := 0.0
		if all, ok2 := e.price("cloudfront_free_tier_requests_per_month"); ok2 && all > 0 {
			share = e.u.Free.CloudFrontRequests / all // the stage's share of the account's free tiers
		}
		if ok && e.u.CloudFrontRequests <= free*share {
			e.add("CloudFront Function "+f.Path(), fmt.Sprintf("%s invocations (one per request, usage) within the free-tier share of %s",
				fmtCount(e.u.CloudFrontRequests), fmtCount(free*share)), 0)
			continue
		}
		e.unpriced("CloudFront Function "+f.Path(), fmt.Sprintf("%s invocations exceed the free tier share; the price table has no per-invocation price",
			fmtCount(e.u.CloudFrontRequests)))
	}
}

// paidManagedGroups are AWS managed rule groups with a subscription/request fee on top of the rule price.
var paidManagedGroups = map[string]bool{"AWSManagedRulesBotControlRuleSet": true, "AWSManagedRulesATPRuleSet": true,
	"AWSManagedRulesACFPRuleSet": true, "AWSManagedRulesAntiDDoSRuleSet": true}

func (e *estimator) waf() {
	for _, acl := range e.of("AWS::WAFv2::WebACL") {
		e.handled[acl] = true
		name := "WAF web ACL " + acl.Path()
		vals, missing := e.prices("waf_web_acl_usd_per_month", "waf_rule_usd_per_month", "waf_requests_usd_per_million")
		if len(missing) > 0 {
			e.unpriced(name, noKey(missing))
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
		e.handled[lc] = true
		e.free[lc.Type]++
		dest := strings.Join(literalStrings(lc.Prop("LogDestinationConfigs")), "")
		var group *Resource
		for id := range refs(lc.Prop("LogDestinationConfigs")) {
			if r, ok := lc.Stack.Template.Resources[id]; ok && r.Type == "AWS::Logs::LogGroup" {
				group = r
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
		e.logs = append(e.logs, logInput{source: "WAF logs", gb: gb, retentionDays: retention})
	}
}

func (e *estimator) route53() {
	zones := e.of("AWS::Route53::HostedZone")
	records := append(append([]*Resource{}, e.of("AWS::Route53::RecordSet")...), e.of("AWS::Route53::RecordSetGroup")...)
	for _, r := range zones {
		e.handled[r] = true
	}
	for _, r := range records {
		e.handled[r] = true
	}
	if len(zones) == 0 && len(records) == 0 {
		return
	}
	vals, missing := e.prices("route53_hosted_zone_usd_per_month_first_25", "route53_standard_queries_usd_per_million_first_1b")
	n := float64(len(zones))
	detail := fmt.Sprintf("%s hosted zones in the templates × $%s", fmtNum(n), fmtNum(vals[0]))
	if len(zones) == 0 {
		n = 1
		detail = fmt.Sprintf("1 hosted zone × $%s: the zone is referenced by id (not in the templates); priced once for this stage because it has %s",
			fmtNum(vals[0]), plural(len(records), "record"))
	}
	item := fmt.Sprintf("Route 53 hosted zone ×%s", fmtNum(n))
	if len(missing) > 0 {
		e.unpriced(item, noKey(missing))
		return
	}
	detail += fmt.Sprintf("; %s non-alias queries (usage) × $%s/M (alias queries to AWS resources are free)",
		fmtCount(e.u.Route53Queries), fmtNum(vals[1]))
	e.add(item, detail, n*vals[0]+e.u.Route53Queries/1e6*vals[1])
	if hc := e.of("AWS::Route53::HealthCheck"); len(hc) > 0 {
		for _, r := range hc {
			e.handled[r] = true
		}
		e.unpriced(fmt.Sprintf("Route 53 health checks ×%d", len(hc)), "no price in the price table")
	}
}

func (e *estimator) amplify() {
	apps := e.claim("AWS::Amplify::App")
	if len(apps) == 0 {
		return
	}
	keys := []string{"amplify_build_standard_usd_per_minute", "amplify_storage_usd_per_gb_month", "amplify_data_served_usd_per_gb",
		"amplify_ssr_requests_usd_per_million", "amplify_ssr_duration_usd_per_gb_hour"}
	vals, missing := e.prices(keys...)
	item := fmt.Sprintf("Amplify Hosting ×%d", len(apps))
	if len(missing) > 0 {
		e.unpriced(item, noKey(missing))
		return
	}
	n := float64(len(apps))
	usd := n * (e.u.AmplifyBuildMinutes*vals[0] + e.u.AmplifyStorageGB*vals[1] + e.u.AmplifyServedGB*vals[2] +
		e.u.AmplifyRequestsMillions*vals[3] + e.u.AmplifySSRGBHours*vals[4])
	e.add(item, fmt.Sprintf("%s build min × $%s + %s GB stored × $%s + %s GB served × $%s (usage; build and served rates are low-confidence)",
		fmtNum(e.u.AmplifyBuildMinutes), fmtNum(vals[0]), fmtNum(e.u.AmplifyStorageGB), fmtNum(vals[1]),
		fmtNum(e.u.AmplifyServedGB), fmtNum(vals[2])), usd)
}
