package timing

import (
	"fmt"
	"maps"
	"math"
	"slices"
)

// Assumptions: what no template holds.
const (
	// MetricLagSeconds: ALB metrics arrive per 1-minute period; one more period covers their publication and the
	// alarm's next evaluation. Not documented by AWS as a number: an assumption to confirm on a real account.
	MetricLagSeconds = 60.0
	// TaskLaunchSeconds: a Fargate task from placement to RUNNING (ENI, image pull). Typical, not guaranteed.
	TaskLaunchSeconds = 60.0
	// TrafficShiftSeconds: ECS moving a listener rule's weights back to the old tasks on a rollback (one
	// ModifyRule call that the load balancer's nodes apply). Not published by AWS: an assumption.
	TrafficShiftSeconds = 10.0
	// DetectionMarginSeconds: a deployment alarm must detect this long before ECS stops watching (issue 23).
	DetectionMarginSeconds = 30.0
)

// Report is the modelled timeline of one deploy, in seconds: until traffic reaches the new tasks, after their
// start (RUNNING); from then on, after the new tasks take their first request.
type Report struct {
	Rollout
	// RequestsPerMinute is the stage's assumed traffic (cost.Usage: a month's requests over its hours).
	RequestsPerMinute float64
	InService         float64 // new tasks healthy in the target group: app start + healthy threshold × interval
	// Bake is how long ECS keeps the old tasks after all traffic moved, at the upper end of what ECS may take (the
	// longer of BakeTimeInMinutes and the alarms' Period × EvaluationPeriods); a rolling deploy's is the latter.
	Bake  float64
	Drain float64 // the old tasks' deregistration delay D, in full: idle keep-alive connections hold it open
	Done  float64 // deployment COMPLETED after the new tasks start: the upper end of each term
	// Window is how long ECS surely watches the alarms after traffic reaches the new tasks: the lower end (the
	// configured bakes, not what ECS may add from the alarms).
	Window float64
	// Verdict is how long a target that stops answering takes to be marked unhealthy: UnhealthyThresholdCount checks
	// interval apart, the first up to one interval after it stops (ALB user guide, "Health checks for Application
	// Load Balancer target groups").
	Verdict float64
	// Detection is each alarm's time to ALARM after its failure starts; Watched is how long ECS watches after that
	// same start: the error rate counts from the first request to the new tasks (Window), unhealthy targets from the
	// new tasks' start, when the ALB begins to check them (InService + Window).
	Detection, Watched map[string]float64
	// CanaryRequests is what reaches the new tasks a minute during the canary (a rolling deploy's first wave).
	CanaryRequests float64
	// FailShare is the least share of the canary's requests that must fail for the 5xx alarm to breach during the
	// canary (+Inf when it does not judge the canary at all: no 5xx alarm, or under its traffic floor).
	FailShare float64
	// Share is the fraction of requests a release answering 5xx serves once it takes traffic (until CanaryBake
	// for a canary); Restore is how long putting the old release back takes once an alarm fired; BackOnOld is
	// detection + Restore; BlastRadius is the share of requests × minutes the bad release served (1.0 = a full
	// one-minute outage), +Inf when no alarm catches it while ECS watches.
	Share, Restore, BackOnOld, BlastRadius float64
	MarkedUnhealthy                        float64 // earliest a booting target is out of service: the threshold-th failed check, the first at registration
	FailureBudget                          float64 // circuit breaker threshold: failed tasks before ECS fails the deployment (failureBudget)
	// CrashRollback: a deploy whose tasks never get healthy, rolled back by the circuit breaker (assumed to act under
	// every strategy: unverified for CANARY, stacks/rollout.go configureCircuitBreaker); CrashByAlarm: the same caught
	// by the unhealthy-hosts deployment alarm alone (+Inf without one).
	CrashRollback, CrashByAlarm float64
}

// Model computes the timeline at the stage's traffic (requests a minute).
func Model(r Rollout, requestsPerMinute float64) Report {
	rep := Report{Rollout: r, RequestsPerMinute: requestsPerMinute, Detection: map[string]float64{}, Watched: map[string]float64{}}
	rep.InService = r.GraceSeconds + r.HealthyThreshold*r.IntervalSeconds
	rep.Verdict = r.UnhealthyThreshold * r.IntervalSeconds
	evaluated := 0.0 // the alarms' own evaluation time, from which ECS may derive a longer bake
	for _, a := range r.Alarms {
		evaluated = math.Max(evaluated, a.PeriodSeconds*a.EvaluationPeriods)
	}
	rep.Drain = r.DrainSeconds
	if r.Strategy == "ROLLING" {
		// ECS stops the old tasks, after their drain, once the new ones are healthy, then bakes watching the alarms
		// (ECS developer guide, "How CloudWatch alarms detect Amazon ECS deployment failures"). A rollback starts the
		// old release's tasks again; the bad ones leave once those are in service.
		rep.Bake = evaluated
		rep.Window = r.DrainSeconds + rep.Bake
		rep.Done = rep.InService + rep.Drain + rep.Bake
		rep.Share = rollingShare(r)
		rep.Restore = TaskLaunchSeconds + rep.InService
	} else {
		// The new tasks start beside the old ones; traffic moves to them in two steps and back at once on an alarm
		// while the old tasks still run (ECS developer guide, "Amazon ECS canary deployments"). After the bake ECS
		// deregisters the old tasks: a target with no request in flight and no active connection leaves at once
		// (ALB user guide, "Deregistration delay"), but the ALB keeps idle keep-alive connections to them open up
		// to its idle timeout, so the whole delay D is counted.
		rep.Bake = math.Max(r.BakeSeconds, evaluated)
		rep.Window = r.CanaryBakeSeconds + r.BakeSeconds
		rep.Done = rep.InService + r.CanaryBakeSeconds + rep.Bake + rep.Drain
		rep.Share = r.CanaryPercent / 100
		rep.Restore = TrafficShiftSeconds
	}
	rep.CanaryRequests = requestsPerMinute * rep.Share
	detect5xx := math.Inf(1)
	rep.FailShare = math.Inf(1)
	for _, a := range r.Alarms {
		d := a.Datapoints*a.PeriodSeconds + MetricLagSeconds
		rep.Detection[a.Name], rep.Watched[a.Name] = d, rep.Window
		if a.WatchesUnhealthy {
			rep.Detection[a.Name], rep.Watched[a.Name] = rep.Verdict+d, rep.InService+rep.Window
		}
		if a.Watches5xx {
			at, failShare := rep.detect5xx(a, d)
			detect5xx, rep.FailShare = math.Min(detect5xx, at), math.Min(rep.FailShare, failShare)
		}
	}
	rep.BackOnOld = detect5xx + rep.Restore
	rep.BlastRadius = math.Inf(1)
	if detect5xx < rep.Window {
		rep.BlastRadius = rep.blast()
	}
	// A check of an app that is still booting fails at once (connection refused), not after the timeout: the
	// earliest verdict is the one a normal start must outlast.
	rep.MarkedUnhealthy = (r.UnhealthyThreshold - 1) * r.IntervalSeconds
	rep.FailureBudget = failureBudget(r)
	// Each wave launches the desired count (a canary deploy starts them all beside the old tasks); a task that
	// never answers is stopped once both ECS's grace period and the ALB's unhealthy verdict have passed.
	waves := math.Ceil(rep.FailureBudget / math.Max(1, r.DesiredCount))
	rep.CrashRollback = waves * (TaskLaunchSeconds + math.Max(r.GraceSeconds, rep.Verdict))
	rep.CrashByAlarm = math.Inf(1)
	for _, a := range r.Alarms {
		if a.WatchesUnhealthy {
			rep.CrashByAlarm = math.Min(rep.CrashByAlarm, TaskLaunchSeconds+rep.Detection[a.Name])
		}
	}
	return rep
}

// detect5xx is when a 5xx-watching alarm catches a release that fails every request, after its first request, and
// the least share of the canary's requests that must fail for it to breach during the canary. The alarm breaches
// when its rate is above Threshold %: judged per target group, the canary's failures (target 5xx) count against
// the canary's requests alone (canaryErrorRate); judged over the whole load balancer they are diluted by the share
// of requests the canary gets. Under the expression's traffic floor nothing is judged.
func (rep *Report) detect5xx(a Alarm, d float64) (at, failShare float64) {
	breaching := func(share float64) float64 { // least failing share of the new tasks' requests that breaches
		f := a.Threshold / 100
		if !a.PerTargetGroup {
			f /= share
		}
		return f
	}
	judged := func(share float64) bool { // the new tasks' traffic clears the floor that applies
		seen := rep.RequestsPerMinute
		if a.PerTargetGroup {
			seen *= share
		}
		return seen >= a.MinRequestsPerMinute
	}
	at, failShare = math.Inf(1), math.Inf(1)
	if judged(rep.Share) {
		failShare = breaching(rep.Share)
	}
	switch {
	case failShare <= 1: // a release failing every request breaches from its first minute
		at = d
	case rep.Strategy != "ROLLING" && judged(1) && breaching(1) <= 1: // only once all traffic moved
		at = rep.CanaryBakeSeconds + d
	}
	return at, failShare
}

// rollingShare is the share of requests the first wave of a rolling deploy serves: ECS starts new tasks up to
// MaximumPercent of the desired count, and once they are healthy stops old tasks down to MinimumHealthyPercent
// (ECS API reference, "DeploymentConfiguration"); a deregistering task gets no new request (ALB user guide,
// "Deregistration delay"). Later waves only raise the share, so below 200 % this is a lower bound.
func rollingShare(r Rollout) float64 {
	limit, healthy := math.Floor(r.DesiredCount*r.MaxPercent/100), math.Ceil(r.DesiredCount*r.MinHealthyPercent/100)
	old := r.DesiredCount
	if limit <= old { // no room beside the old tasks: ECS first stops old ones down to the minimum healthy
		old = healthy
	}
	wave := math.Max(1, limit-old)
	oldLeft := math.Max(0, math.Min(old, healthy-wave))
	return wave / (wave + oldLeft)
}

// blast integrates the bad release's share of requests from its first request until traffic is back on the old
// release, in minutes: Share until the canary bake ends, all of it after.
func (rep Report) blast() float64 {
	if rep.Strategy == "ROLLING" {
		return rep.Share * rep.BackOnOld / 60
	}
	first := math.Min(rep.BackOnOld, rep.CanaryBakeSeconds)
	return (rep.Share*first + math.Max(0, rep.BackOnOld-rep.CanaryBakeSeconds)) / 60
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

// Problems lists the targets missed (issues 13 and 23): a healthy deploy done within 5 minutes of its tasks
// starting; every deployment alarm detecting within 3 minutes and at least DetectionMarginSeconds before ECS stops
// watching; the canary judged by itself (its requests clear the 5xx alarm's floor, its errors not diluted by the old
// tasks' requests); a release answering 5xx caught with a blast radius of at most 1.0; a normal start never marked
// unhealthy; a crash loop rolled back by the circuit breaker within 3 minutes.
func (rep Report) Problems() []string {
	var out []string
	if rep.Done > 300 {
		out = append(out, fmt.Sprintf("a healthy deploy takes %s, over 5 min", Duration(rep.Done)))
	}
	for _, name := range slices.Sorted(maps.Keys(rep.Detection)) {
		d, watched := rep.Detection[name], rep.Watched[name]
		if d > 180 {
			out = append(out, fmt.Sprintf("%s detects a bad deploy after %s, over 3 min", name, Duration(d)))
		}
		if d+DetectionMarginSeconds > watched {
			out = append(out, fmt.Sprintf("%s detects after %s, not %s before ECS stops watching at %s", name, Duration(d),
				Duration(DetectionMarginSeconds), Duration(watched)))
		}
	}
	if rep.Strategy != "ROLLING" && rep.Share < 1 {
		for _, a := range rep.Alarms {
			if a.Watches5xx && !a.PerTargetGroup {
				out = append(out, fmt.Sprintf("%s judges the whole load balancer: during the canary (%g %%) a release must fail more than %.1f %% of its requests to be caught",
					a.Name, rep.CanaryPercent, a.Threshold/rep.Share))
			}
			if a.Watches5xx && a.PerTargetGroup && rep.CanaryRequests < a.MinRequestsPerMinute {
				out = append(out, fmt.Sprintf("the canary gets %.1f requests a minute (%g %% of %.1f), under %s's floor of %g: its errors are not judged before all traffic moves",
					rep.CanaryRequests, rep.CanaryPercent, rep.RequestsPerMinute, a.Name, a.MinRequestsPerMinute))
			}
		}
	}
	switch {
	case math.IsInf(rep.BlastRadius, 1):
		out = append(out, "no deployment alarm watching 5xx detects a release answering 5xx while ECS watches")
	case rep.BlastRadius > 1:
		out = append(out, fmt.Sprintf("a release answering 5xx has a blast radius of %.2f, over 1.0", rep.BlastRadius))
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
