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
	InService float64 // new tasks healthy in the target group: app start + healthy threshold × interval
	Bake      float64 // a rolling deploy's bake time: the longest Period × EvaluationPeriods of the deployment alarms
	Drain     float64 // how long the old tasks' drain holds the deploy: D (rolling), what is left of it after the bake (canary)
	Done      float64 // deployment COMPLETED after the new tasks start
	Window    float64 // how long ECS keeps watching the alarms after traffic reaches the new tasks
	Detection map[string]float64
	// Share is the fraction of requests a release answering 5xx serves once it takes traffic (until CanaryBake
	// for a canary); Restore is how long putting the old release back takes once an alarm fired; BackOnOld is
	// detection + Restore; BlastRadius is the share of requests × minutes the bad release served (1.0 = a full
	// one-minute outage), +Inf when no alarm catches it while ECS watches.
	Share, Restore, BackOnOld, BlastRadius float64
	MarkedUnhealthy                        float64 // earliest a failing target is out of service: the threshold-th failed check, the first at registration
	FailureBudget                          float64 // circuit breaker threshold: failed tasks before ECS fails the deployment (failureBudget)
	CrashRollback                          float64 // a deploy whose tasks never get healthy is rolled back by the circuit breaker
}

// Model computes the timeline.
func Model(r Rollout) Report {
	rep := Report{Rollout: r, Detection: map[string]float64{}}
	rep.InService = r.GraceSeconds + r.HealthyThreshold*r.IntervalSeconds
	detect5xx := math.Inf(1)
	for _, a := range r.Alarms {
		d := a.Datapoints*a.PeriodSeconds + MetricLagSeconds
		rep.Detection[a.Name] = d
		rep.Bake = math.Max(rep.Bake, a.PeriodSeconds*a.EvaluationPeriods)
		if a.Watches5xx {
			detect5xx = math.Min(detect5xx, d)
		}
	}
	if r.Strategy == "ROLLING" {
		// ECS stops the old tasks, after their drain, once the new ones are healthy, then bakes watching the alarms
		// (ECS developer guide, "How CloudWatch alarms detect Amazon ECS deployment failures"). A rollback starts the
		// old release's tasks again; the bad ones leave once those are in service.
		rep.Drain = r.DrainSeconds
		rep.Window = r.DrainSeconds + rep.Bake
		rep.Share = rollingShare(r)
		rep.Restore = TaskLaunchSeconds + rep.InService
	} else {
		// The new tasks start beside the old ones; traffic moves to them in two steps and back at once on an alarm
		// while the old tasks still run (ECS developer guide, "Amazon ECS canary deployments"). The old tasks leave
		// after the bake: the last request they got started BakeSeconds earlier, and a target with no request in
		// flight completes its deregistration at once (ALB user guide, "Deregistration delay").
		// ECS's alarm page also says it derives a bake from the alarms ("How CloudWatch alarms detect Amazon ECS
		// deployment failures"): the longer of the two is taken.
		bake := math.Max(r.BakeSeconds, rep.Bake)
		rep.Bake = r.CanaryBakeSeconds + bake
		rep.Drain = math.Max(0, r.DrainSeconds-bake)
		rep.Window = rep.Bake
		rep.Share = r.CanaryPercent / 100
		rep.Restore = TrafficShiftSeconds
	}
	rep.Done = rep.InService + rep.Bake + rep.Drain
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
	rep.CrashRollback = waves * (TaskLaunchSeconds + math.Max(r.GraceSeconds, rep.MarkedUnhealthy))
	return rep
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
// watching; a release answering 5xx caught with a blast radius of at most 1.0; a normal start never marked
// unhealthy; a crash loop rolled back by the circuit breaker within 3 minutes.
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
		if d+DetectionMarginSeconds > rep.Window {
			out = append(out, fmt.Sprintf("%s detects after %s, not %s before ECS stops watching at %s", name, Duration(d),
				Duration(DetectionMarginSeconds), Duration(rep.Window)))
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
