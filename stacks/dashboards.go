package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/jsii-runtime-go"

	"h2o-infra/config"
)

// graph is a 12-wide line chart; lines mark the thresholds that matter for it (scaling targets, alarms).
func graph(title string, metrics []awscloudwatch.IMetric, lines map[string]float64) awscloudwatch.IWidget {
	var annotations []*awscloudwatch.HorizontalAnnotation
	for _, label := range sortedKeys(lines) {
		annotations = append(annotations, &awscloudwatch.HorizontalAnnotation{Label: jsii.String(label), Value: jsii.Number(lines[label])})
	}
	return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{Title: jsii.String(title), Left: &metrics,
		LeftAnnotations: &annotations, Width: jsii.Number(12), Height: jsii.Number(6)})
}

func labeled(metric awscloudwatch.Metric, label, statistic string) awscloudwatch.IMetric {
	return metric.With(&awscloudwatch.MetricOptions{Label: jsii.String(label), Statistic: jsii.String(statistic)})
}

// newDashboards builds the design's three dashboards (ECS, RDS, application) for one stage; the cache sits
// with the database, CloudFront with the application.
func newDashboards(stack awscdk.Stack, cfg *config.Config, m *stageMetrics, data *DataStack, compute *ComputeStack, alarms alarmSpecs) []awscloudwatch.Dashboard {
	cpu, mem := m.ecs("CPUUtilization", "Average"), m.ecs("MemoryUtilization", "Average")
	ecs := [][]awscloudwatch.IWidget{{
		graph("ECS CPU utilization (%)", []awscloudwatch.IMetric{labeled(cpu, "average", "Average"), labeled(cpu, "max", "Maximum")},
			map[string]float64{"scaling target": cpuTarget, "alarm": alarms.threshold("ecs-cpu")}),
		graph("ECS memory utilization (%)", []awscloudwatch.IMetric{labeled(mem, "average", "Average"), labeled(mem, "max", "Maximum")},
			map[string]float64{"scaling target": memoryTarget, "alarm": alarms.threshold("ecs-memory")}),
	}, {
		graph("Tasks: running vs desired", []awscloudwatch.IMetric{m.insights("RunningTaskCount", "Average"), m.insights("DesiredTaskCount", "Average")},
			map[string]float64{"min tasks": float64(compute.MinTasks), "max tasks": float64(compute.MaxTasks)}),
	}}

	cacheNodes := func(name string) []awscloudwatch.IMetric {
		var out []awscloudwatch.IMetric
		for _, node := range m.cacheNodes {
			out = append(out, m.cacheNode(name, node))
		}
		return out
	}
	rds := [][]awscloudwatch.IWidget{{
		graph("DB connections", []awscloudwatch.IMetric{m.rds("DatabaseConnections", "Maximum")}, map[string]float64{"alarm": alarms.threshold("rds-connections")}),
		graph("DB read/write latency (s)", []awscloudwatch.IMetric{m.rds("ReadLatency", "Average"), m.rds("WriteLatency", "Average")}, nil),
	}, {
		graph("DB CPU (%)", []awscloudwatch.IMetric{m.rds("CPUUtilization", "Average")}, nil),
		graph("DB CPU credit balance (burstable t4g)", []awscloudwatch.IMetric{m.rds("CPUCreditBalance", "Minimum")}, creditLine(alarms, data)),
	}, {
		graph("DB free storage (bytes)", []awscloudwatch.IMetric{m.rds("FreeStorageSpace", "Minimum")}, nil),
		graph("DB freeable memory (bytes)", []awscloudwatch.IMetric{m.rds("FreeableMemory", "Minimum")}, nil),
	}, {
		graph("Slow queries (> 1 s)", []awscloudwatch.IMetric{data.SlowQueryCount,
			labeled(data.SlowQueryDuration, "avg duration (ms)", "Average")}, nil),
		graph("Cache engine CPU (%)", cacheNodes("EngineCPUUtilization"), map[string]float64{"alarm": alarms.threshold("cache-cpu")}),
	}, {
		graph("Cache memory used (%)", cacheNodes("DatabaseMemoryUsagePercentage"), map[string]float64{"alarm": alarms.threshold("cache-memory")}),
		graph("Cache evictions and connections", append(cacheNodes("Evictions"), cacheNodes("CurrConnections")...), nil),
	}}

	latency := m.alb("TargetResponseTime", "p50")
	ai := m.aiDuration("p50")
	app := [][]awscloudwatch.IWidget{{
		graph("ALB requests", []awscloudwatch.IMetric{m.alb("RequestCount", "Sum")}, nil),
		graph("API latency (s)", []awscloudwatch.IMetric{labeled(latency, "p50", "p50"), labeled(latency, "p90", "p90"), labeled(latency, "p99", "p99")}, nil),
	}, {
		graph("4xx / 5xx responses", []awscloudwatch.IMetric{m.alb("HTTPCode_Target_4XX_Count", "Sum"),
			m.alb("HTTPCode_Target_5XX_Count", "Sum"), m.alb("HTTPCode_ELB_5XX_Count", "Sum")}, nil),
		// What the error-rate deployment alarm judges (each target group by itself, and the load balancer's own 5xx),
		// over 5 minutes.
		graph("Error rate, worst of each target group and the ALB's own 5xx (%)", []awscloudwatch.IMetric{canaryErrorRate(m.loadBalancer,
			[]*string{m.targetGroup, m.alternateGroup}, fiveMinutes(), compute.ErrorRateMinRequests)},
			map[string]float64{"alarm": compute.DeploymentAlarms.threshold("error-rate")}),
	}, {
		graph("Healthy / unhealthy tasks (both target groups)", []awscloudwatch.IMetric{
			labeled(m.target("HealthyHostCount", "Minimum"), "healthy (primary)", "Minimum"),
			labeled(m.target("UnHealthyHostCount", "Maximum"), "unhealthy (primary)", "Maximum"),
			labeled(albMetrics{m.loadBalancer, m.alternateGroup}.target("HealthyHostCount", "Minimum"), "healthy (alternate)", "Minimum"),
			labeled(albMetrics{m.loadBalancer, m.alternateGroup}.target("UnHealthyHostCount", "Maximum"), "unhealthy (alternate)", "Maximum")}, nil),
		graph("AI generation duration", []awscloudwatch.IMetric{labeled(ai, "p50", "p50"), labeled(ai, "p90", "p90"), labeled(ai, "p99", "p99")}, nil),
	}, {
		graph("CloudFront requests", []awscloudwatch.IMetric{m.cloudfront("Requests", "Sum")}, nil),
		graph("CloudFront error rate (%)", []awscloudwatch.IMetric{m.cloudfront("4xxErrorRate", "Average"), m.cloudfront("5xxErrorRate", "Average")}, nil),
	}}

	var out []awscloudwatch.Dashboard
	for _, d := range []struct {
		name string
		rows [][]awscloudwatch.IWidget
	}{{"ecs", ecs}, {"rds", rds}, {"application", app}} {
		var widgets []*[]awscloudwatch.IWidget
		for i := range d.rows {
			widgets = append(widgets, &d.rows[i])
		}
		out = append(out, awscloudwatch.NewDashboard(stack, jsii.String("Dashboard-"+d.name), &awscloudwatch.DashboardProps{
			DashboardName:   jsii.String(Names{cfg.Stage}.Dashboard(d.name)),
			Widgets:         &widgets,
			DefaultInterval: awscdk.Duration_Hours(jsii.Number(3)),
		}))
	}
	return out
}

// creditLine marks the CPU-credit alarm's threshold, which exists only for a burstable class.
func creditLine(alarms alarmSpecs, data *DataStack) map[string]float64 {
	if !data.BurstableClass {
		return nil
	}
	return map[string]float64{"alarm": alarms.threshold("rds-cpu-credits")}
}
