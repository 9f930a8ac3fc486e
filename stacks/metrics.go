package stacks

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/jsii-runtime-go"

	"h2o-infra/config"
)

// fiveMinutes is the window of every alarm and dashboard metric: the design's "for 5 min". (A function: a
// jsii call at package initialization would start Node before main runs.)
func fiveMinutes() awscdk.Duration { return awscdk.Duration_Minutes(jsii.Number(5)) }

func newMetric(namespace, name, statistic string, dims map[string]*string) awscloudwatch.Metric {
	return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{Namespace: jsii.String(namespace), MetricName: jsii.String(name),
		Statistic: jsii.String(statistic), DimensionsMap: &dims, Period: fiveMinutes()})
}

// albMetrics are the load balancer's metrics, built from its full names rather than the L2 metric helpers
// (those render Fn::Split over a cross-stack value, which cfn-lint rejects).
type albMetrics struct{ loadBalancer, targetGroup *string }

func (a albMetrics) alb(name, statistic string) awscloudwatch.Metric {
	return newMetric("AWS/ApplicationELB", name, statistic, map[string]*string{"LoadBalancer": a.loadBalancer})
}

func (a albMetrics) target(name, statistic string) awscloudwatch.Metric {
	return newMetric("AWS/ApplicationELB", name, statistic,
		map[string]*string{"LoadBalancer": a.loadBalancer, "TargetGroup": a.targetGroup})
}

// canaryErrorRate is the error rate (%) ECS judges a deployment by: the worst of each target group's own rate
// and the load balancer's own 5xx rate, per period, each 0 below minRequests a minute (too little traffic to judge).
// Per target group, so a canary's errors are not diluted by the requests the old tasks answer well: during a canary
// only its share of the requests reaches the new group, and a whole-ALB rate would need the canary to fail
// 100 ÷ share times the threshold (make timing, "5xx release detected if").
//
// Which metrics exist per target group (dimension TargetGroup): HTTPCode_Target_5XX_Count, RequestCount and
// TargetConnectionErrorCount do; HTTPCode_ELB_5XX_Count (the ALB's own 502/503/504) has only the LoadBalancer and
// AvailabilityZone dimensions (ALB user guide, "CloudWatch metrics for your Application Load Balancer",
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html; the
// same dimension sets are in aws-cdk-lib 2.276's generated ApplicationELBMetrics, elasticloadbalancingv2-canned-
// metrics.generated.d.ts). What only the ALB answers (502 when a target refuses or drops the connection, 503 with no
// healthy target, 504 on a target timeout) is therefore a whole-load-balancer rate, diluted during a canary: the
// third term, over the requests of both groups (RequestCount "is only incremented for requests where the load
// balancer node was able to choose a target", same page: the load balancer's count is the two groups' sum, so it
// is not read again). A task that crashes under traffic also fails its health checks: the unhealthy-hosts alarm.
// Five metrics, each billed with the alarm (CloudWatch pricing: metric-math alarms per metric); an alarm's
// expression may reference at most 10 (CloudWatch user guide, "Limits that apply to alarms based on metric math
// expressions").
func canaryErrorRate(loadBalancer *string, groups []*string, period awscdk.Duration, minRequests int) awscloudwatch.MathExpression {
	minimum := float64(minRequests) * *period.ToSeconds(nil) / 60
	using := map[string]awscloudwatch.IMetric{}
	var rates, all []string
	for i, group := range groups {
		g := albMetrics{loadBalancer, group}
		req, t5xx := fmt.Sprintf("requests%d", i), fmt.Sprintf("target5xx%d", i)
		using[req], using[t5xx] = g.target("RequestCount", "Sum"), g.target("HTTPCode_Target_5XX_Count", "Sum")
		rates = append(rates, fmt.Sprintf("IF(FILL(%s, 0) >= %g, 100 * FILL(%s, 0) / FILL(%s, 0), 0)", req, minimum, t5xx, req))
		all = append(all, fmt.Sprintf("FILL(%s, 0)", req))
	}
	using["elb5xx"] = albMetrics{loadBalancer, nil}.alb("HTTPCode_ELB_5XX_Count", "Sum")
	judged := "(" + strings.Join(append(all, "FILL(elb5xx, 0)"), " + ") + ")"
	rates = append(rates, fmt.Sprintf("IF(%s >= %g, 100 * FILL(elb5xx, 0) / %s, 0)", judged, minimum, judged))
	return awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Label: jsii.String("5xx error rate (%), worst target group"), Period: period,
		Expression: jsii.String("MAX([" + strings.Join(rates, ", ") + "])"), UsingMetrics: &using,
	})
}

// stageMetrics names every metric observability watches, from what the producing stacks export: the service's
// and database's names, the cache's nodes, the load balancer's and distribution's generated ids.
type stageMetrics struct {
	albMetrics
	// alternateGroup is the service's second target group, which holds the live tasks after every other canary
	// deploy (rollout.go): what the dashboard shows of the targets follows both.
	alternateGroup             *string
	cluster, service, database string
	cacheNodes                 []string
	distributionID             *string
	// The backend's own metric (embedded metric format), dimension Stage=<stage>: observability's settings.
	stage, aiNamespace, aiMetric string
}

func newStageMetrics(cfg *config.Config, data *DataStack, compute *ComputeStack, edge *EdgeStack) *stageMetrics {
	svc := compute.BackendService
	return &stageMetrics{
		albMetrics:     albMetrics{svc.LoadBalancer().LoadBalancerFullName(), svc.TargetGroup().TargetGroupFullName()},
		alternateGroup: compute.AlternateTargetGroup.TargetGroupFullName(),
		cluster:        compute.ClusterName, service: compute.ServiceName, database: data.DatabaseInstanceID,
		cacheNodes: data.Cache.NodeIDs, distributionID: edge.Distribution.DistributionId(),
		stage: cfg.Stage, aiNamespace: cfg.MetricsNamespace, aiMetric: cfg.AIDurationMetric,
	}
}

func (m *stageMetrics) serviceDims() map[string]*string {
	return map[string]*string{"ClusterName": jsii.String(m.cluster), "ServiceName": jsii.String(m.service)}
}

func (m *stageMetrics) ecs(name, statistic string) awscloudwatch.Metric {
	return newMetric("AWS/ECS", name, statistic, m.serviceDims())
}

func (m *stageMetrics) insights(name, statistic string) awscloudwatch.Metric {
	return newMetric("ECS/ContainerInsights", name, statistic, m.serviceDims())
}

// tasksMissing is desired minus running tasks (Container Insights).
func (m *stageMetrics) tasksMissing() awscloudwatch.MathExpression {
	return awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Label: jsii.String("tasks missing"), Period: fiveMinutes(), Expression: jsii.String("desired - running"),
		UsingMetrics: &map[string]awscloudwatch.IMetric{
			"desired": m.insights("DesiredTaskCount", "Maximum"), "running": m.insights("RunningTaskCount", "Minimum")},
	})
}

func (m *stageMetrics) rds(name, statistic string) awscloudwatch.Metric {
	return newMetric("AWS/RDS", name, statistic, map[string]*string{"DBInstanceIdentifier": jsii.String(m.database)})
}

func (m *stageMetrics) cacheNode(name, node string) awscloudwatch.Metric {
	statistic := "Maximum"
	if name == "Evictions" { // a count per period, not a level
		statistic = "Sum"
	}
	return newMetric("AWS/ElastiCache", name, statistic, map[string]*string{"CacheClusterId": jsii.String(node)})
}

// cacheMax is the worst node of the replication group, so a failover (primary moving) changes nothing.
func (m *stageMetrics) cacheMax(name string) awscloudwatch.MathExpression {
	using := map[string]awscloudwatch.IMetric{}
	var ids []string
	for i, node := range m.cacheNodes {
		id := fmt.Sprintf("n%d", i)
		using[id] = m.cacheNode(name, node)
		ids = append(ids, id)
	}
	return awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Label: jsii.String(name + " (worst node)"), Period: fiveMinutes(), UsingMetrics: &using,
		Expression: jsii.String("MAX([" + strings.Join(ids, ", ") + "])"),
	})
}

func (m *stageMetrics) cloudfront(name, statistic string) awscloudwatch.Metric {
	return newMetric("AWS/CloudFront", name, statistic,
		map[string]*string{"DistributionId": m.distributionID, "Region": jsii.String("Global")})
}

// aiDuration is the backend's own metric (embedded metric format), dimension Stage=<stage>.
func (m *stageMetrics) aiDuration(statistic string) awscloudwatch.Metric {
	return newMetric(m.aiNamespace, m.aiMetric, statistic, map[string]*string{"Stage": jsii.String(m.stage)})
}
