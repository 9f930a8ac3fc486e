package stacks

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecspatterns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/jsii-runtime-go"

	"h2o-infra/config"
	"h2o-infra/internal/timing"
)

// How a rolling deploy of the service behaves, chosen together (modelled by `make timing`, docs/performance.md):
//
//   - New tasks get healthCheckGraceSeconds (G) to boot. The ALB checks every 10 s and needs G/10+2 failures in
//     a row to mark a target unhealthy, so a normal start never shows as unhealthy; two passing checks put it in
//     service. ECS's grace period only makes the ECS scheduler ignore the verdict (ECS API reference,
//     "healthCheckGracePeriodSeconds"); the ALB checks from registration on (ALB user guide, "Health checks for
//     Application Load Balancer target groups"), so a long grace alone would not stop the unhealthy-hosts alarm.
//   - ECS watches the deployment alarms from the first new task and, after the old tasks are drained and
//     stopped, for a bake time it derives from the alarms (ECS developer guide, "How CloudWatch alarms detect
//     Amazon ECS deployment failures"; modelled as the longest Period × EvaluationPeriods).
//   - The alarms use 1-minute datapoints, 2 of 2 breaching: one bad minute is not enough, two are, and the bake
//     is 2 minutes instead of the 5 a 5-minute alarm costs every deploy.
//   - Detection takes deployAlarmDatapoints periods plus one for the metric to be published and the alarm to
//     evaluate it; the drain is long enough that it always ends inside ECS's window (drain + bake).
const (
	deployAlarmPeriodSeconds     = 60
	deployAlarmDatapoints        = 2 // M: breaching minutes needed
	deployAlarmEvaluationPeriods = 2 // N: minutes looked at; the bake time follows from it
	healthCheckIntervalSeconds   = 10
	healthyThreshold             = 2
)

// rolloutDrainSeconds is the least deregistration delay that keeps the error-rate alarm's detection inside
// ECS's bake window after traffic moves to the new tasks (with 5 s to spare).
func rolloutDrainSeconds() int {
	detection := deployAlarmDatapoints*deployAlarmPeriodSeconds + int(timing.MetricLagSeconds)
	bake := deployAlarmEvaluationPeriods * deployAlarmPeriodSeconds
	return detection - bake + 5
}

// unhealthyThreshold is the ALB's failed checks in a row before a target is unhealthy. The first check comes at
// registration and a booting app refuses the connection at once (an error while connecting fails the check: ALB
// API reference, "TargetHealth", Target.FailedHealthChecks), so the last of them fails (threshold − 1) ×
// interval later at the earliest: (G/10 + 1) × 10 s, always past a normal start (the grace period G).
func unhealthyThreshold(cfg *config.Config) int {
	return cfg.HealthCheckGraceSeconds/healthCheckIntervalSeconds + 2
}

func configureHealthCheck(svc awsecspatterns.ApplicationLoadBalancedFargateService, cfg *config.Config, timeouts RequestTimeouts) {
	svc.TargetGroup().ConfigureHealthCheck(&awselasticloadbalancingv2.HealthCheck{
		Path: jsii.String("/health"), HealthyHttpCodes: jsii.String("200"),
		Interval:              awscdk.Duration_Seconds(jsii.Number(healthCheckIntervalSeconds)),
		Timeout:               awscdk.Duration_Seconds(jsii.Number(5)),
		HealthyThresholdCount: jsii.Number(healthyThreshold), UnhealthyThresholdCount: jsii.Number(float64(unhealthyThreshold(cfg))),
	})
	// A request in flight when a deploy or scale-in removes its task gets as long as any request may take.
	svc.TargetGroup().SetAttribute(jsii.String("deregistration_delay.timeout_seconds"), jsii.String(fmt.Sprint(timeouts.Drain)))
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
func configureCircuitBreaker(svc awsecspatterns.ApplicationLoadBalancedFargateService, cfg *config.Config) {
	service := svc.Service().Node().DefaultChild().(awsecs.CfnService)
	service.AddPropertyOverride(jsii.String("DeploymentConfiguration.DeploymentCircuitBreaker.ThresholdConfiguration"),
		map[string]interface{}{"Type": "COUNT", "Value": cfg.DeployFailureThreshold})
	service.AddPropertyOverride(jsii.String("DeploymentConfiguration.DeploymentCircuitBreaker.ResetOnHealthyTask"), jsii.Bool(false))
}

func deploymentAlarms(stack awscdk.Stack, cfg *config.Config, svc awsecspatterns.ApplicationLoadBalancedFargateService) (awscloudwatch.Alarm, awscloudwatch.Alarm, alarmSpecs) {
	// Built in the stack that owns the ALB, from its full names.
	m := albMetrics{svc.LoadBalancer().LoadBalancerFullName(), svc.TargetGroup().TargetGroupFullName()}
	minute := awscdk.Duration_Seconds(jsii.Number(deployAlarmPeriodSeconds))
	// No traffic is not an outage; an idle ALB publishes no datapoint.
	specs := alarmSpecs{
		{"ErrorRateAlarm", "error-rate", fmt.Sprintf("More than 1 %% of API requests failed with 5xx in %d of %d minutes "+
			"(design threshold; ignored under %d requests a minute); rolls back ECS deployments.", deployAlarmDatapoints,
			deployAlarmEvaluationPeriods, cfg.ErrorRateMinRequests), m.errorRate(minute, cfg.ErrorRateMinRequests),
			1, above, deployAlarmEvaluationPeriods, deployAlarmDatapoints, notBreached},
		// Minimum across the load balancer's nodes: one node's momentary view does not count ("The Minimum and
		// Maximum statistics reflect the minimum and maximum reported by the individual load balancer nodes":
		// ALB user guide, "CloudWatch metrics for your Application Load Balancer").
		{"UnhealthyHostsAlarm", "unhealthy-hosts", fmt.Sprintf("A backend task was out of service "+
			"(failed the ALB health check) in %d of %d minutes; rolls back ECS deployments.", deployAlarmDatapoints, deployAlarmEvaluationPeriods),
			m.target("UnHealthyHostCount", "Minimum").With(&awscloudwatch.MetricOptions{Period: minute}),
			1, atLeast, deployAlarmEvaluationPeriods, deployAlarmDatapoints, notBreached},
	}
	errorAlarm, unhealthyAlarm := specs[0].create(stack, Names{cfg.Stage}), specs[1].create(stack, Names{cfg.Stage})
	// Plain names plus explicit dependencies: passing the alarm objects makes CDK warn about a possible cycle.
	svc.Service().EnableDeploymentAlarms(&[]*string{errorAlarm.AlarmName(), unhealthyAlarm.AlarmName()},
		&awsecs.DeploymentAlarmOptions{Behavior: awsecs.AlarmBehavior_ROLLBACK_ON_ALARM})
	svc.Service().Node().AddDependency(errorAlarm, unhealthyAlarm)
	return errorAlarm, unhealthyAlarm, specs
}
