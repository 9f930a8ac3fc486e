package cost

import (
	"fmt"
	"sort"
	"strings"
)

// alarmMetrics counts what CloudWatch bills for an alarm: one alarm metric per metric it evaluates (metric
// math alarms: each MetricStat), three for an anomaly-detection alarm; high resolution when the period is
// under 60 s. insights is set for a Metrics Insights query alarm.
func alarmMetrics(a *Resource) (n float64, highRes, insights bool) {
	period, _ := a.Num("Period")
	if list := a.List("Metrics"); len(list) > 0 {
		for _, x := range list {
			m, _ := x.(map[string]any)
			if ms, ok := m["MetricStat"].(map[string]any); ok {
				n++
				if p, ok := literalNumber(ms["Period"]); ok && p < 60 {
					highRes = true
				}
			}
			if ex, ok := m["Expression"].(string); ok && strings.Contains(strings.ToUpper(ex), "SELECT ") {
				insights = true
			}
		}
	} else {
		n = 1
	}
	if period > 0 && period < 60 {
		highRes = true
	}
	if a.Str("ThresholdMetricId") != "" {
		n *= 3
	}
	return n, highRes, insights
}

func (e *estimator) alarms() {
	alarms := e.claim("AWS::CloudWatch::Alarm")
	if len(alarms) == 0 {
		return
	}
	var std, hi float64
	mathAlarms := 0
	for _, a := range alarms {
		n, highRes, insights := alarmMetrics(a)
		if insights {
			e.unpriced("CloudWatch Metrics Insights alarm "+a.Path(), "priced per metric analysed; the price table has no key for it")
			continue
		}
		if len(a.List("Metrics")) > 0 {
			mathAlarms++
		}
		if highRes {
			hi += n
		} else {
			std += n
		}
	}
	item := fmt.Sprintf("CloudWatch alarms ×%d", len(alarms))
	vals, ok := e.priced(item, "", "cloudwatch_alarm_standard_usd_per_alarm_metric_month", "cloudwatch_alarm_high_res_usd_per_alarm_metric_month",
		"cloudwatch_free_alarms")
	if !ok {
		return
	}
	free := e.freeShare(vals[2])
	billable := positive(std - free)
	detail := fmt.Sprintf("(%s standard alarm metrics − %s free share) × $%s", fmtNum(std), fmtNum(free), fmtNum(vals[0]))
	if hi > 0 {
		detail += fmt.Sprintf(" + %s high-resolution × $%s", fmtNum(hi), fmtNum(vals[1]))
	}
	if mathAlarms > 0 {
		detail += fmt.Sprintf("; %d metric-math alarms billed per metric", mathAlarms)
	}
	e.add(item, detail, billable*vals[0]+hi*vals[1])
}

func (e *estimator) dashboards() {
	c, ok := e.claimLine("AWS::CloudWatch::Dashboard", "CloudWatch dashboards", "cloudwatch_dashboard_usd_per_month_beyond_3_free",
		"cloudwatch_free_dashboards")
	if !ok {
		return
	}
	free := e.freeShare(c.p[1])
	billable := positive(c.n() - free)
	e.add(c.item, fmt.Sprintf("(%s dashboards − %s free: this stage's share of the account's %s, cost.UsageFor) × $%s [%s]", fmtNum(c.n()),
		fmtNum(free), fmtNum(c.p[1]), fmtNum(c.p[0]), paths(c.rs)), billable*c.p[0])
}

// customMetrics: one metric per log metric filter transformation, plus the backend's own (EMF) metrics when
// the stage runs a service.
func (e *estimator) customMetrics() {
	filters := 0.0
	for _, f := range e.claim("AWS::Logs::MetricFilter") {
		filters += float64(len(f.List("MetricTransformations")))
	}
	app := 0.0
	if e.services > 0 {
		app = e.u.AppCustomMetrics
	}
	if filters+app == 0 {
		return
	}
	item := "CloudWatch custom metrics"
	v, ok := e.priced(item, "", "cloudwatch_custom_metric_usd_per_metric_month_first_10k", "cloudwatch_free_custom_metrics")
	if !ok {
		return
	}
	free := e.freeShare(v[1])
	billable := positive(filters + app - free)
	e.add(item, fmt.Sprintf("(%s from log metric filters + %s app EMF metrics (usage) − %s free share) × $%s",
		fmtNum(filters), fmtNum(app), fmtNum(free), fmtNum(v[0])), billable*v[0])
}

// containerInsights reports clusters with Container Insights on: billed per metric or observation, with no
// key in the price table.
func (e *estimator) containerInsights() {
	for _, c := range e.of("AWS::ECS::Cluster") {
		for _, s := range c.List("ClusterSettings") {
			m, _ := s.(map[string]any)
			if m["Name"] != "containerInsights" {
				continue
			}
			v, _ := literalString(m["Value"])
			if v == "enabled" || v == "enhanced" {
				e.unpriced("Container Insights ("+v+") on "+c.Path(),
					"billed per metric (enabled) or per observation (enhanced); the price table has no key for it")
			}
		}
	}
}

// cloudWatchLogs prices log ingestion and storage of every log source: log groups in the templates (classified
// by who writes to them) plus the sources other families found (RDS exports, enhanced monitoring, WAF).
func (e *estimator) cloudWatchLogs() {
	groups := e.of("AWS::Logs::LogGroup")
	appGroups, flowGroups := map[*Resource]bool{}, map[*Resource]bool{}
	appNamed := map[string]bool{} // awslogs-group names used by services' task definitions
	for _, r := range e.all {
		switch r.Type {
		case "AWS::EC2::FlowLog":
			for _, g := range groups {
				if g.Stack == r.Stack && (refersTo(r.Prop("LogGroupName"), g.ID) || refersTo(r.Prop("LogDestination"), g.ID)) {
					flowGroups[g] = true
				}
			}
		case "AWS::ECS::TaskDefinition":
			for _, c := range r.List("ContainerDefinitions") {
				opt := dig(c, "LogConfiguration.Options")
				grp := dig(opt, "awslogs-group")
				if grp == nil {
					continue
				}
				found := false
				for _, g := range groups {
					if g.Stack == r.Stack && refersToResource(grp, g, "LogGroupName") {
						appGroups[g] = true
						found = true
					}
				}
				if s, ok := grp.(string); ok && !found {
					appNamed[s] = true
				}
			}
		}
	}
	var srcs []logInput
	var unpricedGroups []string
	var apps, flows, others []*Resource
	for _, g := range groups {
		if e.handled[g] { // already a source of another family (WAF logs)
			continue
		}
		e.handled[g] = true
		switch {
		case strings.EqualFold(g.Str("LogGroupClass"), "INFREQUENT_ACCESS"):
			unpricedGroups = append(unpricedGroups, g.Path())
		case appGroups[g]:
			apps = append(apps, g)
		case flowGroups[g]:
			flows = append(flows, g)
		case strings.Contains(strings.Join(literalStrings(g.Prop("LogGroupName")), ""), "/aws/rds/"):
			// the RDS family prices the exports written to it
		default:
			others = append(others, g)
		}
	}
	add := func(gs []*Resource, source string, total float64) {
		for _, g := range gs {
			ret, _ := g.Num("RetentionInDays")
			srcs = append(srcs, logInput{source: source, gb: total / float64(len(gs)), retentionDays: ret})
		}
	}
	if e.services > 0 { // a task definition no service runs writes nothing
		add(apps, "app", e.u.AppLogGB)
	}
	add(flows, "VPC flow logs", e.u.FlowLogGB)
	add(others, "other", e.u.OtherLogGBPerGroup*float64(len(others)))
	if len(appGroups) == 0 && len(appNamed) > 0 && e.services > 0 {
		names := sortedKeys(appNamed)
		srcs = append(srcs, logInput{source: "app (log group " + strings.Join(names, ", ") + " not in the templates: never expires)", gb: e.u.AppLogGB})
	}
	srcs = append(srcs, e.logs...)
	if len(unpricedGroups) > 0 {
		e.unpriced(fmt.Sprintf("CloudWatch Logs Infrequent Access ×%d", len(unpricedGroups)),
			"the price table has no Infrequent Access log class price: "+strings.Join(unpricedGroups, ", "))
	}
	if len(srcs) == 0 {
		return
	}
	item := fmt.Sprintf("CloudWatch Logs (%s)", plural(len(srcs), "source"))
	vals, ok := e.priced(item, "", "cloudwatch_logs_ingestion_standard_usd_per_gb", "cloudwatch_logs_storage_usd_per_gb_month",
		"cloudwatch_free_logs_gb_per_month")
	if !ok {
		return
	}
	var ingest, stored float64
	bySource := map[string]float64{}
	retentions := map[string]bool{}
	nOther := 0
	for _, s := range srcs {
		ingest += s.gb
		months := s.retentionDays / (e.hours() / 24)
		label := fmtNum(s.retentionDays) + " d"
		if s.retentionDays == 0 {
			months = e.u.LogsNoRetentionMonths
			label = "never expires"
		}
		stored += s.gb * min(months, e.u.LogsNoRetentionMonths) * e.u.LogsStorageCompression
		retentions[label] = true
		if s.source == "other" {
			nOther++
			continue
		}
		bySource[s.source] += s.gb
	}
	var parts []string
	for _, k := range sortedKeys(bySource) {
		parts = append(parts, fmt.Sprintf("%s %s GB", k, fmtNum(round4(bySource[k]))))
	}
	if nOther > 0 {
		parts = append(parts, fmt.Sprintf("%d other groups × %s GB", nOther, fmtNum(e.u.OtherLogGBPerGroup)))
	}
	free := e.freeShare(vals[2])
	billIngest := positive(ingest - free)
	billStored := positive(stored - positive(free-ingest))
	ret := sortedKeys(retentions)
	sort.Strings(ret)
	detail := fmt.Sprintf("ingest %s GB/month (usage: %s) − %s GB free share → %s GB × $%s; stored %s GB (%s%% of ingest × retention %s) × $%s",
		fmtNum(round4(ingest)), strings.Join(parts, ", "), fmtNum(free), fmtNum(round4(billIngest)), fmtNum(vals[0]),
		fmtNum(round4(stored)), fmtNum(e.u.LogsStorageCompression*100), strings.Join(ret, "/"), fmtNum(vals[1]))
	e.add(item, detail, billIngest*vals[0]+billStored*vals[1])
}

// xray prices traces when a service's task definition runs something that sends them to X-Ray: the OpenTelemetry
// collector (stacks/task.go) or an X-Ray daemon.
func (e *estimator) xray() {
	found := false
	for _, svc := range e.of("AWS::ECS::Service") {
		td := e.sameStackRef(svc, svc.Prop("TaskDefinition"))
		if td == nil {
			continue
		}
		for _, c := range td.List("ContainerDefinitions") {
			img := strings.ToLower(strings.Join(literalStrings(dig(c, "Image")), ""))
			if strings.Contains(img, "xray") || strings.Contains(img, "x-ray") || strings.Contains(img, "aws-otel-collector") {
				found = true
			}
		}
	}
	if !found {
		return
	}
	v, ok := e.priced("X-Ray traces", "", "xray_traces_recorded_usd_per_million", "xray_free_traces_recorded_per_month")
	if !ok {
		return
	}
	free := e.freeShare(v[1])
	billable := positive(e.u.XRayTraces - free)
	e.add("X-Ray traces", fmt.Sprintf("(%s traces recorded (usage) − %s free share) × $%s/M", fmtCount(e.u.XRayTraces),
		fmtCount(free), fmtNum(v[0])), billable/1e6*v[0])
}

func (e *estimator) budgets() {
	c, ok := e.claimLine("AWS::Budgets::Budget", "AWS Budgets", "budgets_usd_per_budget_day_beyond_free", "budgets_free_budgets_per_account")
	if !ok {
		return
	}
	free := e.freeShare(c.p[1])
	billable := positive(c.n() - free)
	days := e.hours() / 24
	e.add(c.item, fmt.Sprintf("(%s budgets − %s of the account's %s free) × $%s/day × %s days", fmtNum(c.n()), fmtNum(free),
		fmtNum(c.p[1]), fmtNum(c.p[0]), fmtNum(round4(days))), billable*c.p[0]*days)
}
