package cost

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// cron is an AWS cron expression: cron(minutes hours day-of-month month day-of-week year), as used by
// Application Auto Scaling scheduled actions and EventBridge Scheduler. Supported: * ? lists ranges steps and
// month/day names; L, W and # are rejected (the estimate then says it could not read the schedule).
type cron struct {
	expr                       string
	min, hour, dom, month, dow [64]bool
	domAny, dowAny             bool
}

var monthNames = map[string]int{"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6, "JUL": 7,
	"AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12}
var dayNames = map[string]int{"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}

// parseCron parses "cron(...)"; rate() and at() expressions have no weekly steady state and are rejected.
func parseCron(expr string) (*cron, error) {
	s := strings.TrimSpace(expr)
	if !strings.HasPrefix(s, "cron(") || !strings.HasSuffix(s, ")") {
		return nil, fmt.Errorf("schedule %q is not a cron() expression", expr)
	}
	fields := strings.Fields(s[5 : len(s)-1])
	if len(fields) != 6 {
		return nil, fmt.Errorf("schedule %q: want 6 fields, got %d", expr, len(fields))
	}
	c := &cron{expr: expr}
	specs := []struct {
		set      *[64]bool
		lo, hi   int
		names    map[string]int
		anyFlag  *bool
		allowAny bool
	}{
		{&c.min, 0, 59, nil, nil, false},
		{&c.hour, 0, 23, nil, nil, false},
		{&c.dom, 1, 31, nil, &c.domAny, true},
		{&c.month, 1, 12, monthNames, nil, false},
		{&c.dow, 1, 7, dayNames, &c.dowAny, true},
	}
	for i, sp := range specs {
		f := strings.ToUpper(fields[i])
		if f == "?" || f == "*" {
			if sp.anyFlag != nil {
				*sp.anyFlag = true
			}
			for v := sp.lo; v <= sp.hi; v++ {
				sp.set[v] = true
			}
			continue
		}
		if err := parseField(f, sp.lo, sp.hi, sp.names, sp.set); err != nil {
			return nil, fmt.Errorf("schedule %q: %w", expr, err)
		}
	}
	// The year field is ignored: the estimate is a steady-state month.
	return c, nil
}

func parseField(f string, lo, hi int, names map[string]int, set *[64]bool) error {
	val := func(s string) (int, error) {
		if n, ok := names[s]; ok {
			return n, nil
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < lo || n > hi {
			return 0, fmt.Errorf("value %q is not in %d-%d (L, W and # are not supported)", s, lo, hi)
		}
		return n, nil
	}
	for _, part := range strings.Split(f, ",") {
		step := 1
		if i := strings.IndexByte(part, '/'); i >= 0 {
			n, err := strconv.Atoi(part[i+1:])
			if err != nil || n <= 0 {
				return fmt.Errorf("bad step in %q", part)
			}
			step = n
			part = part[:i]
		}
		from, to := lo, hi
		switch {
		case part == "*":
		case strings.Contains(part, "-"):
			ab := strings.SplitN(part, "-", 2)
			a, err := val(ab[0])
			if err != nil {
				return err
			}
			b, err := val(ab[1])
			if err != nil {
				return err
			}
			from, to = a, b
		default:
			a, err := val(part)
			if err != nil {
				return err
			}
			from = a
			if step == 1 {
				to = a
			}
		}
		if from > to {
			return fmt.Errorf("range %q runs backwards", part)
		}
		for v := from; v <= to; v += step {
			set[v] = true
		}
	}
	return nil
}

func (c *cron) matches(t time.Time) bool {
	if !c.min[t.Minute()] || !c.hour[t.Hour()] || !c.month[int(t.Month())] {
		return false
	}
	domOK, dowOK := c.dom[t.Day()], c.dow[int(t.Weekday())+1]
	switch {
	case c.domAny && c.dowAny:
		return true
	case c.domAny:
		return dowOK
	case c.dowAny:
		return domOK
	}
	return domOK && dowOK
}

// The reference year schedules are run over, minute by minute: [referenceYearStart, referenceYearEnd).
var (
	referenceYearStart = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	referenceYearEnd   = referenceYearStart.AddDate(1, 0, 0)
	referenceYearDays  = referenceYearEnd.Sub(referenceYearStart).Hours() / 24
)

// eachReferenceMinute calls f with every minute of the reference year, in order.
func eachReferenceMinute(f func(time.Time)) {
	for t := referenceYearStart; t.Before(referenceYearEnd); t = t.Add(time.Minute) {
		f(t)
	}
}

// firingsPerYear counts how often a cron schedule fires over the reference year.
func firingsPerYear(c *cron) float64 {
	n := 0.0
	eachReferenceMinute(func(t time.Time) {
		if c.matches(t) {
			n++
		}
	})
	return n
}

// schedEvent changes a state when its cron fires.
type schedEvent[S comparable] struct {
	cron  *cron
	apply func(S) S
}

// simulate runs the events over a reference year, minute by minute, and returns the share of time each state
// holds in steady state: the year is run twice and the second run measured, so the state in force on
// 1 January is whatever the schedule leaves at the end of the year. Time zones do not change the shares:
// every event of one resource fires in the same zone.
func simulate[S comparable](initial S, events []schedEvent[S]) map[S]float64 {
	if len(events) == 0 {
		return map[S]float64{initial: 1}
	}
	state := initial
	share := map[S]float64{}
	total := referenceYearEnd.Sub(referenceYearStart).Minutes()
	for pass := 0; pass < 2; pass++ {
		eachReferenceMinute(func(t time.Time) {
			for _, e := range events {
				if e.cron.matches(t) {
					state = e.apply(state)
				}
			}
			if pass == 1 {
				share[state] += 1 / total
			}
		})
	}
	return share
}
