// Package timing models how long a rolling deploy of the backend service takes, and how fast a bad one is caught,
// from the values in the compute stack's synthesized template (`make timing`, docs/performance.md). Every term
// is a template value or a stated assumption; each formula names the AWS documentation it rests on.
package timing

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"h2o-infra/internal/cfnpath"
)

// Assumptions: what no template holds.
const (
	// MetricLagSeconds: ALB metrics arrive per 1-minute period; one more period covers their publication and the
	// alarm's next evaluation. Not documented by AWS as a number: an assumption to confirm on a real account.
	MetricLagSeconds = 60.0
	// TaskLaunchSeconds: a Fargate task from placement to RUNNING (ENI, image pull). Typical, not guaranteed.
	TaskLaunchSeconds = 60.0
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
	Alarms             []Alarm
}

// Alarm is one deployment alarm of the service.
type Alarm struct {
	Name                                         string
	PeriodSeconds, EvaluationPeriods, Datapoints float64
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
	r.CircuitBreaker = cfnpath.Get(service, "Properties.DeploymentConfiguration.DeploymentCircuitBreaker.Enable") == true &&
		cfnpath.Get(service, "Properties.DeploymentConfiguration.DeploymentCircuitBreaker.Rollback") == true
	breaker := "Properties.DeploymentConfiguration.DeploymentCircuitBreaker."
	r.ThresholdType, r.ThresholdValue, r.ResetOnHealthyTask = "BOUNDED_PERCENT", 50, true
	if t := cfnpath.Get(service, breaker+"ThresholdConfiguration"); t != nil {
		r.ThresholdType, r.ThresholdValue = fmt.Sprint(cfnpath.Get(t, "Type")), num(cfnpath.Get(t, "Value"))
	}
	if reset := cfnpath.Get(service, breaker+"ResetOnHealthyTask"); reset != nil {
		r.ResetOnHealthyTask = reset == true
	}
	lbs, _ := cfnpath.Get(service, "Properties.LoadBalancers").([]any)
	if len(lbs) != 1 {
		return r, fmt.Errorf("the service has %d load balancer targets, want 1", len(lbs))
	}
	tg, _ := resources[refName(cfnpath.Get(lbs[0], "TargetGroupArn"))].(map[string]any)
	if tg == nil {
		return r, fmt.Errorf("the service's target group is not in this template")
	}
	r.IntervalSeconds = num(cfnpath.Get(tg, "Properties.HealthCheckIntervalSeconds"))
	r.HealthyThreshold = num(cfnpath.Get(tg, "Properties.HealthyThresholdCount"))
	r.UnhealthyThreshold = num(cfnpath.Get(tg, "Properties.UnhealthyThresholdCount"))
	attrs, _ := cfnpath.Get(tg, "Properties.TargetGroupAttributes").([]any)
	r.DrainSeconds = 300 // the ALB default when the attribute is absent (ALB user guide, "Deregistration delay")
	for _, a := range attrs {
		if cfnpath.Get(a, "Key") == "deregistration_delay.timeout_seconds" {
			r.DrainSeconds = num(cfnpath.Get(a, "Value"))
		}
	}
	names, _ := cfnpath.Get(service, "Properties.DeploymentConfiguration.Alarms.AlarmNames").([]any)
	for _, n := range names {
		alarm, _ := resources[refName(n)].(map[string]any)
		if alarm == nil {
			return r, fmt.Errorf("deployment alarm %v is not an alarm of this template", n)
		}
		a := Alarm{Name: fmt.Sprint(cfnpath.Get(alarm, "Properties.AlarmName")), PeriodSeconds: alarmPeriod(alarm),
			EvaluationPeriods: num(cfnpath.Get(alarm, "Properties.EvaluationPeriods"))}
		a.Datapoints = a.EvaluationPeriods
		if m := cfnpath.Get(alarm, "Properties.DatapointsToAlarm"); m != nil {
			a.Datapoints = num(m)
		}
		r.Alarms = append(r.Alarms, a)
	}
	sort.Slice(r.Alarms, func(i, j int) bool { return r.Alarms[i].Name < r.Alarms[j].Name })
	for _, v := range []float64{r.GraceSeconds, r.IntervalSeconds, r.HealthyThreshold, r.UnhealthyThreshold, r.DrainSeconds, r.DesiredCount, r.ThresholdValue} {
		if v < 0 {
			return r, fmt.Errorf("a rollout value is missing or not a literal: %+v", r)
		}
	}
	return r, nil
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

// Report is the modelled timeline of one deploy, in seconds after the new tasks reach RUNNING.
type Report struct {
	Rollout
	InService       float64 // new tasks healthy in the target group: app start + healthy threshold × interval
	Bake            float64 // ECS's bake time: the longest Period × EvaluationPeriods of the deployment alarms
	Done            float64 // deployment COMPLETED: in service + drain + bake
	Window          float64 // how long ECS keeps watching the alarms after traffic moves: drain + bake
	Detection       map[string]float64
	MarkedUnhealthy float64 // earliest a failing target is out of service: the threshold-th failed check, the first at registration
	FailureBudget   float64 // circuit breaker threshold: failed tasks before ECS fails the deployment (failureBudget)
	CrashRollback   float64 // a deploy whose tasks never get healthy is rolled back by the circuit breaker
}

// Model computes the timeline.
func Model(r Rollout) Report {
	rep := Report{Rollout: r, Detection: map[string]float64{}}
	rep.InService = r.GraceSeconds + r.HealthyThreshold*r.IntervalSeconds
	for _, a := range r.Alarms {
		rep.Bake = math.Max(rep.Bake, a.PeriodSeconds*a.EvaluationPeriods)
		rep.Detection[a.Name] = a.Datapoints*a.PeriodSeconds + MetricLagSeconds
	}
	rep.Done = rep.InService + r.DrainSeconds + rep.Bake
	rep.Window = r.DrainSeconds + rep.Bake
	// A check of an app that is still booting fails at once (connection refused), not after the timeout: the
	// earliest verdict is the one a normal start must outlast.
	rep.MarkedUnhealthy = (r.UnhealthyThreshold - 1) * r.IntervalSeconds
	rep.FailureBudget = failureBudget(r)
	// Each wave launches the desired count; a task that never answers is stopped once both ECS's grace period
	// and the ALB's unhealthy verdict have passed.
	waves := math.Ceil(rep.FailureBudget / math.Max(1, r.DesiredCount))
	rep.CrashRollback = waves * (TaskLaunchSeconds + math.Max(r.GraceSeconds, rep.MarkedUnhealthy))
	return rep
}

// failureBudget is the circuit breaker's threshold (ECS API reference, "ThresholdConfiguration"): COUNT is the
// value itself; the percent types multiply it by the desired count, BOUNDED_PERCENT then clamps to 3..200.
func failureBudget(r Rollout) float64 {
	switch r.ThresholdType {
	case "COUNT":
		return math.Max(1, r.ThresholdValue)
	case "UNBOUNDED_PERCENT":
		return math.Max(1, math.Ceil(r.ThresholdValue/100*r.DesiredCount))
	}
	return math.Min(200, math.Max(3, math.Ceil(r.ThresholdValue/100*r.DesiredCount)))
}

// Targets are issue 13's: a healthy deploy done within 5 minutes of its tasks starting; a 5xx deploy detected
// within 3 minutes of taking traffic, always inside ECS's window; a normal start never marked unhealthy; a
// crash loop rolled back by the circuit breaker.
func (rep Report) Problems() []string {
	var out []string
	if rep.Done > 300 {
		out = append(out, fmt.Sprintf("a healthy deploy takes %s, over 5 min", Duration(rep.Done)))
	}
	for _, name := range slices.Sorted(maps.Keys(rep.Detection)) {
		d := rep.Detection[name]
		if d > 180 {
			out = append(out, fmt.Sprintf("%s detects a bad deploy after %s, over 3 min", name, Duration(d)))
		}
		if d >= rep.Window {
			out = append(out, fmt.Sprintf("%s detects after %s, not inside ECS's window of %s (drain + bake)", name, Duration(d), Duration(rep.Window)))
		}
	}
	if rep.MarkedUnhealthy <= rep.GraceSeconds {
		out = append(out, fmt.Sprintf("a normal start (up to %s) is marked unhealthy after %s", Duration(rep.GraceSeconds), Duration(rep.MarkedUnhealthy)))
	}
	if !rep.CircuitBreaker {
		out = append(out, "the circuit breaker does not roll back a crash loop")
	} else if rep.CrashRollback > 180 {
		out = append(out, fmt.Sprintf("a crash loop is rolled back after %s, over 3 min", Duration(rep.CrashRollback)))
	}
	if len(rep.Alarms) == 0 {
		out = append(out, "no deployment alarms")
	}
	return out
}

// Markdown is the report as a table with each term's formula and source.
func (rep Report) Markdown() string {
	var b strings.Builder
	row := func(what, value, formula string) { fmt.Fprintf(&b, "| %s | %s | %s |\n", what, value, formula) }
	b.WriteString("| term | value | formula (template values; AWS doc) |\n|---|---:|---|\n")
	row("app start (budget)", Duration(rep.GraceSeconds), "health check grace period G = HealthCheckGracePeriodSeconds (ECS: ELB verdicts ignored meanwhile)")
	row("new tasks in service", Duration(rep.InService), fmt.Sprintf("G + healthy threshold × interval = %g + %g × %g (ALB: target health checks)",
		rep.GraceSeconds, rep.HealthyThreshold, rep.IntervalSeconds))
	row("old tasks drained", Duration(rep.DrainSeconds), "deregistration delay D (ALB: deregistration delay)")
	row("bake time", Duration(rep.Bake), "max over deployment alarms of Period × EvaluationPeriods (ECS: deployment alarms; modelled)")
	row("**healthy deploy done**", "**"+Duration(rep.Done)+"**", "in service + D + bake (target ≤ 5 min)")
	for _, name := range slices.Sorted(maps.Keys(rep.Detection)) {
		for _, a := range rep.Alarms {
			if a.Name == name {
				row("detection: "+name, Duration(rep.Detection[name]), fmt.Sprintf("DatapointsToAlarm × Period + metric lag = %g × %g + %g (target ≤ 3 min)",
					a.Datapoints, a.PeriodSeconds, MetricLagSeconds))
			}
		}
	}
	row("ECS watching after traffic moves", Duration(rep.Window), "D + bake (detection must end inside it)")
	row("failing target marked unhealthy", Duration(rep.MarkedUnhealthy), fmt.Sprintf("(unhealthy threshold − 1) × interval = (%g − 1) × %g: the first check at registration, a refused connection fails at once (must exceed G)",
		rep.UnhealthyThreshold, rep.IntervalSeconds))
	row("circuit breaker budget", fmt.Sprintf("%g tasks", rep.FailureBudget), budgetFormula(rep.Rollout)+fmt.Sprintf("; reset on a healthy task: %t", rep.ResetOnHealthyTask))
	row("**crash loop rolled back**", "**"+Duration(rep.CrashRollback)+"**", fmt.Sprintf("⌈budget ÷ desired %g⌉ waves × (launch %g + max(G, unhealthy)) (target ≤ 3 min)", rep.DesiredCount, TaskLaunchSeconds))
	return b.String()
}

// budgetFormula shows how the circuit breaker's threshold follows from the template (ECS API reference,
// "ThresholdConfiguration"; the defaults when the template has none).
func budgetFormula(r Rollout) string {
	switch r.ThresholdType {
	case "COUNT":
		return fmt.Sprintf("COUNT %g (ECS: circuit breaker ThresholdConfiguration)", r.ThresholdValue)
	case "UNBOUNDED_PERCENT":
		return fmt.Sprintf("⌈%g %% × desired %g⌉ (UNBOUNDED_PERCENT)", r.ThresholdValue, r.DesiredCount)
	}
	return fmt.Sprintf("clamp(⌈%g %% × desired %g⌉, 3, 200) (BOUNDED_PERCENT, ECS's default)", r.ThresholdValue, r.DesiredCount)
}

// Duration renders seconds as "4 min 25 s".
func Duration(seconds float64) string {
	s := int(math.Round(seconds))
	switch {
	case s < 60:
		return fmt.Sprintf("%d s", s)
	case s%60 == 0:
		return fmt.Sprintf("%d min", s/60)
	}
	return fmt.Sprintf("%d min %d s", s/60, s%60)
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
