package timing

import (
	"fmt"
	"math"
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
		row("old tasks kept after all traffic moved", Duration(rep.Bake), fmt.Sprintf("max(BakeTimeInMinutes B %s, alarms' Period × EvaluationPeriods): the longer of what ECS may take (ECS: deployment bake time)", Duration(rep.BakeSeconds)))
		row("old tasks drained", Duration(rep.Drain), "deregistration delay D in full: the ALB's idle keep-alive connections to them stay open up to its idle timeout (ALB: deregistration delay)")
		row("**healthy deploy done**", "**"+Duration(rep.Done)+"**", "in service + C + bake + D (target ≤ 5 min)")
	} else {
		row("old tasks drained", Duration(rep.Drain), "deregistration delay D (ALB: deregistration delay)")
		row("bake time", Duration(rep.Bake), "max over deployment alarms of Period × EvaluationPeriods (ECS: deployment alarms; modelled)")
		row("**healthy deploy done**", "**"+Duration(rep.Done)+"**", "in service + D + bake (target ≤ 5 min)")
	}
	window := "D + bake"
	if canary {
		window = "C + B: the configured bakes, the least ECS watches"
	}
	row("ECS watching after traffic reaches the new tasks", Duration(rep.Window), window)
	row("unhealthy verdict", Duration(rep.Verdict), fmt.Sprintf("UnhealthyThresholdCount × interval = %g × %g: checks from the moment a target stops answering (ALB: target health checks)",
		rep.UnhealthyThreshold, rep.IntervalSeconds))
	for _, a := range rep.Alarms {
		formula := fmt.Sprintf("DatapointsToAlarm × Period + metric lag = %g × %g + %g, from the first request to the new tasks", a.Datapoints, a.PeriodSeconds, MetricLagSeconds)
		if a.WatchesUnhealthy {
			formula = fmt.Sprintf("verdict + DatapointsToAlarm × Period + metric lag = %g + %g × %g + %g, from a target's first failed check (a new task's: its start)",
				rep.Verdict, a.Datapoints, a.PeriodSeconds, MetricLagSeconds)
		}
		row("detection: "+a.Name, Duration(rep.Detection[a.Name]), formula+fmt.Sprintf("; ECS watches %s from there (target ≤ 3 min, ends ≥ %s before)",
			Duration(rep.Watched[a.Name]), Duration(DetectionMarginSeconds)))
	}
	rep.detectionRows(row)
	rep.blastRows(row)
	row("failing target marked unhealthy", Duration(rep.MarkedUnhealthy), fmt.Sprintf("(unhealthy threshold − 1) × interval = (%g − 1) × %g: the first check at registration, a refused connection fails at once (must exceed G)",
		rep.UnhealthyThreshold, rep.IntervalSeconds))
	row("circuit breaker budget", fmt.Sprintf("%g tasks", rep.FailureBudget), budgetFormula(rep.Rollout)+fmt.Sprintf("; reset on a healthy task: %t", rep.ResetOnHealthyTask))
	row("**crash loop rolled back**", "**"+Duration(rep.CrashRollback)+"**", fmt.Sprintf("⌈budget ÷ desired %g⌉ waves × (launch %g + max(G, verdict)) (target ≤ 3 min)", rep.DesiredCount, TaskLaunchSeconds)+breakerNote(rep.Strategy))
	if canary {
		row("crash loop, unhealthy-hosts alarm alone", Duration(rep.CrashByAlarm), fmt.Sprintf("launch %g + its detection: what catches a crash loop if the breaker does not act under %s (unverified); a task whose container exits is stopped and deregistered, and may never show as an unhealthy host", TaskLaunchSeconds, rep.Strategy))
	}
	return b.String()
}

// detectionRows are the terms of catching a release that answers 5xx: the traffic the 5xx alarm judges, and the
// share of the new tasks' requests that must fail.
func (rep Report) detectionRows(row func(what, value, formula string)) {
	for _, a := range rep.Alarms {
		if !a.Watches5xx {
			continue
		}
		scope, share := "the whole load balancer: the canary's errors diluted by the old tasks' requests", fmt.Sprintf("Threshold %g %% ÷ share %g", a.Threshold, rep.Share)
		if a.PerTargetGroup {
			scope, share = "each target group by itself (HTTPCode_Target_5XX_Count over its RequestCount; the ALB's own 5xx over both groups' requests)",
				fmt.Sprintf("Threshold %g %%", a.Threshold)
		}
		row(a.Name+" judges", scope, fmt.Sprintf("the alarm's expression in the template; Threshold %g %%", a.Threshold))
		floor := "the whole load balancer's"
		if a.PerTargetGroup {
			floor = "the new tasks' group's"
		}
		row("new tasks' requests a minute", fmt.Sprintf("%.1f", rep.CanaryRequests), fmt.Sprintf("share × %.1f a minute (stage traffic, cost/usage.go); %s must reach the floor of %g a minute (the expression's IF(... >=)",
			rep.RequestsPerMinute, floor, a.MinRequestsPerMinute))
		row("**5xx release detected if**", "**"+failText(rep.FailShare)+"**", "of the new tasks' requests fail: "+share)
	}
}

func failText(v float64) string {
	if math.IsInf(v, 1) {
		return "not judged"
	}
	return fmt.Sprintf("> %.1f %%", 100*v)
}

// breakerNote says what the crash-loop figure assumes under a traffic-shifting strategy.
func breakerNote(strategy string) string {
	if strategy == "ROLLING" {
		return ""
	}
	return fmt.Sprintf("; assumes the circuit breaker acts under %s (unverified: the ECS API reference limits it to rolling updates)", strategy)
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

// Summary is the model's figures in one sentence (README's, for prod): `make timing` writes it and a stacks test
// holds README to it.
func (r Report) Summary() string {
	caught, margin := math.Inf(1), math.Inf(1)
	for _, a := range r.Alarms {
		if a.Watches5xx {
			caught, margin = r.Detection[a.Name], r.Watched[a.Name]-r.Detection[a.Name]
		}
	}
	return fmt.Sprintf("a healthy deploy is done %s after its tasks start; a release answering 5xx is caught after %s, "+
		"%s before ECS stops watching, once more than %.1f %% of the canary's requests fail, having served %.2f "+
		"minute-equivalents of a full outage; a crash loop is rolled back in %s by the circuit breaker (assumed to act "+
		"under CANARY, unverified), %s by the unhealthy-hosts alarm alone.",
		Duration(r.Done), Duration(caught), Duration(margin), 100*r.FailShare, r.BlastRadius, Duration(r.CrashRollback), Duration(r.CrashByAlarm))
}
