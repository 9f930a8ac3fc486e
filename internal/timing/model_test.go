package timing

import (
	"math"
	"strings"
	"testing"
)

// now is what the app synthesizes for prod (a canary deploy); rolling is prod at ccec4ab, before issue 23 (a
// rolling deploy, ECS's default circuit breaker); issue13 is prod before issue 13 (5-minute, 1-period alarms, a
// 15 s × 3 health check, a 30 s drain).
var (
	now = Rollout{GraceSeconds: 60, IntervalSeconds: 10, HealthyThreshold: 2, UnhealthyThreshold: 8, DrainSeconds: 65,
		DesiredCount: 2, CircuitBreaker: true, ThresholdType: "COUNT", ThresholdValue: 2, Strategy: "CANARY",
		MinHealthyPercent: 100, MaxPercent: 200, CanaryPercent: 10, CanaryBakeSeconds: 120, BakeSeconds: 60,
		Alarms: []Alarm{{"error-rate", 60, 1, 1, true}, {"unhealthy-hosts", 60, 1, 1, false}}}
	rolling = Rollout{GraceSeconds: 60, IntervalSeconds: 10, HealthyThreshold: 2, UnhealthyThreshold: 8, DrainSeconds: 65,
		DesiredCount: 2, CircuitBreaker: true, ThresholdType: "BOUNDED_PERCENT", ThresholdValue: 50, ResetOnHealthyTask: true,
		Strategy: "ROLLING", MinHealthyPercent: 100, MaxPercent: 200,
		Alarms: []Alarm{{"error-rate", 60, 2, 2, true}, {"unhealthy-hosts", 60, 2, 2, false}}}
	issue13 = Rollout{GraceSeconds: 60, IntervalSeconds: 15, HealthyThreshold: 2, UnhealthyThreshold: 3, DrainSeconds: 30,
		DesiredCount: 2, CircuitBreaker: true, ThresholdType: "BOUNDED_PERCENT", ThresholdValue: 50, ResetOnHealthyTask: true,
		Strategy: "ROLLING", MinHealthyPercent: 100, MaxPercent: 200,
		Alarms: []Alarm{{"error-rate", 300, 1, 1, true}, {"unhealthy-hosts", 300, 1, 1, false}}}
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestModelOfTheCanaryDeploy(t *testing.T) {
	rep := Model(now)
	// 60 + 2×10 = 80 in service; canary 120 + bake 60; the old tasks' drain has 65 − 60 = 5 s left: 265 done.
	// Detection 60 + 60 = 120, 60 s before ECS stops watching at 180. A 5xx release: 10 % for 120 s, then all of
	// it for the 10 s traffic takes to move back: (0.1 × 120 + 10) / 60. Crash loop: one wave of 2, 60 + 70.
	if rep.InService != 80 || rep.Bake != 180 || rep.Drain != 5 || rep.Done != 265 || rep.Window != 180 ||
		rep.Detection["error-rate"] != 120 || rep.Share != 0.1 || rep.BackOnOld != 130 || !near(rep.BlastRadius, 22.0/60) ||
		rep.MarkedUnhealthy != 70 || rep.FailureBudget != 2 || rep.CrashRollback != 130 {
		t.Errorf("report %+v", rep)
	}
	if p := rep.Problems(); len(p) > 0 {
		t.Errorf("problems %v", p)
	}
}

func TestModelOfTheRollingDeployBeforeIssue23(t *testing.T) {
	rep := Model(rolling)
	// All new tasks start at once and the old ones stop as soon as they are healthy: the bad release serves every
	// request for detection 180 s + relaunch of the old tasks 60 + 80: 1.0 × 320 / 60. Detection 180 is 5 s inside
	// ECS's window 65 + 120. Crash loop: budget 3 of 2 desired = 2 waves × 130 s.
	if rep.Done != 265 || rep.Window != 185 || rep.Share != 1 || rep.BackOnOld != 320 || !near(rep.BlastRadius, 320.0/60) ||
		rep.FailureBudget != 3 || rep.CrashRollback != 260 {
		t.Errorf("report %+v", rep)
	}
	problems := strings.Join(rep.Problems(), "\n")
	for _, want := range []string{"error-rate detects after 3 min, not 30 s before ECS stops watching at 3 min 5 s",
		"blast radius of 5.33, over 1.0", "a crash loop is rolled back after 4 min 20 s, over 3 min"} {
		if !strings.Contains(problems, want) {
			t.Errorf("problems lack %q:\n%s", want, problems)
		}
	}
}

func TestModelFindsWhatWasWrongBeforeIssue13(t *testing.T) {
	// 7 min deploys, detection (6 min) after the 5 min 30 s window, and a 60 s start marked unhealthy at 30 s.
	problems := strings.Join(Model(issue13).Problems(), "\n")
	for _, want := range []string{"a healthy deploy takes 7 min", "detects a bad deploy after 6 min, over 3 min",
		"not 30 s before ECS stops watching at 5 min 30 s", "a normal start (up to 1 min) is marked unhealthy after 30 s",
		"no deployment alarm watching 5xx detects a release answering 5xx while ECS watches",
		"a crash loop is rolled back after 4 min, over 3 min"} {
		if !strings.Contains(problems, want) {
			t.Errorf("problems lack %q:\n%s", want, problems)
		}
	}
}

// A rolling deploy's first wave is what maximumPercent lets start beside the old tasks; once it is healthy ECS stops
// old tasks down to minimumHealthyPercent.
func TestRollingShareFollowsTheDeploymentPercents(t *testing.T) {
	for _, c := range []struct{ desired, minimum, maximum, want float64 }{
		{2, 100, 200, 1}, {1, 100, 200, 1}, {2, 100, 150, 0.5}, {4, 100, 125, 0.25}, {4, 50, 100, 1}, {4, 75, 100, 1.0 / 3},
	} {
		r := Rollout{DesiredCount: c.desired, MinHealthyPercent: c.minimum, MaxPercent: c.maximum}
		if got := rollingShare(r); !near(got, c.want) {
			t.Errorf("%g tasks at %g/%g %%: share %g, want %g", c.desired, c.minimum, c.maximum, got, c.want)
		}
	}
}

// A canary detected after its bake has every request from then on; one detected after ECS stops watching is
// never rolled back.
func TestCanaryBlastGrowsPastTheCanaryBake(t *testing.T) {
	late := now
	late.Alarms = []Alarm{{"error-rate", 50, 2, 2, true}} // 2 × 50 + 60 = 160 s: 40 s past the canary
	if rep := Model(late); !near(rep.BlastRadius, (0.1*120+50)/60) {
		t.Errorf("blast %g", rep.BlastRadius)
	}
	never := now
	never.CanaryBakeSeconds, never.BakeSeconds = 0, 0 // ECS watches 60 s (the alarm's own minute): detection 120 s is past it
	rep := Model(never)
	if !math.IsInf(rep.BlastRadius, 1) || !strings.Contains(strings.Join(rep.Problems(), "\n"), "detects a release answering 5xx while ECS watches") {
		t.Errorf("a release detected after the window: blast %g, problems %v", rep.BlastRadius, rep.Problems())
	}
}

func TestReadRefusesATemplateItCannotModel(t *testing.T) {
	if _, err := Read(map[string]any{"Resources": map[string]any{}}); err == nil {
		t.Error("a template without a service was read")
	}
}

// A threshold of G/interval + 1 fails its last check exactly when a normal start ends: not enough.
func TestModelCountsTheEarliestUnhealthyVerdict(t *testing.T) {
	r := now
	r.UnhealthyThreshold = r.GraceSeconds/r.IntervalSeconds + 1
	if p := strings.Join(Model(r).Problems(), "\n"); !strings.Contains(p, "is marked unhealthy after 1 min") {
		t.Errorf("a verdict at 60 s passed a 60 s start: %q", p)
	}
}

// The circuit breaker's threshold follows its ThresholdConfiguration (ECS API reference, "ThresholdConfiguration").
func TestFailureBudgetFollowsTheThresholdType(t *testing.T) {
	for _, c := range []struct {
		kind           string
		value, desired float64
		want           float64
	}{
		{"BOUNDED_PERCENT", 50, 1, 3}, {"BOUNDED_PERCENT", 50, 10, 5}, {"BOUNDED_PERCENT", 50, 1000, 200},
		{"UNBOUNDED_PERCENT", 50, 1000, 500}, {"UNBOUNDED_PERCENT", 50, 1, 1}, {"COUNT", 1, 10, 1}, {"COUNT", 4, 2, 4},
	} {
		if got := failureBudget(Rollout{ThresholdType: c.kind, ThresholdValue: c.value, DesiredCount: c.desired}); got != c.want {
			t.Errorf("%s %g of %g tasks: budget %g, want %g", c.kind, c.value, c.desired, got, c.want)
		}
	}
}

// canaryTemplate is a minimal compute template: a CANARY service, its two target groups and an error-rate alarm
// over the load balancer's 5xx count; alternateDrain is the alternate group's deregistration delay.
func canaryTemplate(alternateDrain string) map[string]any {
	group := func(drain string) map[string]any {
		return map[string]any{"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": map[string]any{
			"HealthCheckIntervalSeconds": 10.0, "HealthyThresholdCount": 2.0, "UnhealthyThresholdCount": 8.0,
			"TargetGroupAttributes": []any{map[string]any{"Key": "deregistration_delay.timeout_seconds", "Value": drain}}}}
	}
	return map[string]any{"Resources": map[string]any{
		"Service": map[string]any{"Type": "AWS::ECS::Service", "Properties": map[string]any{
			"HealthCheckGracePeriodSeconds": 60.0, "DesiredCount": 2.0,
			"LoadBalancers": []any{map[string]any{"TargetGroupArn": map[string]any{"Ref": "Primary"},
				"AdvancedConfiguration": map[string]any{"AlternateTargetGroupArn": map[string]any{"Ref": "Alternate"}}}},
			"DeploymentConfiguration": map[string]any{"Strategy": "CANARY", "BakeTimeInMinutes": 1.0,
				"CanaryConfiguration":      map[string]any{"CanaryPercent": 10.0, "CanaryBakeTimeInMinutes": 2.0},
				"DeploymentCircuitBreaker": map[string]any{"Enable": true, "Rollback": true, "ResetOnHealthyTask": false, "ThresholdConfiguration": map[string]any{"Type": "COUNT", "Value": 2.0}},
				"Alarms":                   map[string]any{"AlarmNames": []any{map[string]any{"Ref": "ErrorRate"}}}}}},
		"Primary": group("65"), "Alternate": group(alternateDrain),
		"ErrorRate": map[string]any{"Type": "AWS::CloudWatch::Alarm", "Properties": map[string]any{"AlarmName": "error-rate",
			"EvaluationPeriods": 1.0, "DatapointsToAlarm": 1.0, "Metrics": []any{
				map[string]any{"Expression": "100 * e / r"},
				map[string]any{"MetricStat": map[string]any{"Period": 60.0, "Metric": map[string]any{"MetricName": "HTTPCode_ELB_5XX_Count"}}}}}},
	}}
}

func TestReadCanaryTemplate(t *testing.T) {
	// GIVEN a canary service whose two target groups agree WHEN read THEN every canary term comes from the template
	r, err := Read(canaryTemplate("65"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Strategy != "CANARY" || r.CanaryPercent != 10 || r.CanaryBakeSeconds != 120 || r.BakeSeconds != 60 || r.DrainSeconds != 65 ||
		r.ThresholdType != "COUNT" || r.ThresholdValue != 2 || r.ResetOnHealthyTask || len(r.Alarms) != 1 || !r.Alarms[0].Watches5xx ||
		r.Alarms[0].PeriodSeconds != 60 || r.MinHealthyPercent != 100 || r.MaxPercent != 200 {
		t.Errorf("read %+v", r)
	}
	// GIVEN an alternate group that drains differently WHEN read THEN the model refuses it: the new tasks start there
	if _, err := Read(canaryTemplate("300")); err == nil || !strings.Contains(err.Error(), "alternate target group") {
		t.Errorf("a mismatched alternate group was read: %v", err)
	}
}

// If ECS bakes for the alarms' own evaluation time and that is longer than BakeTimeInMinutes, the longer counts.
func TestCanaryBakesAtLeastTheAlarmsEvaluationTime(t *testing.T) {
	r := now
	r.Alarms = []Alarm{{"error-rate", 60, 3, 1, true}} // 3 minutes evaluated
	if rep := Model(r); rep.Bake != 120+180 || rep.Drain != 0 || rep.Window != 300 {
		t.Errorf("bake %g, drain %g, window %g", rep.Bake, rep.Drain, rep.Window)
	}
}
