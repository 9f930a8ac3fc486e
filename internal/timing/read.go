// Package timing models how a deploy of the backend service goes, and how far a bad one gets, from the values in
// the compute stack's synthesized template (`make timing`, docs/performance.md). Every term is a template value
// or a stated assumption; each formula names the AWS documentation it rests on.
package timing

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"h2o-infra/internal/cfnpath"
)

// Rollout is what the compute template says about a deploy of its service.
type Rollout struct {
	GraceSeconds       float64 // HealthCheckGracePeriodSeconds: the budget of a normal start (the model's app start)
	IntervalSeconds    float64 // target group health check interval
	HealthyThreshold   float64
	UnhealthyThreshold float64
	DrainSeconds       float64 // deregistration_delay.timeout_seconds
	DesiredCount       float64
	CircuitBreaker     bool // enabled with rollback
	// ThresholdType and ThresholdValue are the circuit breaker's ThresholdConfiguration (ECS's default when absent:
	// BOUNDED_PERCENT 50); ResetOnHealthyTask restarts its failure count at each healthy task (default true).
	ThresholdType      string
	ThresholdValue     float64
	ResetOnHealthyTask bool
	// Strategy is DeploymentConfiguration.Strategy (ROLLING when absent); a rolling deploy starts new tasks up to
	// MaxPercent of the desired count and keeps MinHealthyPercent healthy.
	Strategy                      string
	MinHealthyPercent, MaxPercent float64
	// CanaryPercent and CanaryBakeSeconds are a CANARY deploy's first traffic share and its duration;
	// BakeSeconds is BakeTimeInMinutes, how long the old tasks stay after all traffic moved.
	CanaryPercent, CanaryBakeSeconds, BakeSeconds float64
	Alarms                                        []Alarm
}

// Alarm is one deployment alarm of the service, as its template states it.
type Alarm struct {
	Name                                         string
	PeriodSeconds, EvaluationPeriods, Datapoints float64
	Threshold                                    float64
	// Expression is a metric-math alarm's returned expression ("" for a single metric).
	Expression string
	// Watches5xx: its metrics include the load balancer's 5xx counts, so it sees a release that answers 5xx.
	// WatchesUnhealthy: its metrics include UnHealthyHostCount.
	Watches5xx, WatchesUnhealthy bool
	// PerTargetGroup: the expression judges each of the service's target groups by its own RequestCount and
	// HTTPCode_Target_5XX_Count (dimension TargetGroup), so a canary's errors are not diluted by the old tasks' requests.
	PerTargetGroup bool
	// MinRequestsPerMinute is the traffic floor under which the expression judges nothing (its "IF(... >= n" per
	// period, as requests a minute); 0 without one.
	MinRequestsPerMinute float64
}

// ErrNoService: the template has no service with deployment alarms (another layer's stack).
var ErrNoService = errors.New("no ECS service with deployment alarms")

// Read finds the service that has deployment alarms in a compute template and reads its rollout settings. Every
// value the model uses must be a literal of the template; a missing or computed one fails naming its path.
func Read(template map[string]any) (Rollout, error) {
	resources, _ := template["Resources"].(map[string]any)
	var r Rollout
	var service map[string]any
	var serviceID string
	for id, raw := range resources {
		res, _ := raw.(map[string]any)
		if res["Type"] == "AWS::ECS::Service" && cfnpath.Get(res, "Properties.DeploymentConfiguration.Alarms") != nil {
			service, serviceID = res, id
		}
	}
	if service == nil {
		return r, ErrNoService
	}
	lit := literals{prefix: "Resources." + serviceID + "."}
	r.GraceSeconds = lit.number(service, "Properties.HealthCheckGracePeriodSeconds")
	r.DesiredCount = lit.number(service, "Properties.DesiredCount")
	if lit.err != nil {
		return r, lit.err
	}
	if err := readDeployment(&r, cfnpath.Get(service, "Properties.DeploymentConfiguration")); err != nil {
		return r, err
	}
	lbs, _ := cfnpath.Get(service, "Properties.LoadBalancers").([]any)
	if len(lbs) != 1 {
		return r, fmt.Errorf("the service has %d load balancer targets, want 1", len(lbs))
	}
	groups, err := readTargetGroups(&r, resources, lbs[0])
	if err != nil {
		return r, err
	}
	// ECS acts on the alarms only when they are enabled, and rolls back only with Rollback (ECS API reference,
	// "DeploymentAlarms"): the model's detection means a rollback.
	alarms := "Properties.DeploymentConfiguration.Alarms"
	for _, field := range []string{"Enable", "Rollback"} {
		if v := cfnpath.Get(service, alarms+"."+field); v != true {
			return r, fmt.Errorf("Resources.%s.%s.%s is %v, want true", serviceID, alarms, field, v)
		}
	}
	names, _ := cfnpath.Get(service, alarms+".AlarmNames").([]any)
	if len(names) == 0 {
		return r, fmt.Errorf("Resources.%s.%s.AlarmNames lists no alarm", serviceID, alarms)
	}
	for _, n := range names {
		id := refName(n)
		alarm, _ := resources[id].(map[string]any)
		if alarm == nil || alarm["Type"] != "AWS::CloudWatch::Alarm" {
			return r, fmt.Errorf("deployment alarm %v is not an alarm of this template", n)
		}
		a, err := readAlarm(id, alarm, groups)
		if err != nil {
			return r, err
		}
		r.Alarms = append(r.Alarms, a)
	}
	sort.Slice(r.Alarms, func(i, j int) bool { return r.Alarms[i].Name < r.Alarms[j].Name })
	for _, v := range []float64{r.ThresholdValue, r.MinHealthyPercent, r.MaxPercent, r.CanaryPercent, r.CanaryBakeSeconds, r.BakeSeconds} {
		if v < 0 {
			return r, fmt.Errorf("a deployment value is missing or not a literal: %+v", r)
		}
	}
	return r, nil
}

// literals reads literal numbers, keeping the first path that is not one.
type literals struct {
	prefix string
	err    error
}

func (l *literals) number(v any, path string) float64 {
	n := num(cfnpath.Get(v, path))
	if n < 0 && l.err == nil {
		l.err = fmt.Errorf("%s%s is %v: want a literal number", l.prefix, path, cfnpath.Get(v, path))
	}
	return n
}

// readAlarm reads a deployment alarm's evaluation (Period, EvaluationPeriods, DatapointsToAlarm, Threshold: each a
// literal, never a default) and what its metrics watch. groups are the logical IDs of the service's target groups.
func readAlarm(id string, alarm map[string]any, groups []string) (Alarm, error) {
	lit := literals{prefix: "Resources." + id + "."}
	a := Alarm{Name: fmt.Sprint(cfnpath.Get(alarm, "Properties.AlarmName")),
		EvaluationPeriods: lit.number(alarm, "Properties.EvaluationPeriods"), Datapoints: lit.number(alarm, "Properties.DatapointsToAlarm"),
		Threshold: lit.number(alarm, "Properties.Threshold")}
	type input struct{ name, group string }
	inputs := map[string]input{} // by metric-math id
	if name := cfnpath.Get(alarm, "Properties.MetricName"); name != nil {
		a.PeriodSeconds = lit.number(alarm, "Properties.Period")
		inputs[""] = input{fmt.Sprint(name), dimensionGroup(cfnpath.Get(alarm, "Properties.Dimensions"))}
	} else {
		metrics, _ := cfnpath.Get(alarm, "Properties.Metrics").([]any)
		for i, m := range metrics {
			path := fmt.Sprintf("Properties.Metrics.%d.", i)
			if cfnpath.Get(m, "MetricStat") == nil {
				if cfnpath.Get(m, "ReturnData") != false {
					a.Expression, _ = cfnpath.Get(m, "Expression").(string)
				}
				continue
			}
			a.PeriodSeconds = math.Max(a.PeriodSeconds, lit.number(alarm, path+"MetricStat.Period"))
			inputs[fmt.Sprint(cfnpath.Get(m, "Id"))] = input{fmt.Sprint(cfnpath.Get(m, "MetricStat.Metric.MetricName")),
				dimensionGroup(cfnpath.Get(m, "MetricStat.Metric.Dimensions"))}
		}
		if len(inputs) == 0 || a.Expression == "" {
			return a, fmt.Errorf("Resources.%s.Properties: neither MetricName nor Metrics with an expression and its inputs", id)
		}
	}
	if lit.err != nil {
		return a, lit.err
	}
	// The model reads a breach as a value over the threshold.
	if op, _ := cfnpath.Get(alarm, "Properties.ComparisonOperator").(string); !strings.HasPrefix(op, "GreaterThan") {
		return a, fmt.Errorf("Resources.%s.Properties.ComparisonOperator is %q: the model knows only GreaterThan... alarms", id, op)
	}
	// The expression judges a group by itself when it uses that group's own request and target-5xx counts.
	judges := map[string]map[string]bool{}
	for mathID, in := range inputs {
		switch {
		case strings.HasPrefix(in.name, "HTTPCode_") && strings.HasSuffix(in.name, "_5XX_Count"):
			a.Watches5xx = true
		case in.name == "UnHealthyHostCount":
			a.WatchesUnhealthy = true
		}
		if in.group != "" && usesID(a.Expression, mathID) {
			if judges[in.group] == nil {
				judges[in.group] = map[string]bool{}
			}
			judges[in.group][in.name] = true
		}
	}
	a.PerTargetGroup = a.Watches5xx && len(groups) > 0
	for _, g := range groups {
		a.PerTargetGroup = a.PerTargetGroup && judges[g]["RequestCount"] && judges[g]["HTTPCode_Target_5XX_Count"]
	}
	for _, m := range floorPattern.FindAllStringSubmatch(a.Expression, -1) {
		n, _ := strconv.ParseFloat(m[1], 64)
		a.MinRequestsPerMinute = math.Max(a.MinRequestsPerMinute, n*60/a.PeriodSeconds)
	}
	return a, nil
}

// floorPattern is a traffic floor in a metric-math expression: "IF(<requests> >= n, ...".
var floorPattern = regexp.MustCompile(`>=\s*([0-9.]+)`)

// usesID: the expression names the metric-math id as a whole word.
func usesID(expression, id string) bool {
	return id != "" && regexp.MustCompile(`\b`+regexp.QuoteMeta(id)+`\b`).MatchString(expression)
}

// dimensionGroup is the logical ID of the target group a metric's TargetGroup dimension names, "" without one.
func dimensionGroup(dimensions any) string {
	list, _ := dimensions.([]any)
	for _, d := range list {
		if cfnpath.Get(d, "Name") == "TargetGroup" {
			s, _ := cfnpath.Get(d, "Value.Fn::GetAtt.0").(string)
			return s
		}
	}
	return ""
}

// readDeployment reads the service's DeploymentConfiguration. Absent values take the defaults the ECS API
// reference documents ("DeploymentConfiguration", "CanaryConfiguration", "ThresholdConfiguration").
func readDeployment(r *Rollout, deploy any) error {
	r.CircuitBreaker = cfnpath.Get(deploy, "DeploymentCircuitBreaker.Enable") == true && cfnpath.Get(deploy, "DeploymentCircuitBreaker.Rollback") == true
	r.ThresholdType, r.ThresholdValue, r.ResetOnHealthyTask = "BOUNDED_PERCENT", 50, true
	if t := cfnpath.Get(deploy, "DeploymentCircuitBreaker.ThresholdConfiguration"); t != nil {
		r.ThresholdType, r.ThresholdValue = fmt.Sprint(cfnpath.Get(t, "Type")), num(cfnpath.Get(t, "Value"))
	}
	if reset := cfnpath.Get(deploy, "DeploymentCircuitBreaker.ResetOnHealthyTask"); reset != nil {
		r.ResetOnHealthyTask = reset == true
	}
	r.Strategy = "ROLLING"
	if s := cfnpath.Get(deploy, "Strategy"); s != nil {
		r.Strategy = fmt.Sprint(s)
	}
	r.MinHealthyPercent, r.MaxPercent = orDefault(cfnpath.Get(deploy, "MinimumHealthyPercent"), 100), orDefault(cfnpath.Get(deploy, "MaximumPercent"), 200)
	switch r.Strategy {
	case "ROLLING":
	case "CANARY":
		r.CanaryPercent = orDefault(cfnpath.Get(deploy, "CanaryConfiguration.CanaryPercent"), 5)
		r.CanaryBakeSeconds = 60 * orDefault(cfnpath.Get(deploy, "CanaryConfiguration.CanaryBakeTimeInMinutes"), 10)
		r.BakeSeconds = 60 * num(cfnpath.Get(deploy, "BakeTimeInMinutes"))
	case "BLUE_GREEN": // all traffic at once: a canary of 100 % with no canary phase
		r.CanaryPercent, r.BakeSeconds = 100, 60*num(cfnpath.Get(deploy, "BakeTimeInMinutes"))
	default:
		return fmt.Errorf("deployment strategy %s is not modelled", r.Strategy)
	}
	return nil
}

// readTargetGroups reads the health check and drain of the service's target group and, for a traffic-shifting
// strategy, checks that the alternate group the new tasks start in behaves the same. It returns the groups' logical
// IDs (the primary first).
func readTargetGroups(r *Rollout, resources map[string]any, lb any) ([]string, error) {
	primary := refName(cfnpath.Get(lb, "TargetGroupArn"))
	tg, _ := resources[primary].(map[string]any)
	if tg == nil {
		return nil, fmt.Errorf("the service's target group is not in this template")
	}
	settings := func(id string, tg map[string]any) ([4]float64, error) {
		lit := literals{prefix: "Resources." + id + "."}
		drain := 300.0 // the ALB default when the attribute is absent (ALB user guide, "Deregistration delay")
		attrs, _ := cfnpath.Get(tg, "Properties.TargetGroupAttributes").([]any)
		for i, a := range attrs {
			if cfnpath.Get(a, "Key") == "deregistration_delay.timeout_seconds" {
				drain = lit.number(tg, fmt.Sprintf("Properties.TargetGroupAttributes.%d.Value", i))
			}
		}
		s := [4]float64{lit.number(tg, "Properties.HealthCheckIntervalSeconds"), lit.number(tg, "Properties.HealthyThresholdCount"),
			lit.number(tg, "Properties.UnhealthyThresholdCount"), drain}
		return s, lit.err
	}
	s, err := settings(primary, tg)
	if err != nil {
		return nil, err
	}
	r.IntervalSeconds, r.HealthyThreshold, r.UnhealthyThreshold, r.DrainSeconds = s[0], s[1], s[2], s[3]
	if r.Strategy == "ROLLING" {
		return []string{primary}, nil
	}
	alternate := refName(cfnpath.Get(lb, "AdvancedConfiguration.AlternateTargetGroupArn"))
	alt, _ := resources[alternate].(map[string]any)
	if alt == nil {
		return nil, fmt.Errorf("a %s deploy needs the service's alternate target group, not in this template", r.Strategy)
	}
	if a, err := settings(alternate, alt); err != nil || a != s {
		return nil, fmt.Errorf("the alternate target group's health check and drain %v differ from the primary's %v (%v)", a, s, err)
	}
	return []string{primary, alternate}, nil
}

func refName(v any) string {
	m, _ := v.(map[string]any)
	s, _ := m["Ref"].(string)
	return s
}

// num reads a literal number (or numeric string); -1 when absent or not a literal.
func num(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case string:
		if f, err := strconv.ParseFloat(x, 64); err == nil {
			return f
		}
	}
	return -1
}

// orDefault is num(v), or def when v is absent.
func orDefault(v any, def float64) float64 {
	if v == nil {
		return def
	}
	return num(v)
}
