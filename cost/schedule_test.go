package cost

import (
	"math"
	"testing"
	"time"
)

func TestParseCron(t *testing.T) {
	c, err := parseCron("cron(30 7-9/2 ? JAN-MAR MON,WED-FRI *)")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		tm, err := time.Parse("2006-01-02 15:04", s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	for s, want := range map[string]bool{
		"2027-01-04 07:30": true,  // Monday
		"2027-01-04 09:30": true,  // 9 is in 7-9/2
		"2027-01-04 08:30": false, // 8 is not
		"2027-01-05 07:30": false, // Tuesday
		"2027-01-08 07:30": true,  // Friday
		"2027-04-05 07:30": false, // April
		"2027-01-04 07:31": false,
	} {
		if got := c.matches(at(s)); got != want {
			t.Errorf("%s: matches = %v, want %v", s, got, want)
		}
	}
	dom, err := parseCron("cron(0 0 1,15 * ? *)")
	if err != nil {
		t.Fatal(err)
	}
	if !dom.matches(at("2027-02-15 00:00")) || dom.matches(at("2027-02-14 00:00")) {
		t.Error("day-of-month list")
	}
	for _, bad := range []string{"rate(1 hour)", "at(2027-01-01T00:00:00)", "cron(0 0 L * ? *)", "cron(0 0 ? * 2#1 *)",
		"cron(0 25 * * ? *)", "cron(0 0 * *)", "cron(0 0 15W * ? *)"} {
		if _, err := parseCron(bad); err == nil {
			t.Errorf("%s should be rejected", bad)
		}
	}
}

func TestSimulateSteadyState(t *testing.T) {
	off, _ := parseCron("cron(0 18 ? * MON-FRI *)")
	on, _ := parseCron("cron(0 8 ? * MON-FRI *)")
	share := simulate(true, []schedEvent[bool]{
		{cron: off, apply: func(bool) bool { return false }},
		{cron: on, apply: func(bool) bool { return true }},
	})
	// 10 h on each of the 261 weekdays of 2027.
	if got, want := share[true], 2610.0/8760; math.Abs(got-want) > 1e-9 {
		t.Errorf("on share = %v, want %v", got, want)
	}
	if got := simulate(3, []schedEvent[int](nil)); got[3] != 1 {
		t.Errorf("no events: %v", got)
	}
}

func TestSplitPlacesBaseThenWeights(t *testing.T) {
	strategy := []provider{{"FARGATE", 2, 0}, {"FARGATE_SPOT", 0, 1}}
	for _, c := range []struct{ n, od, spot float64 }{{1, 1, 0}, {2, 2, 0}, {3, 2, 1}, {5, 2, 3}} {
		od, sp := split(c.n, strategy)
		if od != c.od || sp != c.spot {
			t.Errorf("split(%v) = %v/%v, want %v/%v", c.n, od, sp, c.od, c.spot)
		}
	}
	od, sp := split(4, []provider{{"FARGATE", 0, 1}, {"FARGATE_SPOT", 0, 3}})
	if od != 1 || sp != 3 {
		t.Errorf("weights 1:3 of 4 = %v/%v", od, sp)
	}
}
