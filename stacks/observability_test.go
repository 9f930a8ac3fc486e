package stacks

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"h2o-infra/config"
)

// alarmsByName returns the observability stack's alarms keyed by AlarmName.
func alarmsByName(t *testing.T, s *H2oStage) map[string]map[string]interface{} {
	t.Helper()
	out := map[string]map[string]interface{}{}
	for _, a := range resources(t, s.Observability.Stack, "AWS::CloudWatch::Alarm") {
		out[atString(t, a, "Properties.AlarmName")] = props(a)
	}
	return out
}

func TestAlarmsMatchTheDesignThresholds(t *testing.T) {
	type want struct {
		metric, statistic string // MetricName (or, for math, a metric the expression uses) and statistic
		threshold         float64
		comparison        string
		periods           float64
		missing           string
	}
	forEachStage(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		wants := map[string]want{
			"ecs-cpu":          {"CPUUtilization", "Average", 80, "GreaterThanThreshold", 1, "breaching"},
			"ecs-memory":       {"MemoryUtilization", "Average", 85, "GreaterThanThreshold", 1, "breaching"},
			"rds-connections":  {"DatabaseConnections", "Maximum", 80, "GreaterThanThreshold", 1, "breaching"},
			"slow-queries":     {"SlowQueryCount", "Sum", 1, "GreaterThanOrEqualToThreshold", 1, "notBreaching"},
			"running-tasks":    {"RunningTaskCount", "Minimum", 0, "GreaterThanThreshold", 2, "breaching"},
			"alb-5xx":          {"HTTPCode_ELB_5XX_Count", "Sum", 10, "GreaterThanThreshold", 1, "notBreaching"},
			"rds-free-storage": {"FreeStorageSpace", "Minimum", 2 * 1024 * 1024 * 1024, "LessThanThreshold", 1, "breaching"},
			"rds-cpu-credits":  {"CPUCreditBalance", "Minimum", 20, "LessThanThreshold", 1, "breaching"},
			"cache-cpu":        {"EngineCPUUtilization", "Maximum", 80, "GreaterThanThreshold", 1, "breaching"},
			"cache-memory":     {"DatabaseMemoryUsagePercentage", "Maximum", 80, "GreaterThanThreshold", 1, "breaching"},
			"cache-evictions":  {"Evictions", "Sum", 100, "GreaterThanThreshold", 1, "notBreaching"},
		}
		// With an off-hours schedule (dev) silence is expected, so no alarm treats missing data as breaching.
		if cfg.ScaleDownCron != "" {
			for name, w := range wants {
				w.missing = "notBreaching"
				wants[name] = w
			}
		}
		alarms := alarmsByName(t, s)
		delete(alarms, "h2o-"+cfg.Stage+"-notification-canary") // a test alarm, checked by TestNotificationCanary
		if len(alarms) != len(wants) {
			t.Errorf("%d alarms, want %d", len(alarms), len(wants))
		}
		topic := logicalIDOf(t, s.Observability.Stack, s.Observability.AlarmTopic.Node().DefaultChild())
		for name, w := range wants {
			a, ok := alarms[fmt.Sprintf("h2o-%s-%s", cfg.Stage, name)]
			if !ok {
				t.Errorf("alarm %s missing", name)
				continue
			}
			// GIVEN the alarm WHEN read from the template THEN metric, window, threshold and actions are the design's
			raw := mustJSON(a)
			if a["MetricName"] != nil {
				if a["MetricName"] != w.metric || a["Statistic"] != w.statistic || a["Period"] != float64(300) {
					t.Errorf("%s: %v %v over %v s, want %s %s over 300 s", name, a["MetricName"], a["Statistic"], a["Period"], w.metric, w.statistic)
				}
			} else if !strings.Contains(raw, `"MetricName":"`+w.metric+`"`) || !strings.Contains(raw, `"Stat":"`+w.statistic+`"`) ||
				!strings.Contains(raw, `"Period":300`) {
				t.Errorf("%s: math alarm does not use %s %s over 300 s: %s", name, w.metric, w.statistic, raw)
			}
			if a["Threshold"] != w.threshold || a["ComparisonOperator"] != w.comparison || a["EvaluationPeriods"] != w.periods ||
				a["TreatMissingData"] != w.missing {
				t.Errorf("%s: %v %v x%v missing=%v, want %v %v x%v missing=%v", name, a["ComparisonOperator"], a["Threshold"],
					a["EvaluationPeriods"], a["TreatMissingData"], w.comparison, w.threshold, w.periods, w.missing)
			}
			for _, actions := range []string{"AlarmActions", "OKActions"} {
				if !jsonEqual(a[actions], []interface{}{map[string]interface{}{"Ref": topic}}) {
					t.Errorf("%s: %s = %v, want the stage topic", name, actions, a[actions])
				}
			}
		}
	})
}

func TestComputeAlarmsAndEventsReachTheTopic(t *testing.T) {
	// GIVEN each stage WHEN observability is synthesized THEN event rules send ECS deployment failures, RDS events and
	// the deployment alarms' changes to the alarm topic
	forEachStage(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		rules := resources(t, s.Observability.Stack, "AWS::Events::Rule")
		var patterns []string
		for _, r := range rules {
			p := props(r)
			patterns = append(patterns, mustJSON(p["EventPattern"]))
			if !strings.Contains(mustJSON(p["Targets"]), "AlarmTopic") {
				t.Errorf("rule %v does not target the alarm topic", p["EventPattern"])
			}
		}
		all := strings.Join(patterns, "\n")
		for _, want := range []string{`"detail-type":["ECS Deployment State Change"]`, `"SERVICE_DEPLOYMENT_FAILED"`,
			`"SourceIdentifier":["h2o-` + cfg.Stage + `-postgres"]`, `"failover"`, `"low storage"`,
			`"detail-type":["CloudWatch Alarm State Change"]`, `"value":["ALARM","OK"]`, "ErrorRateAlarm", "UnhealthyHostsAlarm"} {
			if !strings.Contains(all, want) {
				t.Errorf("no event rule matches %s", want)
			}
		}
	})
}

func TestAlarmTopicIsEncryptedAndMailsTheConfiguredAddress(t *testing.T) {
	// GIVEN each stage and the variant with Slack WHEN observability is synthesized THEN the topic is encrypted with a
	// key its publishers may use, mails the alarm address, and reaches Slack only when configured
	forEachStage(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		tm := tmpl(s.Observability.Stack)
		topic := props(resourceOf(t, s.Observability.Stack, s.Observability.AlarmTopic))
		if !isStageKey(t, s, s.Observability.Stack, topic["KmsMasterKeyId"]) {
			t.Errorf("alarm topic key %v, want the stage key", topic["KmsMasterKeyId"])
		}
		// Whether its publishers may use the key: TestEveryPublisherMayPublishToItsTopic evaluates the key policy;
		// TestStageKey that it is rotated.
		expect(t, "e-mail subscription", func() {
			tm.HasResourceProperties(jsii.String("AWS::SNS::Subscription"), &map[string]interface{}{"Protocol": "email", "Endpoint": cfg.AlarmEmail})
		})
		expect(t, "no Slack without its ids", func() {
			tm.ResourceCountIs(jsii.String("AWS::Chatbot::SlackChannelConfiguration"), jsii.Number(0))
		})
	})
	expect(t, "Slack through AWS Chatbot when configured", func() {
		tmpl(withDomain.Observability.Stack).HasResourceProperties(jsii.String("AWS::Chatbot::SlackChannelConfiguration"), &map[string]interface{}{
			"SlackWorkspaceId": "T0123ABCD", "SlackChannelId": "C0123ABCD",
			"SnsTopicArns": []interface{}{map[string]interface{}{"Ref": logicalIDOf(t, withDomain.Observability.Stack, withDomain.Observability.AlarmTopic.Node().DefaultChild())}}})
	})
}

func TestBudgetAlertsAtForecastAndActual(t *testing.T) {
	// GIVEN each stage WHEN observability is synthesized THEN the stage's monthly budget notifies the topic at 80 %
	// forecast and 100 % actual
	forEachStage(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		_, b := only(t, s.Observability.Stack, "AWS::Budgets::Budget")
		p := props(b)
		budget := atMap(t, p, "Budget")
		if !jsonEqual(budget["BudgetLimit"], map[string]interface{}{"Amount": float64(cfg.MonthlyBudgetUSD), "Unit": "USD"}) ||
			!jsonEqual(budget["CostFilters"], map[string]interface{}{"TagKeyValue": []interface{}{"user:Stage$" + cfg.Stage}}) {
			t.Errorf("budget %v", budget)
		}
		notes := mustJSON(p["NotificationsWithSubscribers"])
		for _, want := range []string{`"NotificationType":"FORECASTED","Threshold":80`, `"NotificationType":"ACTUAL","Threshold":100`, `"SubscriptionType":"SNS"`} {
			if !strings.Contains(notes, want) {
				t.Errorf("budget notifications lack %s: %s", want, notes)
			}
		}
	})
}

func TestDashboardsCoverTheDesignMetrics(t *testing.T) {
	// GIVEN each stage WHEN observability is synthesized THEN the ecs, rds and application dashboards draw every
	// design metric
	forEachStage(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		bodies := map[string]string{}
		for _, d := range resources(t, s.Observability.Stack, "AWS::CloudWatch::Dashboard") {
			bodies[atString(t, d, "Properties.DashboardName")] = mustJSON(props(d)["DashboardBody"])
		}
		want := map[string][]string{
			"ecs": {`\"CPUUtilization\"`, `\"MemoryUtilization\"`, `\"RunningTaskCount\"`, `\"DesiredTaskCount\"`,
				`\"stat\":\"Maximum\"`, `\"label\":\"scaling target\",\"value\":70`},
			"rds": {`\"DatabaseConnections\"`, `\"ReadLatency\"`, `\"WriteLatency\"`, `\"CPUUtilization\"`, `\"CPUCreditBalance\"`,
				`\"FreeStorageSpace\"`, `\"FreeableMemory\"`, `\"SlowQueryCount\"`, `\"EngineCPUUtilization\"`,
				`\"DatabaseMemoryUsagePercentage\"`, `\"Evictions\"`, `\"CurrConnections\"`},
			"application": {`\"RequestCount\"`, `\"TargetResponseTime\"`, `\"stat\":\"p50\"`, `\"stat\":\"p90\"`, `\"stat\":\"p99\"`,
				`\"HTTPCode_Target_4XX_Count\"`, `\"HTTPCode_Target_5XX_Count\"`, `FILL(target5xx0, 0)`, `FILL(target5xx1, 0)`, `\"HealthyHostCount\"`, `unhealthy (alternate)`,
				`\"H2O/Backend\",\"AIGenerationDuration\"`, `\"AWS/CloudFront\",\"Requests\"`, `\"5xxErrorRate\"`},
		}
		for name, metrics := range want {
			body, ok := bodies[fmt.Sprintf("h2o-%s-%s", cfg.Stage, name)]
			if !ok {
				t.Errorf("dashboard %s missing (have %v)", name, slices.Sorted(maps.Keys(bodies)))
				continue
			}
			for _, m := range metrics {
				if !strings.Contains(body, m) {
					t.Errorf("dashboard %s lacks %s", name, m)
				}
			}
		}
	})
}

func TestEveryLogGroupExpires(t *testing.T) {
	// GIVEN every stack of each stage and the all-options variant WHEN its log groups are read THEN each has the
	// stage's retention (a log driver without a log group gets a CDK-made one that never expires)
	forEachBuild(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		groups := 0
		for _, stack := range s.Stacks() {
			groups += len(resources(t, stack, "AWS::Logs::LogGroup"))
			for id, lg := range resources(t, stack, "AWS::Logs::LogGroup") {
				if props(lg)["RetentionInDays"] != float64(cfg.LogRetentionDays) {
					t.Errorf("%s %s retention %v, want %d", *stack.StackName(), id, props(lg)["RetentionInDays"], cfg.LogRetentionDays)
				}
			}
		}
		if groups == 0 {
			t.Error("no log group found")
		}
	})
}

// publisher is one AWS service that publishes to an SNS topic on the app's behalf.
type publisher struct {
	what, service, sourceArn string
	topic                    interface{} // the topic as the template names it
}

// publishersOf lists every alarm action, EventBridge rule target and budget subscriber of a template.
func publishersOf(t *testing.T, stack awscdk.Stack) []publisher {
	t.Helper()
	var out []publisher
	for id, r := range allResources(t, stack) {
		p := props(r)
		switch r["Type"] {
		case "AWS::CloudWatch::Alarm":
			arn := fmt.Sprintf("arn:aws:cloudwatch:us-east-1:%s:alarm:%v", testAccount, p["AlarmName"])
			for _, key := range []string{"AlarmActions", "OKActions", "InsufficientDataActions"} {
				for _, action := range list(p[key]) {
					out = append(out, publisher{id + " " + key, "cloudwatch.amazonaws.com", arn, action})
				}
			}
		case "AWS::Events::Rule":
			for _, target := range list(p["Targets"]) {
				if t, _ := target.(map[string]interface{}); t != nil && strings.Contains(mustJSON(t["Arn"]), "Topic") {
					out = append(out, publisher{id + " target", "events.amazonaws.com",
						fmt.Sprintf("arn:aws:events:us-east-1:%s:rule/%s", testAccount, id), t["Arn"]})
				}
			}
		case "AWS::Budgets::Budget":
			name := fmt.Sprint(atMap(t, p, "Budget")["BudgetName"])
			for _, n := range optMaps(t, p, "NotificationsWithSubscribers") {
				for _, s := range optMaps(t, n, "Subscribers") {
					if s["SubscriptionType"] == "SNS" {
						out = append(out, publisher{id + " subscriber", "budgets.amazonaws.com",
							fmt.Sprintf("arn:aws:budgets::%s:budget/%s", testAccount, name), s["Address"]})
					}
				}
			}
		}
	}
	return out
}

// TestEveryPublisherMayPublishToItsTopic: a topic policy replaces SNS's default policy, and an SSE-KMS topic
// needs its key to admit the publisher too (SNS developer guide, "Enable compatibility between event sources from
// AWS services and encrypted topics"). So for every alarm action, rule target and budget subscriber of the app,
// the topic's policy must allow that service sns:Publish for that source, and the key policy must let it use the key.
func TestEveryPublisherMayPublishToItsTopic(t *testing.T) {
	// GIVEN every alarm action, rule target and budget subscriber of the app WHEN its topic and key policies are
	// evaluated THEN they let that service publish
	checked := 0
	for _, stack := range appStacks() {
		resources := allResources(t, stack)
		for _, pub := range publishersOf(t, stack) {
			checked++
			where := fmt.Sprintf("%s %s", *stack.StackName(), pub.what)
			found, _ := lookup(pub.topic, "Ref")
			ref, _ := found.(string)
			topic, ok := resources[ref]
			if !ok || topic["Type"] != "AWS::SNS::Topic" {
				t.Errorf("%s: publishes to %s, not a topic of this stack the test can check", where, mustJSON(pub.topic))
				continue
			}
			ctx := map[string]string{"aws:SourceAccount": testAccount, "aws:SourceArn": pub.sourceArn}
			publish := request{pub.service, "sns:Publish", pub.topic, ctx}
			if !anyTopicPolicyAllows(resources, ref, publish) {
				t.Errorf("%s: no topic policy of %s allows %s", where, ref, publish)
			}
			keyRef := props(topic)["KmsMasterKeyId"]
			key, _, ok := keyOf(t, stack, keyRef)
			if !ok {
				t.Errorf("%s: topic %s is not encrypted with a key of the app (%v)", where, ref, keyRef)
				continue
			}
			// SNS names the topic in its KMS requests' encryption context (kms:EncryptionContext:aws:sns:topicArn:
			// GameLift FlexMatch developer guide, "Set up an SNS topic with server-side encryption"); for EventBridge
			// they carry no aws:SourceAccount or aws:SourceArn (SNS developer guide, sns-key-management, quoted in
			// awslabs/landing-zone-accelerator-on-aws#407), so a key policy requiring them drops every event.
			name, _ := props(topic)["TopicName"].(string)
			topicArn := "arn:aws:sns:us-east-1:" + testAccount + ":" + name
			kmsCtx := map[string]string{"kms:EncryptionContext:aws:sns:topicArn": topicArn}
			if pub.service != "events.amazonaws.com" {
				kmsCtx["aws:SourceAccount"], kmsCtx["aws:SourceArn"] = testAccount, pub.sourceArn
			}
			keyPolicy := props(key)["KeyPolicy"]
			for _, action := range []string{"kms:GenerateDataKey", "kms:Decrypt"} {
				if use := (request{pub.service, action, "*", kmsCtx}); !allows(keyPolicy, use) {
					t.Errorf("%s: the key policy of %s does not allow %s", where, mustJSON(keyRef), use)
				}
			}
			// ...and only for this topic: another topic's messages under the same key stay closed to the publisher
			other := map[string]string{}
			for k, v := range kmsCtx {
				other[k] = v
			}
			other["kms:EncryptionContext:aws:sns:topicArn"] = topicArn + "-other"
			if use := (request{pub.service, "kms:Decrypt", "*", other}); allows(keyPolicy, use) {
				t.Errorf("%s: the key policy of %s allows %s, for a topic that is not the alarm topic", where, mustJSON(keyRef), use)
			}
		}
	}
	if checked < 20 {
		t.Errorf("only %d publishers found: the test is not looking where the alarms are", checked)
	}
}

func anyTopicPolicyAllows(resources map[string]map[string]interface{}, topic string, r request) bool {
	for _, res := range resources {
		p := props(res)
		if res["Type"] == "AWS::SNS::TopicPolicy" && strings.Contains(mustJSON(p["Topics"]), `{"Ref":"`+topic+`"}`) && allows(p["PolicyDocument"], r) {
			return true
		}
	}
	return false
}

func TestNotificationCanaryNeverFiresByItselfAndNotifiesBothWays(t *testing.T) {
	forEachStage(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		// GIVEN the canary that scripts/verify.sh flips WHEN read THEN it watches a metric nothing publishes, treats
		// that silence as OK, and notifies the topic on ALARM and on OK (so the flip and its recovery both arrive)
		topic := map[string]interface{}{"Ref": logicalIDOf(t, s.Observability.Stack, s.Observability.AlarmTopic.Node().DefaultChild())}
		expect(t, "canary", func() {
			tmpl(s.Observability.Stack).HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), &map[string]interface{}{
				"AlarmName": "h2o-" + cfg.Stage + "-notification-canary", "MetricName": "NeverPublished",
				"Namespace": "H2O/" + cfg.Stage + "/Canary", "TreatMissingData": "notBreaching",
				"AlarmActions": []interface{}{topic}, "OKActions": []interface{}{topic},
				"AlarmDescription": assertions.Match_StringLikeRegexp(jsii.String("^TEST ALARM, not an incident")),
			})
		})
		for _, name := range []string{"AlarmTopicArn", "AlarmTopicName", "CanaryAlarmName"} {
			expect(t, "output "+name, func() { tmpl(s.Observability.Stack).HasOutput(jsii.String(name), &map[string]interface{}{}) })
		}
	})
}
