package scripts

// Deployment alarms and the --hotfix watch (scripts/guards.sh): the fake CloudWatch answers with the alarms the
// synthesized compute stack defines (names, metric queries, thresholds), their intrinsic functions resolved.

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"h2o-infra/scripts/internal/fake"
)

// alarmNames are the stage's deployment alarms, as its compute stack outputs them.
func alarmNames(stage string) []string {
	return strings.Split(out(stage, "compute", "DeploymentAlarmNames"), ",")
}

// alarmStates: deploy.sh's read of the states of the stage's deployment alarms.
func alarmStates(stage string) []string {
	return append(append([]string{"aws", "cloudwatch", "describe-alarms", "--region", "us-east-1", "--alarm-names"}, alarmNames(stage)...),
		"--query", "MetricAlarms[].[AlarmName,StateValue,StateUpdatedTimestamp]", "--output", "text")
}

// alarmsIn: CloudWatch answers the states of the stage's deployment alarms, those named in ALARM, the others OK,
// and their definitions as the compute stack's template has them.
func alarmsIn(h *harness, stage string, inAlarm ...string) *harness {
	var b strings.Builder
	for _, name := range alarmNames(stage) {
		state := "OK"
		if slices.Contains(inAlarm, name) {
			state = "ALARM"
		}
		fmt.Fprintf(&b, "%s\t%s\t2026-12-06T09:58:00.000000+00:00\n", name, state)
	}
	return h.on("aws", []string{"describe-alarms", "MetricAlarms[].[AlarmName,StateValue,StateUpdatedTimestamp]"}, b.String(), 0).
		on("aws", []string{"describe-alarms", "json"}, alarmDefinitions(h.t, stage), 0)
}

// alarmDefinition is the stage's alarm of that name in its compute template, intrinsic functions resolved, with
// the fields DescribeAlarms answers (MetricAlarm in the CloudWatch API reference: the names are the template's).
func alarmDefinition(t *testing.T, stage, name string) map[string]interface{} {
	t.Helper()
	st := app[stage]["compute"]
	resources, _ := st.template["Resources"].(map[string]interface{})
	for _, r := range resources {
		r := r.(map[string]interface{})
		p, _ := r["Properties"].(map[string]interface{})
		if r["Type"] != "AWS::CloudWatch::Alarm" || p["AlarmName"] != name {
			continue
		}
		def := map[string]interface{}{}
		for _, k := range []string{"AlarmName", "Metrics", "MetricName", "Namespace", "Dimensions", "Period", "Statistic",
			"ExtendedStatistic", "Threshold", "ComparisonOperator", "EvaluationPeriods", "DatapointsToAlarm", "TreatMissingData"} {
			if v, ok := p[k]; ok {
				v, err := resolved(stage, st.name, v)
				if err != nil {
					t.Fatalf("alarm %s, %s: %v", name, k, err)
				}
				def[k] = v
			}
		}
		return def
	}
	t.Fatalf("%s has no alarm %s", st.name, name)
	return nil
}

func alarmDefinitions(t *testing.T, stage string) string {
	var defs []interface{}
	for _, name := range alarmNames(stage) {
		defs = append(defs, alarmDefinition(t, stage, name))
	}
	raw, err := json.Marshal(map[string]interface{}{"MetricAlarms": defs})
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// judged is the id of the query whose value the alarm compares, and a metric name only its queries use.
func judged(t *testing.T, stage, name string) (id, metric string) {
	t.Helper()
	def := alarmDefinition(t, stage, name)
	for _, q := range def["Metrics"].([]interface{}) {
		q := q.(map[string]interface{})
		if q["ReturnData"] != false && id == "" {
			id = q["Id"].(string)
		}
		if stat, ok := q["MetricStat"].(map[string]interface{}); ok && metric == "" {
			metric = stat["Metric"].(map[string]interface{})["MetricName"].(string)
		}
	}
	for _, other := range alarmNames(stage) {
		if other != name && strings.Contains(mustMarshal(t, alarmDefinition(t, stage, other)), `"`+metric+`"`) {
			t.Fatalf("metric %s of %s is in %s too: no way to tell their queries apart", metric, name, other)
		}
	}
	return id, metric
}

func mustMarshal(t *testing.T, v interface{}) string {
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// metricData is GetMetricData's answer (JSON) for the query id: one datapoint a minute, oldest first.
func metricData(id, status string, values ...float64) string {
	base := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	stamps := make([]string, len(values))
	for i := range values {
		stamps[i] = base.Add(time.Duration(i) * time.Minute).Format("2006-01-02T15:04:05+00:00")
	}
	raw, _ := json.Marshal(map[string]interface{}{"MetricDataResults": []interface{}{map[string]interface{}{
		"Id": id, "Label": id, "StatusCode": status, "Timestamps": stamps, "Values": values}}, "Messages": []interface{}{}})
	return string(raw)
}

// deploymentArn is a service deployment of prod's service, named by the app's cluster and service outputs.
func deploymentArn() string {
	return "arn:aws:ecs:us-east-1:" + account + ":service-deployment/" + clusterOf("prod") + "/" + serviceOf("prod") + "/NCWGC2ZR-taawPAYrIaU5"
}

func stopDeployment() []string {
	return []string{"aws", "ecs", "stop-service-deployment", "--region", "us-east-1", "--service-deployment-arn", deploymentArn(),
		"--stop-type", "ROLLBACK", "--query", "serviceDeploymentArn", "--output", "text"}
}

// incident: prod runs oldsha with its first deployment alarm (the error rate) in ALARM; newsha, the fix, is in ECR.
func incident(t *testing.T) (*harness, string) {
	h := newHarness(t)
	h.env["IMAGE_TAG"] = "newsha"
	firing := alarmNames("prod")[0]
	alarmsIn(h, "prod", firing)
	h.on("aws", []string{"describe-images"}, "sha256:x\n", 0)
	return h, firing
}

// hotfixed: the watch's world. The service's tasks are in the primary target group; the service deploy of newsha
// starts deploymentArn, which scales up, takes traffic, then succeeds; CloudWatch answers each alarm's queries
// with data (the error rate's first answers from rate, later ones from later; unhealthy hosts 0).
func hotfixed(t *testing.T, h *harness, rate, later []float64) *harness {
	h.fakeSleep()
	h.env["HOTFIX_POLL"] = "30"
	h.on("aws", []string{"describe-target-health", out("prod", "compute", "TargetGroupArn")}, "healthy\thealthy\n", 0).
		on("aws", []string{"describe-target-health", out("prod", "compute", "AlternateTargetGroupArn")}, "\n", 0)
	h.rules = append(h.rules, fake.Rule{Cmd: "aws", Args: []string{"list-service-deployments"}, Stdout: deploymentArn() + "\n",
		After: cdkDeployService("prod", "newsha")})
	h.on("aws", []string{"list-service-deployments"}, "None\n", 0).
		onTimes(1, "aws", []string{"describe-service-deployments"}, "IN_PROGRESS\tSCALE_UP\n", 0).
		onTimes(1, "aws", []string{"describe-service-deployments"}, "IN_PROGRESS\tPRODUCTION_TRAFFIC_SHIFT\n", 0).
		onTimes(2, "aws", []string{"describe-service-deployments"}, "IN_PROGRESS\tBAKE_TIME\n", 0).
		on("aws", []string{"describe-service-deployments"}, "SUCCESSFUL\tCLEAN_UP\n", 0)
	errorRate, unhealthy := alarmNames("prod")[0], alarmNames("prod")[1]
	id, metric := judged(t, "prod", errorRate)
	h.rules = append(h.rules, fake.Rule{Cmd: "aws", Args: []string{"get-metric-data"}, Contains: []string{`"` + metric + `"`},
		Stdout: metricData(id, "Complete", rate...), Times: 1})
	h.rules = append(h.rules, fake.Rule{Cmd: "aws", Args: []string{"get-metric-data"}, Contains: []string{`"` + metric + `"`},
		Stdout: metricData(id, "Complete", later...)})
	id, metric = judged(t, "prod", unhealthy)
	h.rules = append(h.rules, fake.Rule{Cmd: "aws", Args: []string{"get-metric-data"}, Contains: []string{`"` + metric + `"`},
		Stdout: metricData(id, "Complete", 0, 0)})
	return deployed(h, "prod", 7, "oldsha")
}

// watchedLooks is how many looks the watch takes once the traffic reached the new release, from what the stage's
// compute stack says (bakes, alarm periods and evaluation periods) at HOTFIX_POLL=30.
func watchedLooks(t *testing.T) int {
	canary, bake := 0, 0
	fmt.Sscan(out("prod", "compute", "CanaryBakeMinutes"), &canary)
	fmt.Sscan(out("prod", "compute", "DeployBakeMinutes"), &bake)
	bake *= 60
	period := 0.0
	for _, name := range alarmNames("prod") {
		def := alarmDefinition(t, "prod", name)
		for _, q := range def["Metrics"].([]interface{}) {
			if stat, ok := q.(map[string]interface{})["MetricStat"].(map[string]interface{}); ok {
				p := stat["Period"].(float64)
				period = max(period, p)
				bake = max(bake, int(p*def["EvaluationPeriods"].(float64)))
			}
		}
	}
	seconds := canary*60 + bake + 2*int(period)
	return (seconds + 29) / 30
}

// queriesOf: the metric queries of each get-metric-data call.
func queriesOf(t *testing.T, r result) [][]map[string]interface{} {
	var all [][]map[string]interface{}
	for _, c := range filter(r.calls, "get-metric-data") {
		i := slices.Index(c, "--metric-data-queries")
		var q []map[string]interface{}
		if i < 0 || json.Unmarshal([]byte(c[i+1]), &q) != nil {
			t.Fatalf("get-metric-data without readable queries: %q", c)
		}
		all = append(all, q)
	}
	return all
}

func TestDeployRefusesWhileADeploymentAlarmIsInAlarm(t *testing.T) {
	t.Parallel()
	// GIVEN prod with a deployment alarm in ALARM
	h, firing := incident(t)
	// WHEN a deploy starts without --hotfix
	r := deployed(h, "prod", 7, "oldsha").run("deploy.sh", "prod")
	// THEN it stops once it has read the alarms, changing nothing, naming the alarm and the ways on
	expectCode(t, r, 1)
	expectCalls(t, r, running("prod", 7)...)
	expectStderr(t, r, "deployment alarm(s) in ALARM: "+firing+" (since 2026-12-06T09:58:00.000000+00:00).",
		"ECS does not watch the deployment alarms of a deployment that starts while one of them is in ALARM",
		"Nothing was changed.", "--hotfix (make deploy HOTFIX=1)",
		"aws cloudwatch describe-alarms --region us-east-1 --alarm-names "+strings.Join(alarmNames("prod"), " "),
		"refused: a deployment alarm of prod is in ALARM and --hotfix was not given")
}

func TestDeployRefusesWhenAnAlarmFiresBeforeTheServiceDeploy(t *testing.T) {
	t.Parallel()
	// GIVEN prod whose deployment alarms are OK at first, one in ALARM by the time the migrations are done
	h := newHarness(t)
	h.env["IMAGE_TAG"] = "newsha"
	var ok strings.Builder
	for _, name := range alarmNames("prod") {
		fmt.Fprintf(&ok, "%s\tOK\t2026-12-06T09:00:00+00:00\n", name)
	}
	h.onTimes(1, "aws", []string{"describe-alarms"}, ok.String(), 0).on("aws", []string{"describe-images"}, "sha256:x\n", 0)
	alarmsIn(h, "prod", alarmNames("prod")[1])
	// WHEN it is deployed without --hotfix
	r := deployed(h, "prod", 7, "oldsha").run("deploy.sh", "prod")
	// THEN the service deploy never starts, and it says what was done
	expectCode(t, r, 1)
	if len(filter(r.calls, "npx", "prod/compute")) != 0 {
		t.Errorf("the service was deployed while an alarm was in ALARM\n%s", r)
	}
	expectStderr(t, r, "The infrastructure and the migrations are deployed; the service still runs oldsha: nothing to roll back.")
}

func TestHotfixIsWatchedUntilTheBakesEnd(t *testing.T) {
	t.Parallel()
	// GIVEN prod in an incident, and a fix whose new tasks answer well
	h, _ := incident(t)
	hotfixed(t, h, []float64{0, 0.2}, []float64{0, 0.2, 0.1})
	// WHEN it is deployed with --hotfix
	r := h.run("deploy.sh", "--hotfix", "prod")
	// THEN it is deployed, judged on the new tasks' target group from the traffic's arrival until the bakes end,
	// never stopped nor rolled back
	expectCode(t, r, 0)
	expectCalls(t, result{calls: filter(r.calls, "npx")}, cdkDeployStage("prod", "newsha", "oldsha"), cdkDeployService("prod", "newsha"))
	if stops := filter(r.calls, "stop-service-deployment"); len(stops) != 0 {
		t.Errorf("a healthy release was stopped: %q", stops)
	}
	looks := watchedLooks(t)
	if n := len(filter(r.calls, "describe-service-deployments")); n != 1+looks {
		t.Errorf("%d looks at the deployment, want 1 before the traffic and %d after (the bakes)\n%s", n, looks, r)
	}
	if n := len(filter(r.calls, "get-metric-data")); n != len(alarmNames("prod"))*(1+looks) {
		t.Errorf("%d metric reads, want every alarm at every look\n%s", n, r)
	}
	if n := len(filter(r.calls, "sleep", "30")); n < looks {
		t.Errorf("%d pauses of HOTFIX_POLL between %d looks", n, looks)
	}
	newGroup := afterLast(out("prod", "compute", "AlternateTargetGroupArn"), ":")
	oldGroup := afterLast(out("prod", "compute", "TargetGroupArn"), ":")
	// Every load balancer query is narrowed, the ALB's own 5xx too (guards.sh watch_spec_jq: it has no target group
	// series, so it reads as none; the failing release's 502s would otherwise roll the hotfix back).
	for _, queries := range queriesOf(t, r) {
		elb := 0
		for _, q := range queries {
			stat, ok := q["MetricStat"].(map[string]interface{})
			if !ok {
				continue
			}
			metric := stat["Metric"].(map[string]interface{})
			if metric["Namespace"] != "AWS/ApplicationELB" {
				continue
			}
			elb++
			dims := mustMarshal(t, metric["Dimensions"])
			if !strings.Contains(dims, `{"Name":"TargetGroup","Value":"`+newGroup+`"}`) || strings.Contains(dims, oldGroup) {
				t.Errorf("query %v is not narrowed to the new release's group %s: %s", q["Id"], newGroup, dims)
			}
		}
		if elb == 0 {
			t.Errorf("no load balancer metric among the queries: %v", queries)
		}
	}
	expectStderr(t, r, "--hotfix, so this script judges the release itself",
		"infrastructure deploy started no deployment of the service: nothing to watch",
		"watching ECS deployment "+deploymentArn(), "the new release takes traffic (IN_PROGRESS, PRODUCTION_TRAFFIC_SHIFT)",
		"the bakes are over: no deployment alarm breached on the new release's data", "deployed newsha to prod: healthy")
}

func TestHotfixBreachingIsRolledBack(t *testing.T) {
	t.Parallel()
	// GIVEN prod in an incident, and a fix whose new tasks fail 5 % of requests once they take traffic
	h, firing := incident(t)
	hotfixed(t, h, []float64{0}, []float64{0.1, 5})
	h.on("npx", []string{"h2o-prod-compute:ImageTag=newsha"}, "", 1) // CloudFormation fails once ECS rolls back
	// WHEN it is deployed with --hotfix
	r := h.run("deploy.sh", "--hotfix", "prod")
	// THEN the deployment is stopped with a rollback as soon as the breach shows, and rollback.sh puts oldsha back
	expectCode(t, r, 1)
	stops := filter(r.calls, "stop-service-deployment")
	expectCalls(t, result{calls: stops}, stopDeployment())
	if i, j := slices.IndexFunc(r.calls, func(c []string) bool { return slices.Equal(c, stopDeployment()) }),
		slices.IndexFunc(r.calls, func(c []string) bool { return slices.Equal(c, cdkDeployService("prod", "oldsha")) }); i < 0 || j < i {
		t.Errorf("want the stop, then rollback.sh's deploy of oldsha\n%s", r)
	}
	expectStderr(t, r, "the new release breaches deployment alarm "+firing+": 5 at 2026-12-06T10:01:00Z",
		"stopped "+deploymentArn()+" with a rollback", "deploy of newsha failed; rolled back to oldsha")
}

func TestHotfixWatchNeverTakesAFailedReadForHealthy(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		rule func(h *harness)
		want string
	}{
		{"access denied", func(h *harness) { h.failTimes(0, []string{"get-metric-data"}, accessDenied("GetMetricData")) }, "(AccessDenied)"},
		{"incomplete answer", func(h *harness) {
			id, _ := judged(t, "prod", alarmNames("prod")[0])
			h.on("aws", []string{"get-metric-data"}, metricData(id, "InternalError"), 0)
		}, "StatusCode InternalError"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			// GIVEN a hotfix being watched, and CloudWatch's metrics that cannot be read
			h, _ := incident(t)
			c.rule(h)
			hotfixed(t, h, []float64{0}, []float64{0})
			// WHEN it is deployed with --hotfix
			r := h.run("deploy.sh", "--hotfix", "prod")
			// THEN it stops with the CLI's message and the deploy's state, neither stopping nor rolling back
			expectCode(t, r, 1)
			expectStderr(t, r, c.want, "a failed read is no verdict on the release",
				"ECS deployment "+deploymentArn()+" was IN_PROGRESS (lifecycle stage SCALE_UP) at the last read",
				"aws ecs stop-service-deployment --region us-east-1 --service-deployment-arn "+deploymentArn()+" --stop-type ROLLBACK",
				"after it ends: scripts/rollback.sh prod oldsha",
				"the service deploy of newsha to prod is unwatched")
			if w := filter(r.calls, "stop-service-deployment"); len(w) != 0 {
				t.Errorf("stopped the deployment on a failed read: %q", w)
			}
			if n := len(filter(r.calls, "npx")); n != 2 {
				t.Errorf("%d cdk deploys, want the infrastructure and the service's, no rollback\n%s", n, r)
			}
		})
	}
}

// An alarm CloudWatch leaves out of its answer would be judged by nobody: the watch refuses to start.
func TestHotfixRefusesWhenAnAlarmCannotBeJudged(t *testing.T) {
	t.Parallel()
	// GIVEN prod in an incident, and DescribeAlarms answering the definition of one deployment alarm only
	firing := alarmNames("prod")[0]
	one, _ := json.Marshal(map[string]interface{}{"MetricAlarms": []interface{}{alarmDefinition(t, "prod", firing)}})
	h := newHarness(t)
	h.on("aws", []string{"describe-alarms", "json"}, string(one), 0)
	h.env["IMAGE_TAG"] = "newsha"
	alarmsIn(h, "prod", firing)
	h.on("aws", []string{"describe-images"}, "sha256:x\n", 0)
	hotfixed(t, h, []float64{0}, []float64{0})
	// WHEN it is deployed with --hotfix
	r := h.run("deploy.sh", "--hotfix", "prod")
	// THEN it stops before any cdk deploy, naming what it could read
	expectCode(t, r, 1)
	if n := len(filter(r.calls, "npx")); n != 0 {
		t.Errorf("%d cdk deploys started without every alarm judged\n%s", n, r)
	}
	expectStderr(t, r, "CloudWatch described "+firing+" of the deployment alarms "+strings.Join(alarmNames("prod"), " ")+": cannot judge the others")
}
