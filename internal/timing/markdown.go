package timing

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
)

// Markdown is the report as a table with each term's formula and source.
func (rep Report) Markdown() string {
	var b strings.Builder
	row := func(what, value, formula string) { fmt.Fprintf(&b, "| %s | %s | %s |\n", what, value, formula) }
	b.WriteString("| term | value | formula (template values; AWS doc) |\n|---|---:|---|\n")
	canary := rep.Strategy != "ROLLING"
	if canary {
		row("strategy", rep.Strategy, fmt.Sprintf("DeploymentConfiguration.Strategy; new tasks start beside the old ones in the alternate target group (ECS: %s deployments)", strings.ToLower(rep.Strategy)))
	} else {
		row("strategy", rep.Strategy, fmt.Sprintf("minimum healthy %g %%, maximum %g %% (ECS: rolling update)", rep.MinHealthyPercent, rep.MaxPercent))
	}
	row("app start (budget)", Duration(rep.GraceSeconds), "health check grace period G = HealthCheckGracePeriodSeconds (ECS: ELB verdicts ignored meanwhile)")
	row("new tasks in service", Duration(rep.InService), fmt.Sprintf("G + healthy threshold × interval = %g + %g × %g (ALB: target health checks)",
		rep.GraceSeconds, rep.HealthyThreshold, rep.IntervalSeconds))
	if canary {
		row("canary", fmt.Sprintf("%g %% for %s", rep.CanaryPercent, Duration(rep.CanaryBakeSeconds)), "CanaryPercent of the requests for CanaryBakeTimeInMinutes C (ECS: canary deployments)")
		row("old tasks kept after all traffic moved", Duration(rep.Bake-rep.CanaryBakeSeconds), fmt.Sprintf("B = max(BakeTimeInMinutes %s, alarms' Period × EvaluationPeriods) (ECS: deployment bake time)", Duration(rep.BakeSeconds)))
		row("old tasks drained", Duration(rep.Drain), fmt.Sprintf("max(0, D − B) = max(0, %g − %g): their last request started before B (ALB: deregistration delay D)", rep.DrainSeconds, rep.Bake-rep.CanaryBakeSeconds))
		row("**healthy deploy done**", "**"+Duration(rep.Done)+"**", "in service + C + B + drain (target ≤ 5 min)")
	} else {
		row("old tasks drained", Duration(rep.Drain), "deregistration delay D (ALB: deregistration delay)")
		row("bake time", Duration(rep.Bake), "max over deployment alarms of Period × EvaluationPeriods (ECS: deployment alarms; modelled)")
		row("**healthy deploy done**", "**"+Duration(rep.Done)+"**", "in service + D + bake (target ≤ 5 min)")
	}
	for _, name := range slices.Sorted(maps.Keys(rep.Detection)) {
		for _, a := range rep.Alarms {
			if a.Name == name {
				row("detection: "+name, Duration(rep.Detection[name]), fmt.Sprintf("DatapointsToAlarm × Period + metric lag = %g × %g + %g (target ≤ 3 min)",
					a.Datapoints, a.PeriodSeconds, MetricLagSeconds))
			}
		}
	}
	window := "D + bake"
	if canary {
		window = "C + B"
	}
	row("ECS watching after traffic reaches the new tasks", Duration(rep.Window), fmt.Sprintf("%s (every detection ends ≥ %s before it)", window, Duration(DetectionMarginSeconds)))
	rep.blastRows(row)
	row("failing target marked unhealthy", Duration(rep.MarkedUnhealthy), fmt.Sprintf("(unhealthy threshold − 1) × interval = (%g − 1) × %g: the first check at registration, a refused connection fails at once (must exceed G)",
		rep.UnhealthyThreshold, rep.IntervalSeconds))
	row("circuit breaker budget", fmt.Sprintf("%g tasks", rep.FailureBudget), budgetFormula(rep.Rollout)+fmt.Sprintf("; reset on a healthy task: %t", rep.ResetOnHealthyTask))
	row("**crash loop rolled back**", "**"+Duration(rep.CrashRollback)+"**", fmt.Sprintf("⌈budget ÷ desired %g⌉ waves × (launch %g + max(G, unhealthy)) (target ≤ 3 min)", rep.DesiredCount, TaskLaunchSeconds))
	return b.String()
}

// blastRows are the terms of the blast radius of a release that starts but answers 5xx.
func (rep Report) blastRows(row func(what, value, formula string)) {
	if rep.Strategy == "ROLLING" {
		row("5xx release: share of requests", fmt.Sprintf("%.2f", rep.Share), fmt.Sprintf("first wave ÷ tasks in service once old ones stop, desired %g (ECS: rolling update)", rep.DesiredCount))
		row("5xx release: old release back", Duration(rep.BackOnOld), fmt.Sprintf("5xx detection + relaunch of the old tasks (launch %g + in service)", TaskLaunchSeconds))
		row("**5xx release: blast radius**", "**"+blastText(rep.BlastRadius)+"**", "share × minutes until the old release is back (1.0 = one minute of full outage; target ≤ 1.0)")
		return
	}
	row("5xx release: share of requests", fmt.Sprintf("%.2f, then 1", rep.Share), "CanaryPercent until C, all requests after")
	row("5xx release: old release back", Duration(rep.BackOnOld), fmt.Sprintf("5xx detection + traffic moved back %g s (the old tasks still run; assumption)", TrafficShiftSeconds))
	row("**5xx release: blast radius**", "**"+blastText(rep.BlastRadius)+"**", "∫ share over the minutes until the old release is back (1.0 = one minute of full outage; target ≤ 1.0)")
}

func blastText(v float64) string {
	if math.IsInf(v, 1) {
		return "not rolled back"
	}
	return fmt.Sprintf("%.2f", v)
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
	if math.IsInf(seconds, 1) {
		return "never"
	}
	s := int(math.Round(seconds))
	switch {
	case s < 60:
		return fmt.Sprintf("%d s", s)
	case s%60 == 0:
		return fmt.Sprintf("%d min", s/60)
	}
	return fmt.Sprintf("%d min %d s", s/60, s%60)
}
