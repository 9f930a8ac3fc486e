package timing

import (
	"strings"
	"testing"
)

// today is what the app synthesizes; before is what it synthesized before issue 13 (5-minute, 1-period alarms,
// a 15 s × 3 health check, a 30 s drain).
var (
	today = Rollout{GraceSeconds: 60, IntervalSeconds: 10, HealthyThreshold: 2, UnhealthyThreshold: 8, DrainSeconds: 65,
		DesiredCount: 2, CircuitBreaker: true, ThresholdType: "COUNT", ThresholdValue: 2,
		Alarms: []Alarm{{"error-rate", 60, 2, 2}, {"unhealthy-hosts", 60, 2, 2}}}
	before = Rollout{GraceSeconds: 60, IntervalSeconds: 15, HealthyThreshold: 2, UnhealthyThreshold: 3, DrainSeconds: 30,
		DesiredCount: 2, CircuitBreaker: true, ThresholdType: "BOUNDED_PERCENT", ThresholdValue: 50, ResetOnHealthyTask: true,
		Alarms: []Alarm{{"error-rate", 300, 1, 1}, {"unhealthy-hosts", 300, 1, 1}}}
)

func TestModelOfTodaysRollout(t *testing.T) {
	rep := Model(today)
	// 60 + 2×10 = 80 in service; + 65 drain + 120 bake = 265; detection 2×60 + 60 = 180 < 65 + 120 = 185;
	// unhealthy at the 8th failed check at the earliest: 7×10 = 70 > 60.
	if rep.InService != 80 || rep.Bake != 120 || rep.Done != 265 || rep.Window != 185 || rep.Detection["error-rate"] != 180 ||
		rep.MarkedUnhealthy != 70 || rep.FailureBudget != 2 || rep.CrashRollback != 60+70 {
		t.Errorf("report %+v", rep)
	}
	if p := rep.Problems(); len(p) > 0 {
		t.Errorf("problems %v", p)
	}
}

func TestModelFindsWhatWasWrongBefore(t *testing.T) {
	// 7 min deploys, detection (6 min) after the 5 min 30 s window, and a 60 s start marked unhealthy at 30 s.
	problems := strings.Join(Model(before).Problems(), "\n")
	for _, want := range []string{"a healthy deploy takes 7 min", "detects a bad deploy after 6 min, over 3 min",
		"not inside ECS's window of 5 min 30 s", "a normal start (up to 1 min) is marked unhealthy after 30 s",
		"a crash loop is rolled back after 4 min, over 3 min"} {
		if !strings.Contains(problems, want) {
			t.Errorf("problems lack %q:\n%s", want, problems)
		}
	}
}

func TestReadRefusesATemplateItCannotModel(t *testing.T) {
	if _, err := Read(map[string]any{"Resources": map[string]any{}}); err == nil {
		t.Error("a template without a service was read")
	}
}

// A threshold of G/interval + 1 fails its last check exactly when a normal start ends: not enough.
func TestModelCountsTheEarliestUnhealthyVerdict(t *testing.T) {
	r := today
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
