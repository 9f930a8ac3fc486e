// Package timing models how a deploy of the backend service goes, and how far a bad one gets, from the values in
// the compute stack's synthesized template (`make timing`, docs/performance.md). Every term is a template value
// or a stated assumption; each formula names the AWS documentation it rests on.
package timing

import (
	"errors"
	"fmt"
	"math"
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

// Alarm is one deployment alarm of the service.
type Alarm struct {
	Name                                         string
	PeriodSeconds, EvaluationPeriods, Datapoints float64
	// Watches5xx: its metrics include the load balancer's 5xx counts, so it sees a release that answers 5xx.
	Watches5xx bool
}

// ErrNoService: the template has no service with deployment alarms (another layer's stack).
var ErrNoService = errors.New("no ECS service with deployment alarms")

// Read finds the service that has deployment alarms in a compute template and reads its rollout settings.
func Read(template map[string]any) (Rollout, error) {
	resources, _ := template["Resources"].(map[string]any)
	var r Rollout
	var service map[string]any
	for _, raw := range resources {
		res, _ := raw.(map[string]any)
		if res["Type"] == "AWS::ECS::Service" && cfnpath.Get(res, "Properties.DeploymentConfiguration.Alarms") != nil {
			service = res
		}
	}
	if service == nil {
		return r, ErrNoService
	}
	r.GraceSeconds = num(cfnpath.Get(service, "Properties.HealthCheckGracePeriodSeconds"))
	r.DesiredCount = num(cfnpath.Get(service, "Properties.DesiredCount"))
	if err := readDeployment(&r, cfnpath.Get(service, "Properties.DeploymentConfiguration")); err != nil {
		return r, err
	}
	lbs, _ := cfnpath.Get(service, "Properties.LoadBalancers").([]any)
	if len(lbs) != 1 {
		return r, fmt.Errorf("the service has %d load balancer targets, want 1", len(lbs))
	}
	if err := readTargetGroups(&r, resources, lbs[0]); err != nil {
		return r, err
	}
	names, _ := cfnpath.Get(service, "Properties.DeploymentConfiguration.Alarms.AlarmNames").([]any)
	for _, n := range names {
		alarm, _ := resources[refName(n)].(map[string]any)
		if alarm == nil {
			return r, fmt.Errorf("deployment alarm %v is not an alarm of this template", n)
		}
		a := Alarm{Name: fmt.Sprint(cfnpath.Get(alarm, "Properties.AlarmName")), PeriodSeconds: alarmPeriod(alarm),
			EvaluationPeriods: num(cfnpath.Get(alarm, "Properties.EvaluationPeriods")), Watches5xx: watches5xx(alarm)}
		a.Datapoints = a.EvaluationPeriods
		if m := cfnpath.Get(alarm, "Properties.DatapointsToAlarm"); m != nil {
			a.Datapoints = num(m)
		}
		r.Alarms = append(r.Alarms, a)
	}
	sort.Slice(r.Alarms, func(i, j int) bool { return r.Alarms[i].Name < r.Alarms[j].Name })
	for _, v := range []float64{r.GraceSeconds, r.IntervalSeconds, r.HealthyThreshold, r.UnhealthyThreshold, r.DrainSeconds,
		r.DesiredCount, r.ThresholdValue, r.MinHealthyPercent, r.MaxPercent, r.CanaryPercent, r.CanaryBakeSeconds, r.BakeSeconds} {
		if v < 0 {
			return r, fmt.Errorf("a rollout value is missing or not a literal: %+v", r)
		}
	}
	return r, nil
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
// strategy, checks that the alternate group the new tasks start in behaves the same.
func readTargetGroups(r *Rollout, resources map[string]any, lb any) error {
	tg, _ := resources[refName(cfnpath.Get(lb, "TargetGroupArn"))].(map[string]any)
	if tg == nil {
		return fmt.Errorf("the service's target group is not in this template")
	}
	settings := func(tg map[string]any) [4]float64 {
		drain := 300.0 // the ALB default when the attribute is absent (ALB user guide, "Deregistration delay")
		attrs, _ := cfnpath.Get(tg, "Properties.TargetGroupAttributes").([]any)
		for _, a := range attrs {
			if cfnpath.Get(a, "Key") == "deregistration_delay.timeout_seconds" {
				drain = num(cfnpath.Get(a, "Value"))
			}
		}
		return [4]float64{num(cfnpath.Get(tg, "Properties.HealthCheckIntervalSeconds")), num(cfnpath.Get(tg, "Properties.HealthyThresholdCount")),
			num(cfnpath.Get(tg, "Properties.UnhealthyThresholdCount")), drain}
	}
	s := settings(tg)
	r.IntervalSeconds, r.HealthyThreshold, r.UnhealthyThreshold, r.DrainSeconds = s[0], s[1], s[2], s[3]
	if r.Strategy == "ROLLING" {
		return nil
	}
	alt, _ := resources[refName(cfnpath.Get(lb, "AdvancedConfiguration.AlternateTargetGroupArn"))].(map[string]any)
	if alt == nil {
		return fmt.Errorf("a %s deploy needs the service's alternate target group, not in this template", r.Strategy)
	}
	if settings(alt) != s {
		return fmt.Errorf("the alternate target group's health check and drain %v differ from the primary's %v", settings(alt), s)
	}
	return nil
}

// alarmPeriod is a single-metric alarm's Period, or the longest period of a metric-math alarm's metrics.
func alarmPeriod(alarm map[string]any) float64 {
	if p := cfnpath.Get(alarm, "Properties.Period"); p != nil {
		return num(p)
	}
	longest := -1.0
	metrics, _ := cfnpath.Get(alarm, "Properties.Metrics").([]any)
	for _, m := range metrics {
		if p := cfnpath.Get(m, "MetricStat.Period"); p != nil {
			longest = math.Max(longest, num(p))
		}
	}
	return longest
}

// watches5xx: the alarm's metric, or one of its metric-math inputs, counts the load balancer's 5xx answers.
func watches5xx(alarm map[string]any) bool {
	names := []any{cfnpath.Get(alarm, "Properties.MetricName")}
	metrics, _ := cfnpath.Get(alarm, "Properties.Metrics").([]any)
	for _, m := range metrics {
		names = append(names, cfnpath.Get(m, "MetricStat.Metric.MetricName"))
	}
	for _, n := range names {
		if s, _ := n.(string); strings.HasPrefix(s, "HTTPCode_") && strings.HasSuffix(s, "_5XX_Count") {
			return true
		}
	}
	return false
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
