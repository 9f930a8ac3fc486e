package timing

import (
	"math"
	"strings"
	"testing"
)

// now is what the app synthesizes for prod (a canary deploy, an error rate per target group with a floor of 5
// requests a minute); rolling is prod at ccec4ab, before issue 23 (a rolling deploy, ECS's default circuit breaker,
// the whole load balancer's error rate); issue13 is prod before issue 13 (5-minute, 1-period alarms, a 15 s × 3
// health check, a 30 s drain). prodTraffic is cost/usage.go's prod: 3 M requests over 730 hours.
var (
	errorRate = Alarm{Name: "error-rate", PeriodSeconds: 60, EvaluationPeriods: 1, Datapoints: 1, Threshold: 1, Watches5xx: true,
		PerTargetGroup: true, MinRequestsPerMinute: 5}
	unhealthyHosts = Alarm{Name: "unhealthy-hosts", PeriodSeconds: 60, EvaluationPeriods: 1, Datapoints: 1, Threshold: 1, WatchesUnhealthy: true}
	now            = Rollout{GraceSeconds: 30, IntervalSeconds: 10, HealthyThreshold: 2, UnhealthyThreshold: 5, DrainSeconds: 65,
		DesiredCount: 2, CircuitBreaker: true, ThresholdType: "COUNT", ThresholdValue: 2, Strategy: "CANARY",
		MinHealthyPercent: 100, MaxPercent: 200, CanaryPercent: 10, CanaryBakeSeconds: 120, BakeSeconds: 60,
		Alarms: []Alarm{errorRate, unhealthyHosts}}
	rolling = Rollout{GraceSeconds: 60, IntervalSeconds: 10, HealthyThreshold: 2, UnhealthyThreshold: 8, DrainSeconds: 65,
		DesiredCount: 2, CircuitBreaker: true, ThresholdType: "BOUNDED_PERCENT", ThresholdValue: 50, ResetOnHealthyTask: true,
		Strategy: "ROLLING", MinHealthyPercent: 100, MaxPercent: 200,
		Alarms: []Alarm{evaluated(wholeLoadBalancer(errorRate), 60, 2, 2), evaluated(unhealthyHosts, 60, 2, 2)}}
	issue13 = Rollout{GraceSeconds: 60, IntervalSeconds: 15, HealthyThreshold: 2, UnhealthyThreshold: 3, DrainSeconds: 30,
		DesiredCount: 2, CircuitBreaker: true, ThresholdType: "BOUNDED_PERCENT", ThresholdValue: 50, ResetOnHealthyTask: true,
		Strategy: "ROLLING", MinHealthyPercent: 100, MaxPercent: 200,
		Alarms: []Alarm{evaluated(wholeLoadBalancer(errorRate), 300, 1, 1), evaluated(unhealthyHosts, 300, 1, 1)}}
	prodTraffic = 3e6 / (730 * 60)
)

func evaluated(a Alarm, period, evaluations, datapoints float64) Alarm {
	a.PeriodSeconds, a.EvaluationPeriods, a.Datapoints = period, evaluations, datapoints
	return a
}

// wholeLoadBalancer is the error rate of the load balancer's requests, with the old floor of 10 a minute.
func wholeLoadBalancer(a Alarm) Alarm {
	a.PerTargetGroup, a.MinRequestsPerMinute = false, 10
	return a
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestModelOfTheCanaryDeploy(t *testing.T) {
	rep := Model(now, prodTraffic)
	// 30 + 2×10 = 50 in service; canary 120 + bake 60 + the old tasks' full drain 65: 295 done. The error rate detects
	// in 60 + 60 = 120 s, 60 s before ECS stops watching at 180; unhealthy hosts after the verdict 5 × 10 too: 170 s
	// from a new task's start, which ECS watches 50 + 180 s. The canary gets 6.8 of 68.5 requests a minute, over the
	// floor of 5, and a release failing more than 1 % of them breaches (its group's own rate). A 5xx release: 10 % for 120 s, then all
	// of it for the 10 s traffic takes to move back: (0.1 × 120 + 10) / 60. Crash loop: one wave of 2, 60 + 50; by
	// the unhealthy-hosts alarm alone, 60 + 170.
	if rep.InService != 50 || rep.Bake != 60 || rep.Drain != 65 || rep.Done != 295 || rep.Window != 180 || rep.Verdict != 50 ||
		rep.Detection["error-rate"] != 120 || rep.Watched["error-rate"] != 180 || rep.Detection["unhealthy-hosts"] != 170 ||
		rep.Watched["unhealthy-hosts"] != 230 || !near(rep.CanaryRequests, prodTraffic/10) || !near(rep.FailShare, 0.01) ||
		rep.Share != 0.1 || rep.BackOnOld != 130 || !near(rep.BlastRadius, 22.0/60) ||
		rep.MarkedUnhealthy != 40 || rep.FailureBudget != 2 || rep.CrashRollback != 110 || rep.CrashByAlarm != 230 {
		t.Errorf("report %+v", rep)
	}
	if p := rep.Problems(); len(p) > 0 {
		t.Errorf("problems %v", p)
	}
}

func TestModelOfTheRollingDeployBeforeIssue23(t *testing.T) {
	rep := Model(rolling, prodTraffic)
	// All new tasks start at once and the old ones stop as soon as they are healthy: the bad release serves every
	// request for detection 180 s + relaunch of the old tasks 60 + 80: 1.0 × 320 / 60. Detection 180 is 5 s inside
	// ECS's window 65 + 120; unhealthy hosts take the verdict 8 × 10 more: 260 s. Crash loop: budget 3 of 2 desired =
	// 2 waves × (60 + 80) s.
	if rep.Done != 265 || rep.Window != 185 || rep.Share != 1 || rep.BackOnOld != 320 || !near(rep.BlastRadius, 320.0/60) ||
		rep.Detection["unhealthy-hosts"] != 260 || rep.FailureBudget != 3 || rep.CrashRollback != 280 {
		t.Errorf("report %+v", rep)
	}
	problems := strings.Join(rep.Problems(), "\n")
	for _, want := range []string{"error-rate detects after 3 min, not 30 s before ECS stops watching at 3 min 5 s",
		"unhealthy-hosts detects a bad deploy after 4 min 20 s, over 3 min",
		"blast radius of 5.33, over 1.0", "a crash loop is rolled back after 4 min 40 s, over 3 min"} {
		if !strings.Contains(problems, want) {
			t.Errorf("problems lack %q:\n%s", want, problems)
		}
	}
}

func TestModelFindsWhatWasWrongBeforeIssue13(t *testing.T) {
	// 7 min deploys, detection (6 min) after the 5 min 30 s window, and a 60 s start marked unhealthy at 30 s.
	problems := strings.Join(Model(issue13, prodTraffic).Problems(), "\n")
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
	late.Alarms = []Alarm{evaluated(errorRate, 50, 2, 2)} // 2 × 50 + 60 = 160 s: 40 s past the canary
	if rep := Model(late, prodTraffic); !near(rep.BlastRadius, (0.1*120+50)/60) {
		t.Errorf("blast %g", rep.BlastRadius)
	}
	never := now
	never.CanaryBakeSeconds, never.BakeSeconds = 0, 0 // ECS watches 0 s for sure: detection 120 s is past it
	rep := Model(never, prodTraffic)
	if !math.IsInf(rep.BlastRadius, 1) || !strings.Contains(strings.Join(rep.Problems(), "\n"), "detects a release answering 5xx while ECS watches") {
		t.Errorf("a release detected after the window: blast %g, problems %v", rep.BlastRadius, rep.Problems())
	}
}

func TestReadRefusesATemplateItCannotModel(t *testing.T) {
	if _, err := Read(map[string]any{"Resources": map[string]any{}}); err == nil {
		t.Error("a template without a service was read")
	}
}

// A threshold of G/interval + 1 fails its last check exactly when a normal start ends (30 s): not enough.
func TestModelCountsTheEarliestUnhealthyVerdict(t *testing.T) {
	r := now
	r.UnhealthyThreshold = r.GraceSeconds/r.IntervalSeconds + 1
	if p := strings.Join(Model(r, prodTraffic).Problems(), "\n"); !strings.Contains(p, "is marked unhealthy after 30 s") {
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
// judging each group by itself (the shape stacks' canaryErrorRate synthesizes); alternateDrain is the alternate
// group's deregistration delay.
func canaryTemplate(alternateDrain string) map[string]any {
	group := func(drain string) map[string]any {
		return map[string]any{"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": map[string]any{
			"HealthCheckIntervalSeconds": 10.0, "HealthyThresholdCount": 2.0, "UnhealthyThresholdCount": 5.0,
			"TargetGroupAttributes": []any{map[string]any{"Key": "deregistration_delay.timeout_seconds", "Value": drain}}}}
	}
	input := func(id, name, group string) map[string]any {
		dims := []any{map[string]any{"Name": "LoadBalancer", "Value": "app/x/1"}}
		if group != "" {
			dims = append(dims, map[string]any{"Name": "TargetGroup", "Value": map[string]any{"Fn::GetAtt": []any{group, "TargetGroupFullName"}}})
		}
		return map[string]any{"Id": id, "ReturnData": false, "MetricStat": map[string]any{"Period": 60.0, "Stat": "Sum",
			"Metric": map[string]any{"MetricName": name, "Dimensions": dims}}}
	}
	return map[string]any{"Resources": map[string]any{
		"Service": map[string]any{"Type": "AWS::ECS::Service", "Properties": map[string]any{
			"HealthCheckGracePeriodSeconds": 30.0, "DesiredCount": 2.0,
			"LoadBalancers": []any{map[string]any{"TargetGroupArn": map[string]any{"Ref": "Primary"},
				"AdvancedConfiguration": map[string]any{"AlternateTargetGroupArn": map[string]any{"Ref": "Alternate"}}}},
			"DeploymentConfiguration": map[string]any{"Strategy": "CANARY", "BakeTimeInMinutes": 1.0,
				"CanaryConfiguration":      map[string]any{"CanaryPercent": 10.0, "CanaryBakeTimeInMinutes": 2.0},
				"DeploymentCircuitBreaker": map[string]any{"Enable": true, "Rollback": true, "ResetOnHealthyTask": false, "ThresholdConfiguration": map[string]any{"Type": "COUNT", "Value": 2.0}},
				"Alarms":                   map[string]any{"Enable": true, "Rollback": true, "AlarmNames": []any{map[string]any{"Ref": "ErrorRate"}}}}}},
		"Primary": group("65"), "Alternate": group(alternateDrain),
		"ErrorRate": map[string]any{"Type": "AWS::CloudWatch::Alarm", "Properties": map[string]any{"AlarmName": "error-rate",
			"EvaluationPeriods": 1.0, "DatapointsToAlarm": 1.0, "Threshold": 1.0, "ComparisonOperator": "GreaterThanThreshold", "Metrics": []any{
				map[string]any{"Id": "expr_1", "Expression": "MAX([IF(r0 >= 5, 100 * t0 / r0, 0), IF(r1 >= 5, 100 * t1 / r1, 0), IF(r >= 5, 100 * e / r, 0)])"},
				input("r0", "RequestCount", "Primary"), input("t0", "HTTPCode_Target_5XX_Count", "Primary"),
				input("r1", "RequestCount", "Alternate"), input("t1", "HTTPCode_Target_5XX_Count", "Alternate"),
				input("r", "RequestCount", ""), input("e", "HTTPCode_ELB_5XX_Count", "")}}},
	}}
}

func TestReadCanaryTemplate(t *testing.T) {
	// GIVEN a canary service whose two target groups agree WHEN read THEN every canary term comes from the template,
	// and the error rate judges each group by itself above 5 requests a minute
	r, err := Read(canaryTemplate("65"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Strategy != "CANARY" || r.CanaryPercent != 10 || r.CanaryBakeSeconds != 120 || r.BakeSeconds != 60 || r.DrainSeconds != 65 ||
		r.ThresholdType != "COUNT" || r.ThresholdValue != 2 || r.ResetOnHealthyTask || len(r.Alarms) != 1 || !r.Alarms[0].Watches5xx ||
		!r.Alarms[0].PerTargetGroup || r.Alarms[0].MinRequestsPerMinute != 5 || r.Alarms[0].Threshold != 1 ||
		r.Alarms[0].PeriodSeconds != 60 || r.MinHealthyPercent != 100 || r.MaxPercent != 200 || r.UnhealthyThreshold != 5 {
		t.Errorf("read %+v", r)
	}
	// GIVEN an alternate group that drains differently WHEN read THEN the model refuses it: the new tasks start there
	if _, err := Read(canaryTemplate("300")); err == nil || !strings.Contains(err.Error(), "alternate target group") {
		t.Errorf("a mismatched alternate group was read: %v", err)
	}
}

// An error rate whose expression leaves one of the service's groups out, or counts only the load balancer's
// requests, does not judge each group by itself.
func TestReadTellsAWholeLoadBalancerErrorRate(t *testing.T) {
	for name, expression := range map[string]string{
		"whole load balancer": "IF(r >= 10, 100 * e / r, 0)",
		"primary group only":  "MAX([IF(r0 >= 5, 100 * t0 / r0, 0), IF(r >= 5, 100 * e / r, 0)])",
	} {
		tpl := canaryTemplate("65")
		metrics := cfnpathMetrics(t, tpl)
		metrics[0].(map[string]any)["Expression"] = expression
		r, err := Read(tpl)
		if err != nil {
			t.Fatal(err)
		}
		if r.Alarms[0].PerTargetGroup || !r.Alarms[0].Watches5xx {
			t.Errorf("%s: read as judging each target group: %+v", name, r.Alarms[0])
		}
	}
}

func cfnpathMetrics(t *testing.T, tpl map[string]any) []any {
	t.Helper()
	alarm, _ := tpl["Resources"].(map[string]any)["ErrorRate"].(map[string]any)
	props, _ := alarm["Properties"].(map[string]any)
	metrics, ok := props["Metrics"].([]any)
	if !ok {
		t.Fatal("Resources.ErrorRate.Properties.Metrics: not a list")
	}
	return metrics
}

// The model never assumes an alarm's evaluation or that ECS acts on it: each is read from the template, and a
// missing or computed one fails naming its path.
func TestReadRequiresWhatItModels(t *testing.T) {
	for want, edit := range map[string]func(res map[string]any){
		"Resources.Service.Properties.DeploymentConfiguration.Alarms.Rollback is false, want true": func(res map[string]any) {
			res["Service"].(map[string]any)["Properties"].(map[string]any)["DeploymentConfiguration"].(map[string]any)["Alarms"].(map[string]any)["Rollback"] = false
		},
		"Resources.Service.Properties.DeploymentConfiguration.Alarms.Enable is <nil>, want true": func(res map[string]any) {
			delete(res["Service"].(map[string]any)["Properties"].(map[string]any)["DeploymentConfiguration"].(map[string]any)["Alarms"].(map[string]any), "Enable")
		},
		"Resources.ErrorRate.Properties.DatapointsToAlarm is <nil>: want a literal number": func(res map[string]any) {
			delete(res["ErrorRate"].(map[string]any)["Properties"].(map[string]any), "DatapointsToAlarm")
		},
		"Resources.ErrorRate.Properties.Threshold is map[Ref:T]: want a literal number": func(res map[string]any) {
			res["ErrorRate"].(map[string]any)["Properties"].(map[string]any)["Threshold"] = map[string]any{"Ref": "T"}
		},
		"Resources.ErrorRate.Properties.Metrics.2.MetricStat.Period is <nil>: want a literal number": func(res map[string]any) {
			delete(res["ErrorRate"].(map[string]any)["Properties"].(map[string]any)["Metrics"].([]any)[2].(map[string]any)["MetricStat"].(map[string]any), "Period")
		},
		"Resources.ErrorRate.Properties.ComparisonOperator is \"LessThanThreshold\": the model knows only GreaterThan... alarms": func(res map[string]any) {
			res["ErrorRate"].(map[string]any)["Properties"].(map[string]any)["ComparisonOperator"] = "LessThanThreshold"
		},
		"Resources.Service.Properties.DesiredCount is <nil>: want a literal number": func(res map[string]any) {
			delete(res["Service"].(map[string]any)["Properties"].(map[string]any), "DesiredCount")
		},
	} {
		tpl := canaryTemplate("65")
		edit(tpl["Resources"].(map[string]any))
		if _, err := Read(tpl); err == nil || err.Error() != want {
			t.Errorf("want %q, got %v", want, err)
		}
	}
}

// A canary judged over the whole load balancer is caught only if a tenth of the canary's share fails; one under
// the per-group floor is not judged before all traffic moves, which is after ECS stops watching.
func TestCanaryDetectionNeedsItsOwnErrorRateAndTraffic(t *testing.T) {
	diluted := now
	diluted.Alarms = []Alarm{wholeLoadBalancer(errorRate), unhealthyHosts}
	rep := Model(diluted, prodTraffic)
	if !near(rep.FailShare, 0.01/0.1) || !strings.Contains(strings.Join(rep.Problems(), "\n"),
		"error-rate judges the whole load balancer: during the canary (10 %) a release must fail more than 10.0 % of its requests to be caught") {
		t.Errorf("a whole-load-balancer error rate: fail share %g, problems %v", rep.FailShare, rep.Problems())
	}
	rep = Model(now, 40) // 4 requests a minute reach the canary, under the floor of 5
	problems := strings.Join(rep.Problems(), "\n")
	if !math.IsInf(rep.FailShare, 1) || !math.IsInf(rep.BlastRadius, 1) ||
		!strings.Contains(problems, "the canary gets 4.0 requests a minute (10 % of 40.0), under error-rate's floor of 5") {
		t.Errorf("a canary under the floor: fail share %g, blast %g, problems %v", rep.FailShare, rep.BlastRadius, problems)
	}
}

// If ECS bakes for the alarms' own evaluation time and that is longer than BakeTimeInMinutes, the longer counts.
func TestCanaryBakesAtLeastTheAlarmsEvaluationTime(t *testing.T) {
	r := now
	r.Alarms = []Alarm{evaluated(errorRate, 60, 3, 1)} // 3 minutes evaluated
	// The deploy may take the longer bake; ECS surely watches only the configured one (C + B).
	if rep := Model(r, prodTraffic); rep.Bake != 180 || rep.Done != 50+120+180+65 || rep.Window != 180 {
		t.Errorf("bake %g, done %g, window %g", rep.Bake, rep.Done, rep.Window)
	}
}
