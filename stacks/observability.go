package stacks

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsbudgets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awschatbot"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawsevents"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"h2o-infra/config"
)

// ObservabilityStack watches the stage: dashboards, alarms, the alarm topic, event routing and the budget.
type ObservabilityStack struct {
	awscdk.Stack
	AlarmTopic awssns.Topic
	Alarms     []awscloudwatch.Alarm
	// CanaryAlarm exists only to test notification delivery (scripts/verify.sh).
	CanaryAlarm awscloudwatch.Alarm
	Dashboards  []awscloudwatch.Dashboard
}

// NewObservabilityStack builds the monitoring of one stage on top of every other layer.
func NewObservabilityStack(scope constructs.Construct, cfg *config.Config, data *DataStack, compute *ComputeStack, edge *EdgeStack) *ObservabilityStack {
	stack := newLayerStack(scope, cfg, "observability", "dashboards, alarms, notifications, budget")
	o := &ObservabilityStack{Stack: stack}
	m := newStageMetrics(cfg, data, compute, edge)
	o.AlarmTopic = newAlarmTopic(stack, cfg)

	notify := awscloudwatchactions.NewSnsAction(o.AlarmTopic) // one action object for every alarm, ALARM and OK
	specs := alarmSpecsOf(m, data, compute)
	create := func(spec alarmSpec) awscloudwatch.Alarm {
		alarm := spec.create(stack, Names{cfg.Stage})
		alarm.AddAlarmAction(notify)
		alarm.AddOkAction(notify)
		return alarm
	}
	for _, spec := range specs {
		o.Alarms = append(o.Alarms, create(spec))
	}
	o.CanaryAlarm = create(canaryAlarm(cfg.Stage))
	routeEvents(stack, o.AlarmTopic, data, compute)
	newBudget(stack, cfg, o.AlarmTopic)
	o.Dashboards = newDashboards(stack, cfg, m, data, compute, specs)
	outputs(stack, "for scripts/verify.sh", map[string]*string{"AlarmTopicArn": o.AlarmTopic.TopicArn(),
		"AlarmTopicName": o.AlarmTopic.TopicName(), "CanaryAlarmName": o.CanaryAlarm.AlarmName()})
	return o
}

// canaryAlarm watches a metric nothing publishes, so it stays OK; `scripts/verify.sh` flips it to ALARM with
// set-alarm-state to prove that notifications reach the topic and its subscribers (a metric alarm returns to its
// actual state "quickly, often within seconds": CloudWatch API reference, "SetAlarmState"; that OK notifies too).
func canaryAlarm(stage string) alarmSpec {
	never := awscloudwatch.NewMetric(&awscloudwatch.MetricProps{Namespace: jsii.String(fmt.Sprintf("H2O/%s/Canary", stage)),
		MetricName: jsii.String("NeverPublished"), Statistic: jsii.String("Maximum"), Period: awscdk.Duration_Minutes(jsii.Number(1))})
	return alarmSpec{id: "NotificationCanary", name: "notification-canary",
		description: "TEST ALARM, not an incident: scripts/verify.sh sets it to ALARM to check that alarm " +
			"notifications are delivered. It returns to OK by itself within a minute.",
		metric: never, threshold: 1, comparison: atLeast, periods: 1, missing: notBreached}
}

// newAlarmTopic is the stage's encrypted alarm topic. CloudWatch, EventBridge and Budgets cannot publish to a
// topic under the AWS-managed SNS key, so it is encrypted with the stage key, whose policy lets exactly them use
// it (stagekey.go).
func newAlarmTopic(stack awscdk.Stack, cfg *config.Config) awssns.Topic {
	alarms, budgets := awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil),
		awsiam.NewServicePrincipal(jsii.String("budgets.amazonaws.com"), nil)
	topic := awssns.NewTopic(stack, jsii.String("AlarmTopic"), &awssns.TopicProps{
		TopicName: jsii.String(Names{cfg.Stage}.Resource("alarms")), MasterKey: stageKey(stack), EnforceSSL: jsii.Bool(true),
	})
	// A topic policy replaces SNS's default policy, so every publisher must be named in it: CloudWatch for this
	// stage's alarms, Budgets and EventBridge's rules (SNS developer guide, "Amazon SNS access policy examples" and
	// "Enable compatibility between event sources from AWS services and encrypted topics"); EventBridge's statement
	// is the one aws-events-targets SnsTopic would write (alarmTopicTarget).
	sameAccount := map[string]interface{}{"aws:SourceAccount": stack.Account()}
	topic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("AllowStageAlarmsPublish"), Principals: &[]awsiam.IPrincipal{alarms},
		Actions: jsii.Strings("sns:Publish"), Resources: jsii.Strings(*topic.TopicArn()),
		Conditions: &map[string]interface{}{"StringEquals": sameAccount, "ArnLike": map[string]interface{}{
			"aws:SourceArn": fmt.Sprintf("arn:%s:cloudwatch:%s:%s:alarm:%s", *stack.Partition(), *stack.Region(), *stack.Account(), Names{cfg.Stage}.Alarm("*"))}},
	}))
	topic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("AllowBudgetsPublish"), Principals: &[]awsiam.IPrincipal{budgets},
		Actions: jsii.Strings("sns:Publish"), Resources: jsii.Strings(*topic.TopicArn()),
		Conditions: &map[string]interface{}{"StringEquals": sameAccount},
	}))
	topic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("AllowEventRulesPublish"), Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil)},
		Actions: jsii.Strings("sns:Publish"), Resources: jsii.Strings(*topic.TopicArn()),
	}))
	topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(cfg.AlarmEmail), nil))
	if cfg.SlackChannelID != "" {
		awschatbot.NewSlackChannelConfiguration(stack, jsii.String("Slack"), &awschatbot.SlackChannelConfigurationProps{
			SlackChannelConfigurationName: jsii.String(Names{cfg.Stage}.Resource("alarms")),
			SlackWorkspaceId:              jsii.String(cfg.SlackWorkspaceID),
			SlackChannelId:                jsii.String(cfg.SlackChannelID),
			NotificationTopics:            &[]awssns.ITopic{topic},
			// Chat users may read, never change, the account.
			GuardrailPolicies: &[]awsiam.IManagedPolicy{awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("ReadOnlyAccess"))},
		})
	}
	return topic
}

// alarmSpecsOf are the stage's alarms; the deployment alarms live in compute (ECS rolls back on them).
func alarmSpecsOf(m *stageMetrics, data *DataStack, compute *ComputeStack) alarmSpecs {
	// notBreached: no datapoint means no activity, which is not a fault (no requests, no slow queries).
	// breached: a metric AWS always publishes while the resource is alive; silence means it is not -- unless the
	// stage scales to zero off hours, when silence is the schedule working.
	quiet, dead := notBreached, breached
	if compute.ScalesToZero {
		dead = quiet
	}
	specs := alarmSpecs{
		// The design's five (error rate lives in compute: ECS deployments roll back on it).
		{"EcsCpuAlarm", "ecs-cpu", "ECS service CPU above 80 % for 5 minutes (design threshold).",
			m.ecs("CPUUtilization", "Average"), 80, above, 1, 0, dead},
		{"EcsMemoryAlarm", "ecs-memory", "ECS service memory above 85 % for 5 minutes (design threshold).",
			m.ecs("MemoryUtilization", "Average"), 85, above, 1, 0, dead},
		{"RdsConnectionsAlarm", "rds-connections", "More than 80 database connections (design threshold).",
			m.rds("DatabaseConnections", "Maximum"), 80, above, 1, 0, dead},
		// Only statements over 1 s are logged (log_min_duration_statement=1000), so "average slow-query time
		// above 1 s" is the same as "at least one logged statement": count them, a parse that cannot fail.
		{"SlowQueryAlarm", "slow-queries", "At least one SQL statement took longer than 1 s in 5 minutes (design: slow queries > 1 s).",
			data.SlowQueryCount, 1, atLeast, 1, 0, quiet},
		// Beyond the design.
		{"RunningTasksAlarm", "running-tasks", "Fewer tasks running than desired for 10 minutes (tasks crash or cannot be placed).",
			m.tasksMissing(), 0, above, 2, 0, dead},
		{"AlbElb5xxAlarm", "alb-5xx", "The load balancer itself answered more than 10 5xx in 5 minutes (no healthy target, timeouts).",
			m.alb("HTTPCode_ELB_5XX_Count", "Sum"), 10, above, 1, 0, quiet},
		{"RdsFreeStorageAlarm", "rds-free-storage", "Less than 10 % of the allocated database storage is free.",
			m.rds("FreeStorageSpace", "Minimum"), float64(data.AllocatedStorageGiB) * 0.1 * 1024 * 1024 * 1024, below, 1, 0, dead},
		{"CacheCpuAlarm", "cache-cpu", "Valkey engine CPU above 80 % on a node.",
			m.cacheMax("EngineCPUUtilization"), 80, above, 1, 0, dead},
		{"CacheMemoryAlarm", "cache-memory", "Valkey memory above 80 % on a node: evictions are next.",
			m.cacheMax("DatabaseMemoryUsagePercentage"), 80, above, 1, 0, dead},
		{"CacheEvictionsAlarm", "cache-evictions", "Valkey evicted more than 100 keys in 5 minutes: the node is too small.",
			m.cacheMax("Evictions"), 100, above, 1, 0, quiet},
	}
	if data.BurstableClass {
		specs = append(specs, alarmSpec{"RdsCpuCreditsAlarm", "rds-cpu-credits",
			"Burstable database below 20 CPU credits: it is about to be throttled to its baseline.",
			m.rds("CPUCreditBalance", "Minimum"), 20, below, 1, 0, dead})
	}
	return specs
}

// routeEvents sends what alarms cannot see to the topic: ECS deployment failures and rollbacks, RDS
// failovers and storage events, and the state changes of compute's deployment alarms (compute owns them,
// so their actions cannot point here without a cycle).
func routeEvents(stack awscdk.Stack, topic awssns.Topic, data *DataStack, compute *ComputeStack) {
	target := &alarmTopicTarget{topic}
	rules := map[string]*awsevents.EventPattern{
		"EcsDeploymentEvents": {
			Source: jsii.Strings("aws.ecs"), DetailType: jsii.Strings("ECS Deployment State Change"),
			Resources: jsii.Strings(*compute.BackendService.Service().ServiceArn()),
			Detail:    &map[string]interface{}{"eventName": []string{"SERVICE_DEPLOYMENT_FAILED"}},
		},
		"RdsEvents": {
			Source: jsii.Strings("aws.rds"), DetailType: jsii.Strings("RDS DB Instance Event"),
			Detail: &map[string]interface{}{"SourceIdentifier": []string{data.DatabaseInstanceID},
				"EventCategories": []string{"failover", "failure", "low storage"}},
		},
		"DeploymentAlarmEvents": {
			Source: jsii.Strings("aws.cloudwatch"), DetailType: jsii.Strings("CloudWatch Alarm State Change"),
			Resources: jsii.Strings(*compute.ErrorRateAlarm.AlarmArn(), *compute.UnhealthyHostsAlarm.AlarmArn()),
			Detail:    &map[string]interface{}{"state": map[string]interface{}{"value": []string{"ALARM", "OK"}}},
		},
	}
	for _, id := range sortedKeys(rules) {
		awsevents.NewRule(stack, jsii.String(id), &awsevents.RuleProps{EventPattern: rules[id],
			Targets: &[]awsevents.IRuleTarget{target}})
	}
}

// alarmTopicTarget sends a rule's events to the alarm topic. aws-events-targets' SnsTopic would do the same, and
// also grant events.amazonaws.com the topic's key without a condition (Topic.grantPublish), in the stage key's
// policy, which admits EventBridge for the alarm topic only (stagekey.go). The topic's policy admits EventBridge
// itself (newAlarmTopic).
type alarmTopicTarget struct{ topic awssns.ITopic }

func (a *alarmTopicTarget) Bind(_ interfacesawsevents.IRuleRef, _ *string) *awsevents.RuleTargetConfig {
	return &awsevents.RuleTargetConfig{Arn: a.topic.TopicArn(), TargetResource: a.topic}
}

// newBudget alerts on the stage's monthly cost, split by the Stage cost allocation tag (README: activate it).
func newBudget(stack awscdk.Stack, cfg *config.Config, topic awssns.Topic) {
	notify := func(kind string, percent float64) interface{} {
		return &awsbudgets.CfnBudget_NotificationWithSubscribersProperty{
			Notification: &awsbudgets.CfnBudget_NotificationProperty{NotificationType: jsii.String(kind),
				ComparisonOperator: jsii.String("GREATER_THAN"), Threshold: jsii.Number(percent), ThresholdType: jsii.String("PERCENTAGE")},
			Subscribers: []interface{}{&awsbudgets.CfnBudget_SubscriberProperty{SubscriptionType: jsii.String("SNS"), Address: topic.TopicArn()}},
		}
	}
	awsbudgets.NewCfnBudget(stack, jsii.String("MonthlyBudget"), &awsbudgets.CfnBudgetProps{
		Budget: &awsbudgets.CfnBudget_BudgetDataProperty{
			BudgetName:  jsii.String(Names{cfg.Stage}.Resource("monthly")),
			BudgetType:  jsii.String("COST"),
			TimeUnit:    jsii.String("MONTHLY"),
			BudgetLimit: &awsbudgets.CfnBudget_SpendProperty{Amount: jsii.Number(float64(cfg.MonthlyBudgetUSD)), Unit: jsii.String("USD")},
			// A user-defined cost allocation tag filters as user:<key>$<value> (Cost Management user guide, "Budget
			// filters"; hashicorp/terraform-provider-aws#40987): the spend of this stage's resources only.
			CostFilters: map[string]interface{}{"TagKeyValue": []string{"user:Stage$" + cfg.Stage}},
		},
		// Early warning on the forecast, certainty on the actual spend.
		NotificationsWithSubscribers: &[]interface{}{notify("FORECASTED", 80), notify("ACTUAL", 100)},
	})
}
