package stacks

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecspatterns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"

	"h2o-infra/config"
)

// How a release replaces the running one, chosen together (modelled by `make timing`, docs/performance.md):
//
//   - ECS's canary strategy (ECS developer guide, "Amazon ECS canary deployments"): ECS starts the new tasks
//     beside the old ones in the alternate target group, moves canaryPercent of the requests to them for
//     canaryBakeMinutes, then all of them, and keeps the old tasks deployBakeMinutes more. An alarm in that time
//     moves the traffic back to the old tasks, which still run: no relaunch. A rolling deploy sends every request
//     to the new tasks as soon as they are healthy, and a rollback must start the old ones again.
//   - New tasks get healthCheckGraceSeconds (G) to boot. The ALB checks every 10 s and needs G/10+2 failures in
//     a row to mark a target unhealthy, so a normal start never shows as unhealthy; two passing checks put it in
//     service. ECS's grace period only makes the ECS scheduler ignore the verdict (ECS API reference,
//     "healthCheckGracePeriodSeconds"); the ALB checks from registration on (ALB user guide, "Health checks for
//     Application Load Balancer target groups"), so a long grace alone would not stop the unhealthy-hosts alarm.
//   - The deployment alarms use one 1-minute datapoint: they detect within a minute plus the metric's lag
//     (internal/timing MetricLagSeconds), inside the canary bake. During a deploy a false alarm costs a rollback
//     of a good release; a late one lets a bad release take every request.
const (
	deployAlarmPeriodSeconds     = 60
	deployAlarmDatapoints        = 1 // M: breaching minutes needed
	deployAlarmEvaluationPeriods = 1 // N: minutes looked at
	healthCheckIntervalSeconds   = 10
	healthyThreshold             = 2
)

// unhealthyThreshold is the ALB's failed checks in a row before a target is unhealthy. The first check comes at
// registration and a booting app refuses the connection at once (an error while connecting fails the check: ALB
// API reference, "TargetHealth", Target.FailedHealthChecks), so the last of them fails (threshold − 1) ×
// interval later at the earliest: (G/10 + 1) × 10 s, always past a normal start (the grace period G).
func unhealthyThreshold(cfg *config.Config) int {
	return cfg.HealthCheckGraceSeconds/healthCheckIntervalSeconds + 2
}

// configureTargetGroup gives a target group of the service its health check and drain; both of the service's
// groups get the same, as each in turn holds the live tasks.
func configureTargetGroup(tg awselasticloadbalancingv2.ApplicationTargetGroup, cfg *config.Config, timeouts RequestTimeouts) {
	tg.ConfigureHealthCheck(&awselasticloadbalancingv2.HealthCheck{
		Path: jsii.String("/health"), HealthyHttpCodes: jsii.String("200"),
		Interval:              awscdk.Duration_Seconds(jsii.Number(healthCheckIntervalSeconds)),
		Timeout:               awscdk.Duration_Seconds(jsii.Number(5)),
		HealthyThresholdCount: jsii.Number(healthyThreshold), UnhealthyThresholdCount: jsii.Number(float64(unhealthyThreshold(cfg))),
	})
	// A request in flight when a deploy or scale-in removes its task gets as long as any request may take.
	tg.SetAttribute(jsii.String("deregistration_delay.timeout_seconds"), jsii.String(fmt.Sprint(timeouts.Drain)))
}

// configureCircuitBreaker makes the circuit breaker fail (and roll back) a release after the stage's
// deployFailureThreshold failed tasks, instead of ECS's default of half the desired count but at least 3 (ECS API
// reference, "ThresholdConfiguration": COUNT uses the value itself, BOUNDED_PERCENT clamps to 3..200). With at
// most minTasks failures a crash loop fails within the first tasks ECS starts (make timing: "crash loop rolled
// back"). Failures add up over the deployment (ResetOnHealthyTask false; the default true restarts the count at
// every healthy task: API reference, "DeploymentCircuitBreaker"), so a release where only some tasks crash fails
// too. The L2 does not expose either field (aws-cdk-lib 2.276); the L1 has both since 2.262 (CfnService
// DeploymentCircuitBreakerProperty): set through an override of the service's DeploymentConfiguration. An
// override is written as given, so its keys are CloudFormation's ("Type", "Value"): the L1 property struct would
// render jsii's camelCase ("type", "value"), which CloudFormation rejects.
//
// Whether the breaker acts under the CANARY strategy is documented both ways (unverified; docs/performance.md,
// "Unverified"): the ECS API reference says "The deployment circuit breaker can only be used for services using the
// rolling update (ECS) deployment type" (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeploymentCircuitBreaker.html,
// also CloudFormation's AWS::ECS::Service DeploymentCircuitBreaker), while the developer guide's "Amazon ECS deployment
// failure detection" says both the circuit breaker and CloudWatch alarms "only support rolling update deployment and
// blue/green deployment types" (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-failure-detection.html),
// and AWS's canary announcement names only alarms and lifecycle hooks ("Gradual deployments in Amazon ECS with linear
// and canary strategies", AWS Containers blog). make timing assumes the breaker applies (the API's "(ECS)" read as the
// deployment controller, which CANARY uses) and shows beside it what the unhealthy-hosts deployment alarm alone gives.
func configureCircuitBreaker(svc awsecspatterns.ApplicationLoadBalancedFargateService, cfg *config.Config) {
	service := svc.Service().Node().DefaultChild().(awsecs.CfnService)
	service.AddPropertyOverride(jsii.String("DeploymentConfiguration.DeploymentCircuitBreaker.ThresholdConfiguration"),
		map[string]interface{}{"Type": "COUNT", "Value": cfg.DeployFailureThreshold})
	service.AddPropertyOverride(jsii.String("DeploymentConfiguration.DeploymentCircuitBreaker.ResetOnHealthyTask"), jsii.Bool(false))
}

// canaryDeployments switches the service to ECS's canary strategy. ApplicationLoadBalancedFargateService has no
// props for it (aws/aws-cdk#35467 asks for them), so this adds what ECS needs beside the pattern's listener and
// target group (ECS developer guide, "Application Load Balancer resources for blue/green, linear, and canary
// deployments"; CloudFormation "AWS::ECS::Service AdvancedConfiguration"): an alternate target group, the
// production listener rule whose weights ECS moves, and a role that lets ECS move them (AWS's managed
// AmazonECSInfrastructureRolePolicyForLoadBalancers, which aws-cdk-lib's own ecs.AlternateTarget attaches); then
// sets the strategy and the service's load balancer through overrides of the L1.
//
// The rule forwards to both groups (primary 100, alternate 0): a target group must be behind a listener before a
// service can use it (aws/aws-cdk#34290). ECS rewrites the weights on every deploy, so the template's weights are
// only the first deploy's truth: CloudFormation must never update the rule afterwards, or it moves the traffic
// back to the group it names whether tasks are there or not (aws/aws-cdk#36649). CloudFormation updates only
// resources whose template changed, so nothing in the rule may depend on a setting: it names the listener and the
// two groups and nothing else (TestProductionRuleSurvivesInfrastructureChanges holds it).
func canaryDeployments(stack awscdk.Stack, cfg *config.Config, network *NetworkStack, svc awsecspatterns.ApplicationLoadBalancedFargateService,
	timeouts RequestTimeouts) awselasticloadbalancingv2.ApplicationTargetGroup {
	primary := svc.TargetGroup()
	alternate := awselasticloadbalancingv2.NewApplicationTargetGroup(stack, jsii.String("AlternateTargetGroup"), &awselasticloadbalancingv2.ApplicationTargetGroupProps{
		Vpc: network.Vpc, TargetType: awselasticloadbalancingv2.TargetType_IP,
		Port: jsii.Number(80), Protocol: awselasticloadbalancingv2.ApplicationProtocol_HTTP, // as the pattern's group: ECS registers each task at its container port
	})
	configureTargetGroup(alternate, cfg, timeouts)
	rule := awselasticloadbalancingv2.NewApplicationListenerRule(stack, jsii.String("ProductionRule"), &awselasticloadbalancingv2.ApplicationListenerRuleProps{
		Listener: svc.Listener(), Priority: jsii.Number(1),
		Conditions: &[]awselasticloadbalancingv2.ListenerCondition{awselasticloadbalancingv2.ListenerCondition_PathPatterns(jsii.Strings("/*"))},
		Action: awselasticloadbalancingv2.ListenerAction_WeightedForward(&[]*awselasticloadbalancingv2.WeightedTargetGroup{
			{TargetGroup: primary, Weight: jsii.Number(100)}, {TargetGroup: alternate, Weight: jsii.Number(0)}}, nil),
	})
	// No tags either: the stage's tags would make every new tag an update of the rule (and cfn-lint 1.51's schema
	// has no Tags on a listener rule); a rule costs nothing to allocate.
	rule.Node().DefaultChild().(awscdk.CfnResource).AddPropertyDeletionOverride(jsii.String("Tags"))
	role := awsiam.NewRole(stack, jsii.String("TrafficShiftRole"), &awsiam.RoleProps{
		AssumedBy:       awsiam.NewServicePrincipal(jsii.String("ecs.amazonaws.com"), nil),
		Description:     jsii.String("Lets ECS move the backend's production traffic between its target groups during canary deploys"),
		ManagedPolicies: &[]awsiam.IManagedPolicy{awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("AmazonECSInfrastructureRolePolicyForLoadBalancers"))},
	})
	suppress(role, map[string]string{"AwsSolutions-IAM4": "ECS's infrastructure role for load balancers: AWS's managed " +
		"AmazonECSInfrastructureRolePolicyForLoadBalancers tracks the Elastic Load Balancing calls ECS makes to shift traffic " +
		"(aws-cdk-lib's ecs.AlternateTarget attaches the same)."})
	service := svc.Service().Node().DefaultChild().(awsecs.CfnService)
	service.AddPropertyOverride(jsii.String("LoadBalancers.0.AdvancedConfiguration"), map[string]interface{}{
		"AlternateTargetGroupArn": alternate.TargetGroupArn(), "ProductionListenerRule": rule.ListenerRuleArn(), "RoleArn": role.RoleArn()})
	service.AddPropertyOverride(jsii.String("DeploymentConfiguration.Strategy"), "CANARY")
	service.AddPropertyOverride(jsii.String("DeploymentConfiguration.CanaryConfiguration"), map[string]interface{}{
		"CanaryPercent": cfg.CanaryPercent, "CanaryBakeTimeInMinutes": cfg.CanaryBakeMinutes})
	service.AddPropertyOverride(jsii.String("DeploymentConfiguration.BakeTimeInMinutes"), cfg.DeployBakeMinutes)
	// The service starts only once the rule puts the alternate group behind the listener.
	svc.Service().Node().AddDependency(rule)
	return alternate
}

// deploymentAlarms are the alarms ECS rolls a deployment back on: the error rate of each target group by itself
// (canaryErrorRate: the canary's requests are judged apart from the old tasks', wherever each lands) and unhealthy
// targets in either group.
func deploymentAlarms(stack awscdk.Stack, cfg *config.Config, svc awsecspatterns.ApplicationLoadBalancedFargateService,
	alternate awselasticloadbalancingv2.ApplicationTargetGroup) (awscloudwatch.Alarm, awscloudwatch.Alarm, alarmSpecs) {
	// Built in the stack that owns the ALB, from its full names.
	m := albMetrics{svc.LoadBalancer().LoadBalancerFullName(), svc.TargetGroup().TargetGroupFullName()}
	other := albMetrics{m.loadBalancer, alternate.TargetGroupFullName()}
	minute := awscdk.Duration_Seconds(jsii.Number(deployAlarmPeriodSeconds))
	// Minimum across the load balancer's nodes: one node's momentary view does not count ("The Minimum and
	// Maximum statistics reflect the minimum and maximum reported by the individual load balancer nodes":
	// ALB user guide, "CloudWatch metrics for your Application Load Balancer"). A group without targets publishes
	// nothing: 0.
	unhealthy := awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Label: jsii.String("unhealthy targets (either target group)"), Period: minute,
		Expression: jsii.String("MAX([FILL(primary, 0), FILL(alternate, 0)])"),
		UsingMetrics: &map[string]awscloudwatch.IMetric{
			"primary": m.target("UnHealthyHostCount", "Minimum"), "alternate": other.target("UnHealthyHostCount", "Minimum")},
	})
	// No traffic is not an outage; an idle ALB publishes no datapoint.
	errorRate := canaryErrorRate(m.loadBalancer, []*string{m.targetGroup, other.targetGroup}, minute, cfg.ErrorRateMinRequests)
	specs := alarmSpecs{
		{"ErrorRateAlarm", "error-rate", fmt.Sprintf("More than 1 %% of the API requests of either target group (the canary's "+
			"or the old tasks') failed with 5xx in %d of %d minutes (design threshold; a group is ignored under %d requests a "+
			"minute); rolls back ECS deployments.", deployAlarmDatapoints, deployAlarmEvaluationPeriods, cfg.ErrorRateMinRequests), errorRate,
			1, above, deployAlarmEvaluationPeriods, deployAlarmDatapoints, notBreached},
		{"UnhealthyHostsAlarm", "unhealthy-hosts", fmt.Sprintf("A backend task was out of service "+
			"(failed the ALB health check) in %d of %d minutes; rolls back ECS deployments.", deployAlarmDatapoints, deployAlarmEvaluationPeriods),
			unhealthy, 1, atLeast, deployAlarmEvaluationPeriods, deployAlarmDatapoints, notBreached},
	}
	errorAlarm, unhealthyAlarm := specs[0].create(stack, Names{cfg.Stage}), specs[1].create(stack, Names{cfg.Stage})
	// Plain names plus explicit dependencies: passing the alarm objects makes CDK warn about a possible cycle.
	svc.Service().EnableDeploymentAlarms(alarmNames(errorAlarm, unhealthyAlarm), &awsecs.DeploymentAlarmOptions{Behavior: awsecs.AlarmBehavior_ROLLBACK_ON_ALARM})
	svc.Service().Node().AddDependency(errorAlarm, unhealthyAlarm)
	return errorAlarm, unhealthyAlarm, specs
}

// alarmNames are the alarms' names, in the service's order (its deployment alarms; scripts/deploy.sh reads them
// through an output).
func alarmNames(alarms ...awscloudwatch.Alarm) *[]*string {
	names := make([]*string, len(alarms))
	for i, a := range alarms {
		names[i] = a.AlarmName()
	}
	return &names
}
