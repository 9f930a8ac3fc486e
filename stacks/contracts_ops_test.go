package stacks

// Contracts in time and in watching: the schedules of a stage agree on their time zone and order, backups keep out
// of the database's own windows, and every alarm and event rule watches a resource the stage has
// (contracts_test.go has the helpers).

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"h2o-infra/config"
)

// stageSchedule is one recurring action of a stage.
type stageSchedule struct {
	what string   // the resource and action, for messages
	cron []string // minute hour day-of-month month day-of-week year; nil for rate() or at()
	zone string   // the IANA time zone it is evaluated in
	// action is what it does to the stage: "db-start", "db-stop", "tasks-up", "tasks-down", or "" for anything else.
	action string
}

var cronExprRe = regexp.MustCompile(`^cron\((.+)\)$`)

func cronFields(expr string) []string {
	m := cronExprRe.FindStringSubmatch(expr)
	if m == nil {
		return nil
	}
	return strings.Fields(m[1])
}

// zoneOr is a schedule's time zone, or UTC when the template leaves it out: EventBridge Scheduler
// (ScheduleExpressionTimezone) and Application Auto Scaling (ScheduledAction Timezone) evaluate in UTC by default
// (CloudFormation reference of AWS::Scheduler::Schedule and AWS::ApplicationAutoScaling::ScalableTarget).
func zoneOr(v interface{}) string {
	if zone, ok := v.(string); ok && zone != "" {
		return zone
	}
	return "UTC"
}

// sameZone is whether two IANA time zone names keep the same time (aliases such as UTC and Etc/UTC do): their
// offsets agree twice a week over two years, DST changes included.
func sameZone(t *testing.T, a, b string) bool {
	t.Helper()
	if a == b {
		return true
	}
	za, errA := time.LoadLocation(a)
	zb, errB := time.LoadLocation(b)
	if errA != nil || errB != nil {
		t.Errorf("time zones %q, %q: %v %v", a, b, errA, errB)
		return false
	}
	for at := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC); at.Year() < 2029; at = at.Add(84 * time.Hour) {
		_, offA := at.In(za).Zone()
		_, offB := at.In(zb).Zone()
		if offA != offB {
			return false
		}
	}
	return true
}

// stageSchedules are the stage's recurring actions: EventBridge Scheduler schedules, Application Auto Scaling
// scheduled actions and EventBridge rules on a schedule (always UTC: EventBridge user guide, "Creating a rule that
// runs on a schedule"). AWS Backup plans follow the database's windows instead (TestBackupsKeepOutOfTheDatabasesWindows).
func stageSchedules(t *testing.T, s *H2oStage) []stageSchedule {
	t.Helper()
	db := onlyOf(t, s, "AWS::RDS::DBInstance")
	var out []stageSchedule
	for _, sc := range stageResources(t, s, "AWS::Scheduler::Schedule") {
		p := props(sc.r)
		item := stageSchedule{what: "schedule " + sc.id, cron: cronFields(fmt.Sprint(p["ScheduleExpression"])), zone: zoneOr(p["ScheduleExpressionTimezone"])}
		target := atString(t, p, "Target.Arn")
		if rds := strings.TrimPrefix(target, "arn:aws:scheduler:::aws-sdk:rds:"); rds != target {
			// A universal target calls the RDS API with Input as its parameters (Scheduler user guide, "Using
			// universal targets"): the instance it names must be the stage's.
			var input map[string]interface{}
			if err := json.Unmarshal([]byte(atString(t, p, "Target.Input")), &input); err != nil || input["DbInstanceIdentifier"] != props(db.r)["DBInstanceIdentifier"] {
				t.Errorf("%s calls rds:%s on %v, the stage's instance is %v (%v)", item.what, rds, input["DbInstanceIdentifier"], props(db.r)["DBInstanceIdentifier"], err)
			}
			item.action = map[string]string{"startDBInstance": "db-start", "stopDBInstance": "db-stop"}[rds]
		}
		out = append(out, item)
	}
	for _, target := range stageResources(t, s, "AWS::ApplicationAutoScaling::ScalableTarget") {
		for _, a := range optMaps(t, target.r, "Properties.ScheduledActions") {
			item := stageSchedule{what: fmt.Sprintf("scheduled action %v of %s", a["ScheduledActionName"], target.id),
				cron: cronFields(fmt.Sprint(a["Schedule"])), zone: zoneOr(a["Timezone"])}
			switch capacity := atMap(t, a, "ScalableTargetAction"); {
			case capacity["MaxCapacity"] != nil && number(capacity["MaxCapacity"]) == 0:
				item.action = "tasks-down"
			case number(capacity["MinCapacity"]) > 0:
				item.action = "tasks-up"
			}
			out = append(out, item)
		}
	}
	for _, rule := range stageResources(t, s, "AWS::Events::Rule") {
		if expr, ok := props(rule.r)["ScheduleExpression"]; ok {
			out = append(out, stageSchedule{what: "rule " + rule.id, cron: cronFields(fmt.Sprint(expr)), zone: "UTC"})
		}
	}
	return out
}

// minuteOfDay is a cron's minute and hour as minutes after midnight; ok is false unless both are plain numbers.
func minuteOfDay(cron []string) (int, bool) {
	if len(cron) != 6 {
		return 0, false
	}
	minute, errM := strconv.Atoi(cron[0])
	hour, errH := strconv.Atoi(cron[1])
	return hour*60 + minute, errM == nil && errH == nil
}

// sameDays is whether two crons run on the same days (day of month, month, day of week, year).
func sameDays(a, b []string) bool {
	return len(a) == 6 && len(b) == 6 && strings.Join(a[2:], " ") == strings.Join(b[2:], " ")
}

// TestEveryScheduleOfAStageRunsInItsTimeZone: the off-hours schedules of a stage (the database's stop and start in
// data, the tasks' scale-down and scale-up in compute, any scheduled rule) all run in the stage's scheduleTimeZone,
// and on the same days the database starts no later than the tasks come back and stops no earlier than they leave.
// A database schedule left in UTC while the tasks follow another zone brings the tasks back before the database.
func TestEveryScheduleOfAStageRunsInItsTimeZone(t *testing.T) {
	ordered := 0 // pairs of a database and a tasks schedule compared, over every build
	forEachContractBuild(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		// GIVEN every recurring action of the stage
		schedules := stageSchedules(t, s)
		if cfg.ScheduleTimeZone == "" && len(schedules) > 0 {
			t.Errorf("the stage has no scheduleTimeZone but %d schedules, the first %s in %s", len(schedules), schedules[0].what, schedules[0].zone)
		}
		if cfg.ScaleDownCron != "" && len(schedules) == 0 {
			t.Error("an off-hours schedule in the config, none in the templates: the contract checks nothing")
		}
		// WHEN their zones and times are compared THEN they share the stage's zone and keep the database ahead
		byAction := map[string][]stageSchedule{}
		for _, sc := range schedules {
			if !sameZone(t, sc.zone, cfg.ScheduleTimeZone) {
				t.Errorf("%s runs in %s, the stage's schedules in %q", sc.what, sc.zone, cfg.ScheduleTimeZone)
			}
			byAction[sc.action] = append(byAction[sc.action], sc)
		}
		order := func(first, then string, want string) {
			for _, a := range byAction[first] {
				matched := false
				for _, b := range byAction[then] {
					at, okA := minuteOfDay(a.cron)
					bt, okB := minuteOfDay(b.cron)
					if !sameDays(a.cron, b.cron) {
						continue
					}
					matched = true
					ordered++
					if !okA || !okB || at > bt {
						t.Errorf("%s (%v) must run %s %s (%v) on the same days", a.what, a.cron, want, b.what, b.cron)
					}
				}
				if !matched {
					t.Errorf("%s (%v): no %s runs on the same days", a.what, a.cron, then)
				}
			}
		}
		order("db-start", "tasks-up", "no later than")
		order("tasks-down", "db-stop", "no later than")
		if len(byAction["db-stop"]) != len(byAction["db-start"]) {
			t.Errorf("%d database stops, %d starts", len(byAction["db-stop"]), len(byAction["db-start"]))
		}
		if cfg.StopDatabaseOffHours && len(byAction["db-start"]) == 0 {
			t.Error("stopDatabaseOffHours without a database start schedule: the contract checks nothing")
		}
	})
	if ordered == 0 {
		t.Error("no database schedule was compared with a tasks schedule in any build")
	}
}

// window is a daily time range in minutes after midnight (end may pass 1440).
type window struct{ from, to int }

func (w window) overlaps(o window) bool {
	for _, shift := range []int{-1440, 0, 1440} {
		if w.from < o.to+shift && o.from+shift < w.to {
			return true
		}
	}
	return false
}

var hhmmRe = regexp.MustCompile(`(?:[a-z]{3}:)?(\d{2}):(\d{2})-(?:[a-z]{3}:)?(\d{2}):(\d{2})`)

// rdsWindow parses an RDS window, "hh:mm-hh:mm" or "ddd:hh:mm-ddd:hh:mm" (UTC: RDS API reference,
// "CreateDBInstance", PreferredBackupWindow and PreferredMaintenanceWindow); the day is left out (conservative).
func rdsWindow(t *testing.T, v interface{}) window {
	t.Helper()
	m := hhmmRe.FindStringSubmatch(fmt.Sprint(v))
	if m == nil {
		t.Fatalf("%v is not an RDS window", v)
	}
	n := func(s string) int { i, _ := strconv.Atoi(s); return i }
	from, to := n(m[1])*60+n(m[2]), n(m[3])*60+n(m[4])
	if to <= from {
		to += 1440
	}
	return window{from, to}
}

// TestBackupsKeepOutOfTheDatabasesWindows: every AWS Backup rule of a database runs in UTC, the time zone RDS's own
// windows are written in, and the time it may start in (its start window; 8 hours when left out: AWS Backup API
// reference, "BackupRule", StartWindowMinutes) overlaps neither the instance's automated backup window nor its
// maintenance window, so no two backups of the instance run at once (backup.go).
func TestBackupsKeepOutOfTheDatabasesWindows(t *testing.T) {
	plans := 0
	forEachContractBuild(t, func(t *testing.T, s *H2oStage, _ *config.Config) {
		db := onlyOf(t, s, "AWS::RDS::DBInstance")
		backup, maintenance := rdsWindow(t, props(db.r)["PreferredBackupWindow"]), rdsWindow(t, props(db.r)["PreferredMaintenanceWindow"])
		for _, plan := range stageResources(t, s, "AWS::Backup::BackupPlan") {
			plans++
			for _, rule := range optMaps(t, plan.r, "Properties.BackupPlan.BackupPlanRule") {
				if zone := zoneOr(rule["ScheduleExpressionTimezone"]); !sameZone(t, zone, "UTC") {
					t.Errorf("rule %v runs in %s; the database's windows are UTC", rule["RuleName"], zone)
				}
				start, ok := minuteOfDay(cronFields(fmt.Sprint(rule["ScheduleExpression"])))
				if !ok {
					t.Errorf("rule %v: %v has no plain minute and hour to compare", rule["RuleName"], rule["ScheduleExpression"])
					continue
				}
				length := 480
				if w := rule["StartWindowMinutes"]; w != nil {
					length = int(number(w))
				}
				starts := window{start, start + length}
				if starts.overlaps(backup) || starts.overlaps(maintenance) {
					t.Errorf("rule %v may start %d-%d min after midnight UTC: inside the backup window %v or the maintenance window %v",
						rule["RuleName"], starts.from, starts.to, props(db.r)["PreferredBackupWindow"], props(db.r)["PreferredMaintenanceWindow"])
				}
			}
		}
	})
	if plans == 0 {
		t.Error("no backup plan in any build: the contract checks nothing")
	}
}

// watchable is what a stage's alarms may watch: for each metric namespace, each dimension's allowed values (the
// names or attributes of resources the stage has).
type watchable struct {
	literal map[string][]string    // dimension → names
	attr    map[string][]refTarget // dimension → resource attributes
}

// watchables reads what each namespace's dimensions may name from the stage's resources. ElastiCache publishes per
// node, under the member cluster ids <group>-001, -002, ... (what the console and DescribeReplicationGroup's
// MemberClusters show; the naming itself is unverified in AWS's documentation).
func watchables(t *testing.T, s *H2oStage) map[string]watchable {
	t.Helper()
	names := func(typ, prop string) []string {
		var out []string
		for _, r := range stageResources(t, s, typ) {
			out = append(out, fmt.Sprint(props(r.r)[prop]))
		}
		return out
	}
	attrs := func(typ, attr string) []refTarget {
		var out []refTarget
		for _, r := range stageResources(t, s, typ) {
			out = append(out, r.target(attr))
		}
		return out
	}
	var members []string
	for _, rg := range stageResources(t, s, "AWS::ElastiCache::ReplicationGroup") {
		for i := 1; i <= int(number(props(rg.r)["NumCacheClusters"])); i++ {
			members = append(members, fmt.Sprintf("%v-%03d", props(rg.r)["ReplicationGroupId"], i))
		}
	}
	ecs := watchable{literal: map[string][]string{"ClusterName": names("AWS::ECS::Cluster", "ClusterName"),
		"ServiceName": names("AWS::ECS::Service", "ServiceName")}}
	return map[string]watchable{
		"AWS/ECS": ecs, "ECS/ContainerInsights": ecs,
		"AWS/RDS":         {literal: map[string][]string{"DBInstanceIdentifier": names("AWS::RDS::DBInstance", "DBInstanceIdentifier")}},
		"AWS/ElastiCache": {literal: map[string][]string{"CacheClusterId": members}},
		"AWS/ApplicationELB": {attr: map[string][]refTarget{
			"LoadBalancer": attrs("AWS::ElasticLoadBalancingV2::LoadBalancer", "LoadBalancerFullName"),
			"TargetGroup":  attrs("AWS::ElasticLoadBalancingV2::TargetGroup", "TargetGroupFullName")}},
	}
}

// TestEveryAlarmWatchesAResourceTheStageHas: every metric an alarm of the stage watches names, in each dimension, a
// resource the stage has (a cluster, service, instance, cache node, load balancer or target group by the name or
// attribute CloudWatch publishes it under), or is published by one of the stage's log metric filters or by the app
// (metricsNamespace); every event rule matches resources of the stage. An alarm on a name nothing publishes stays
// INSUFFICIENT_DATA, or with missing data as not breaching stays OK, through any outage. The notification canary
// watches nothing on purpose (TestNotificationCanaryNeverFiresByItselfAndNotifiesBothWays).
func TestEveryAlarmWatchesAResourceTheStageHas(t *testing.T) {
	forEachContractBuild(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		known := watchables(t, s)
		published := map[string]bool{}
		for _, f := range stageResources(t, s, "AWS::Logs::MetricFilter") {
			for _, m := range optMaps(t, f.r, "Properties.MetricTransformations") {
				published[fmt.Sprint(m["MetricNamespace"], " ", m["MetricName"])] = true
			}
		}
		canary := logicalIDOf(t, s.Observability.Stack, s.Observability.CanaryAlarm.Node().DefaultChild())
		watched := 0
		for _, alarm := range stageResources(t, s, "AWS::CloudWatch::Alarm") {
			if alarm.stack == s.Observability.Stack && alarm.id == canary {
				continue
			}
			metrics := []map[string]interface{}{props(alarm.r)}
			for _, q := range optMaps(t, alarm.r, "Properties.Metrics") {
				if stat, ok := q["MetricStat"].(map[string]interface{}); ok {
					metrics = append(metrics, atMap(t, stat, "Metric"))
				}
			}
			for _, m := range metrics {
				if m["MetricName"] == nil {
					continue // a metric-math alarm's top level
				}
				watched++
				ns := fmt.Sprint(m["Namespace"])
				what := fmt.Sprintf("%s %s: %s %v", *alarm.stack.StackName(), alarm.id, ns, m["MetricName"])
				w, isAWS := known[ns]
				if !isAWS {
					if !published[ns+" "+fmt.Sprint(m["MetricName"])] && ns != cfg.MetricsNamespace {
						t.Errorf("%s: no metric filter of the stage publishes it, and it is not the app's namespace %s", what, cfg.MetricsNamespace)
					}
					continue
				}
				dims := optMaps(t, m, "Dimensions")
				if len(dims) == 0 {
					t.Errorf("%s watches the whole namespace, no resource of the stage", what)
				}
				for _, d := range dims {
					name := fmt.Sprint(d["Name"])
					if value, ok := d["Value"].(string); ok {
						if !slices.Contains(w.literal[name], value) {
							t.Errorf("%s: %s=%s, the stage has %v", what, name, value, w.literal[name])
						}
						continue
					}
					target, _ := resolveRef(t, s, alarm.stack, d["Value"])
					if !slices.ContainsFunc(w.attr[name], target.same) {
						t.Errorf("%s: %s=%s, the stage has %v", what, name, target, w.attr[name])
					}
				}
			}
		}
		if watched == 0 {
			t.Error("no alarm watches a metric: the contract checks nothing")
		}
		checkEventRules(t, s, known)
	})
}

// checkEventRules: every event rule's pattern names resources of the stage (resources by reference, RDS events by
// the instance identifier).
func checkEventRules(t *testing.T, s *H2oStage, known map[string]watchable) {
	t.Helper()
	patterns := 0
	for _, rule := range stageResources(t, s, "AWS::Events::Rule") {
		pattern, ok := props(rule.r)["EventPattern"].(map[string]interface{})
		if !ok {
			continue // a scheduled rule
		}
		patterns++
		for _, r := range list(pattern["resources"]) {
			if _, ok := resolveRef(t, s, rule.stack, r); !ok {
				t.Errorf("rule %s matches %s, no resource of the stage", rule.id, mustJSON(r))
			}
		}
		for _, id := range list(cfnGet(pattern, "detail.SourceIdentifier")) {
			if !slices.Contains(known["AWS/RDS"].literal["DBInstanceIdentifier"], fmt.Sprint(id)) {
				t.Errorf("rule %s matches events of %v, the stage's instances are %v", rule.id, id, known["AWS/RDS"].literal["DBInstanceIdentifier"])
			}
		}
	}
	if patterns == 0 {
		t.Error("no event rule matches events: the contract checks nothing")
	}
}
