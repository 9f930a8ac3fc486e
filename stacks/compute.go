package stacks

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapplicationautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecspatterns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"h2o-infra/config"
)

// ComputeStack runs the backend: the cluster and the load-balanced Fargate service.
type ComputeStack struct {
	awscdk.Stack
	Cluster        awsecs.Cluster
	BackendService awsecspatterns.ApplicationLoadBalancedFargateService
	// AlternateTargetGroup is the service's second target group: ECS's canary deploys start the new tasks in
	// whichever of the two holds none, then move the traffic (rollout.go).
	AlternateTargetGroup awselasticloadbalancingv2.ApplicationTargetGroup
	// ClusterName and ServiceName name the service (its metrics' dimensions); MinTasks..MaxTasks are its
	// autoscaling bounds, and ScalesToZero says it has none running off hours.
	ClusterName, ServiceName string
	MinTasks, MaxTasks       int
	ScalesToZero             bool
	// Alarms the service rolls a deployment back on (and their specs); observability routes their state changes
	// to SNS. ErrorRateMinRequests is the traffic below which the error rate does not judge.
	ErrorRateAlarm, UnhealthyHostsAlarm awscloudwatch.Alarm
	DeploymentAlarms                    alarmSpecs
	ErrorRateMinRequests                int
	LogGroupName                        string
	// ImageTag is the deploy-time parameter holding the image tag the service runs; MigrationImageTag the one
	// MigrationTask runs, set first by a deploy (migrations before traffic).
	ImageTag, MigrationImageTag awscdk.CfnParameter
	MigrationTask               awsecs.FargateTaskDefinition
	// OriginHTTPS tells edge whether CloudFront reaches the ALB over HTTPS (only with a domain's certificate).
	OriginHTTPS bool
	// Timeouts is the chain of timeouts a request crosses; edge sets CloudFront's from it.
	Timeouts RequestTimeouts
}

// NewComputeStack builds the cluster and BackendService on the network and data layers.
func NewComputeStack(scope constructs.Construct, cfg *config.Config, network *NetworkStack, data *DataStack) *ComputeStack {
	stack := newLayerStack(scope, cfg, "compute", "ECS cluster and the backend Fargate service behind an internal ALB")
	n := Names{cfg.Stage}
	c := &ComputeStack{Stack: stack, LogGroupName: n.BackendLogs(), OriginHTTPS: cfg.DomainName != "",
		Timeouts: requestTimeouts(cfg), ClusterName: n.Cluster(), ServiceName: n.Service(), MinTasks: cfg.MinTasks,
		MaxTasks: cfg.MaxTasks, ScalesToZero: cfg.ScaleDownCron != "", ErrorRateMinRequests: cfg.ErrorRateMinRequests}

	execLogs := newLogGroup(stack, "ExecSessionLogs", cfg, n.ExecLogs())
	c.Cluster = awsecs.NewCluster(stack, jsii.String("Cluster"), &awsecs.ClusterProps{
		ClusterName:                    jsii.String(c.ClusterName),
		Vpc:                            network.Vpc,
		ContainerInsightsV2:            awsecs.ContainerInsights_ENHANCED,
		EnableFargateCapacityProviders: jsii.Bool(true),
		// ECS Exec sessions are logged, so debugging in a container leaves an audit trail, into a group encrypted
		// with the stage key: the agent refuses to log into one that is not (ECS API reference,
		// "ExecuteCommandLogConfiguration": cloudWatchEncryptionEnabled).
		ExecuteCommandConfiguration: &awsecs.ExecuteCommandConfiguration{
			Logging: awsecs.ExecuteCommandLogging_OVERRIDE,
			LogConfiguration: &awsecs.ExecuteCommandLogConfiguration{CloudWatchLogGroup: execLogs,
				CloudWatchEncryptionEnabled: jsii.Bool(true)},
		},
	})

	tasks := newBackendTasks(stack, cfg, data, c.LogGroupName, c.Timeouts)
	c.ImageTag = imageTagParameter(stack, cfg, "ImageTag", "the backend service runs")
	c.MigrationImageTag = imageTagParameter(stack, cfg, "MigrationImageTag",
		"the migration task runs (a deploy sets it to the new image and migrates before the service switches)")
	task := tasks.serviceTask(c.ImageTag)
	c.MigrationTask = tasks.migrationTask(c.MigrationImageTag)
	// Egress is listed, not open: AWS APIs and the AI provider over HTTPS, the database and the cache.
	serviceSG := awsec2.NewSecurityGroup(stack, jsii.String("ServiceSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc: network.Vpc, AllowAllOutbound: jsii.Bool(false), Description: jsii.String("h2o backend tasks"),
	})
	serviceSG.AddEgressRule(awsec2.Peer_AnyIpv4(), awsec2.Port_Tcp(jsii.Number(443)),
		jsii.String("HTTPS to AWS APIs (ECR, Secrets Manager, logs) and the AI provider"), nil)
	alb := newLoadBalancer(stack, cfg, network, c.Timeouts)
	props := &awsecspatterns.ApplicationLoadBalancedFargateServiceProps{
		Cluster:              c.Cluster,
		ServiceName:          jsii.String(c.ServiceName),
		TaskDefinition:       task,
		DesiredCount:         jsii.Number(float64(cfg.MinTasks)),
		LoadBalancer:         alb,
		OpenListener:         jsii.Bool(false), // ingress is added below: only what CloudFront's VPC origin uses
		TaskSubnets:          network.AppSubnets,
		SecurityGroups:       &[]awsec2.ISecurityGroup{serviceSG},
		AssignPublicIp:       jsii.Bool(network.AppSubnetsArePublic),
		EnableExecuteCommand: jsii.Bool(true),
		// New tasks start before old ones stop (the canary strategy starts them all beside the old ones: rollout.go);
		// a deployment that never gets healthy is rolled back by the circuit breaker, one that hurts users by the
		// deployment alarms.
		MinHealthyPercent: jsii.Number(100),
		MaxHealthyPercent: jsii.Number(200),
		CircuitBreaker:    &awsecs.DeploymentCircuitBreaker{Enable: jsii.Bool(true), Rollback: jsii.Bool(true)},
		// ECS ignores the load balancer's verdict while a normal start may still be booting (rollout.go).
		HealthCheckGracePeriod:     awscdk.Duration_Seconds(jsii.Number(float64(cfg.HealthCheckGraceSeconds))),
		CapacityProviderStrategies: capacityStrategy(cfg),
		PropagateTags:              awsecs.PropagatedTagSource_SERVICE,
	}
	if c.OriginHTTPS {
		props.Certificate = awscertificatemanager.NewCertificate(stack, jsii.String("ApiCertificate"), &awscertificatemanager.CertificateProps{
			DomainName: jsii.String("api." + cfg.DomainName),
			Validation: awscertificatemanager.CertificateValidation_FromDns(hostedZone(stack, cfg)),
		})
		props.SslPolicy = awselasticloadbalancingv2.SslPolicy_RECOMMENDED_TLS // TLS 1.3 and 1.2 only
		// No port-80 redirect: only CloudFront reaches the load balancer, on 443 (admitCloudFront), so a redirect
		// would serve no one (and a listener without a certificate is a NIST 800-53 rev 5 ELBv2ACMCertificateRequired
		// finding); port 80 stays free for the listener that bridges the switch (bridgeHTTPOrigin).
	}
	svc := awsecspatterns.NewApplicationLoadBalancedFargateService(stack, jsii.String("BackendService"), props)
	c.BackendService = svc
	configureTargetGroup(svc.TargetGroup(), cfg, c.Timeouts)
	configureCircuitBreaker(svc, cfg)
	c.AlternateTargetGroup = canaryDeployments(stack, cfg, network, svc, c.Timeouts)
	// The ALB is internal: nothing on the internet can route to it; CloudFront's VPC origin is let in (origin.go).
	admitCloudFront(stack, cfg, network, c, alb)
	// Database and cache admit the service only; the rules live here (consumer side) so there is no cycle.
	svc.Service().Connections().AllowToDefaultPort(data.Database, jsii.String("backend to PostgreSQL"))
	svc.Service().Connections().AllowTo(data.Cache.SecurityGroup, awsec2.Port_Tcp(jsii.Number(float64(data.Cache.Port))),
		jsii.String("backend to Valkey"))
	tasks.grantTaskRole()
	allowStageSecretsDecrypt(stack, cfg, tasks.execRole, tasks.taskRole) // ECS injects the secrets; the app reads its keys
	autoscale(svc, cfg)
	c.ErrorRateAlarm, c.UnhealthyHostsAlarm, c.DeploymentAlarms = deploymentAlarms(stack, cfg, svc, c.AlternateTargetGroup)
	redeployOnSecretChange(stack, cfg, svc.Service(), data.TaskSecretArns())
	computeOutputs(stack, cfg, c, network, task)

	return c
}

// capacityStrategy keeps OnDemandBaseTasks on regular Fargate and, with FargateSpot, runs every task above
// that base on Fargate Spot (about 65 % cheaper; ECS replaces a task Spot takes back).
func capacityStrategy(cfg *config.Config) *[]*awsecs.CapacityProviderStrategy {
	if !cfg.FargateSpot {
		return &[]*awsecs.CapacityProviderStrategy{{CapacityProvider: jsii.String("FARGATE"), Weight: jsii.Number(1)}}
	}
	return &[]*awsecs.CapacityProviderStrategy{
		{CapacityProvider: jsii.String("FARGATE"), Base: jsii.Number(float64(cfg.OnDemandBaseTasks)), Weight: jsii.Number(0)},
		{CapacityProvider: jsii.String("FARGATE_SPOT"), Weight: jsii.Number(1)},
	}
}

// RequestTimeouts is the chain of timeouts a request crosses (seconds), set from requestTimeoutSeconds so that no
// hop gives up before the one in front of it (README, "Timeouts").
type RequestTimeouts struct {
	// Origin is CloudFront's origin response (read) timeout: the longest a request may take.
	Origin int
	// OriginKeepalive is how long CloudFront keeps an idle connection to the load balancer for reuse: its default,
	// 5 s (CloudFront API reference, "VpcOriginConfig").
	OriginKeepalive int
	// LoadBalancerIdle outlives both, so the ALB never closes a connection CloudFront is still waiting on or is
	// about to reuse (a 502/504 at the edge otherwise).
	LoadBalancerIdle int
	// Drain is the deregistration delay: a request that started just before a task leaves still finishes.
	Drain int
	// AppKeepalive is the backend's own keep-alive, longer than the ALB's idle timeout, as the ALB guide
	// recommends ("Connection idle timeout"): otherwise the app may close a connection the ALB reuses (502).
	AppKeepalive int
}

func requestTimeouts(cfg *config.Config) RequestTimeouts {
	t := cfg.RequestTimeoutSeconds
	return RequestTimeouts{Origin: t, OriginKeepalive: 5, LoadBalancerIdle: t + 5, Drain: t + 5, AppKeepalive: t + 10}
}

func newLoadBalancer(stack awscdk.Stack, cfg *config.Config, network *NetworkStack, timeouts RequestTimeouts) awselasticloadbalancingv2.ApplicationLoadBalancer {
	logs := newLogBucket(stack, "AlbLogBucket", cfg, "alb-logs", cfg.LogRetentionDays, false)
	alb := awselasticloadbalancingv2.NewApplicationLoadBalancer(stack, jsii.String("LoadBalancer"), &awselasticloadbalancingv2.ApplicationLoadBalancerProps{
		Vpc:            network.Vpc,
		InternetFacing: jsii.Bool(false),            // only CloudFront's VPC origin reaches it (edge stack)
		VpcSubnets:     network.LoadBalancerSubnets, // private in every stage (network.go, loadBalancerTier)
		// Requests with malformed headers are dropped instead of passed to the app (request smuggling).
		DropInvalidHeaderFields: jsii.Bool(true),
		DeletionProtection:      jsii.Bool(cfg.DeletionProtection),
		IdleTimeout:             awscdk.Duration_Seconds(jsii.Number(float64(timeouts.LoadBalancerIdle))),
	})
	alb.LogAccessLogs(logs, jsii.String("alb"))
	return alb
}

// imageTagParameter is a deploy-time parameter naming an image tag in ECR. It has no default on purpose: the CDK
// CLI reuses a stack's previous parameter value when a deploy does not pass one (`--previous-parameters`, on by
// default), so a deploy or `cdk diff` without a tag keeps the image the stage runs and the template never
// changes with the image; a first deploy without one stops before CloudFormation creates anything in the stack.
func imageTagParameter(stack awscdk.Stack, cfg *config.Config, id, what string) awscdk.CfnParameter {
	return awscdk.NewCfnParameter(stack, jsii.String(id), &awscdk.CfnParameterProps{
		Type: jsii.String("String"),
		Description: jsii.String(fmt.Sprintf("Tag in ECR %s of the image %s. Omit it to keep the current one; "+
			"the first deploy of a stage passes it: make deploy STAGE=%s IMAGE_TAG=<tag>.", cfg.RepositoryName, what, cfg.Stage)),
		AllowedPattern:        jsii.String(dockerTagPattern),
		ConstraintDescription: jsii.String("a Docker tag such as the commit SHA the pipeline pushed (letters, digits, _ . -, at most 128, not starting with . or -)"),
	})
}

// dockerTagPattern is what Docker accepts as a tag.
const dockerTagPattern = `^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`

func autoscale(svc awsecspatterns.ApplicationLoadBalancedFargateService, cfg *config.Config) {
	scaling := svc.Service().AutoScaleTaskCount(&awsapplicationautoscaling.EnableScalingProps{
		MinCapacity: jsii.Number(float64(cfg.MinTasks)), MaxCapacity: jsii.Number(float64(cfg.MaxTasks)),
	})
	// Scale out after a minute of load, scale in only after five quiet minutes, so a burst of AI generations
	// does not make the service flap.
	out, in := awscdk.Duration_Seconds(jsii.Number(60)), awscdk.Duration_Seconds(jsii.Number(300))
	scaling.ScaleOnCpuUtilization(jsii.String("Cpu"), &awsecs.CpuUtilizationScalingProps{
		TargetUtilizationPercent: jsii.Number(cpuTarget), ScaleOutCooldown: out, ScaleInCooldown: in})
	scaling.ScaleOnMemoryUtilization(jsii.String("Memory"), &awsecs.MemoryUtilizationScalingProps{
		TargetUtilizationPercent: jsii.Number(memoryTarget), ScaleOutCooldown: out, ScaleInCooldown: in})
	if cfg.ScaleDownCron != "" {
		zone := awscdk.TimeZone_Of(jsii.String(cfg.ScheduleTimeZone))
		scaling.ScaleOnSchedule(jsii.String("OffHours"), &awsapplicationautoscaling.ScalingSchedule{
			Schedule: awsapplicationautoscaling.Schedule_Expression(jsii.String(cfg.ScaleDownCron)), TimeZone: zone,
			MinCapacity: jsii.Number(0), MaxCapacity: jsii.Number(0)})
		scaling.ScaleOnSchedule(jsii.String("WorkingHours"), &awsapplicationautoscaling.ScalingSchedule{
			Schedule: awsapplicationautoscaling.Schedule_Expression(jsii.String(cfg.ScaleUpCron)), TimeZone: zone,
			MinCapacity: jsii.Number(float64(cfg.MinTasks)), MaxCapacity: jsii.Number(float64(cfg.MaxTasks))})
	}
}

// Autoscaling targets: below the design's 80 % CPU / 85 % memory alarms, so scaling acts before alarms fire.
const (
	cpuTarget    = 70
	memoryTarget = 80
)

func computeOutputs(stack awscdk.Stack, cfg *config.Config, c *ComputeStack, network *NetworkStack, task awsecs.FargateTaskDefinition) {
	assign := "DISABLED"
	if network.AppSubnetsArePublic {
		assign = "ENABLED"
	}
	subnets := network.Vpc.SelectSubnets(network.AppSubnets).SubnetIds
	outputs(stack, "for aws ecs run-task (scripts/migrate.sh) and the deploy scripts", map[string]*string{
		"ClusterName":                c.Cluster.ClusterName(),
		"ServiceName":                c.BackendService.Service().ServiceName(),
		"TaskDefinitionFamily":       task.Family(),
		"ContainerName":              jsii.String(containerName),
		"TaskSubnetIds":              awscdk.Fn_Join(jsii.String(","), subnets),
		"TaskSecurityGroupId":        (*c.BackendService.Service().Connections().SecurityGroups())[0].SecurityGroupId(),
		"AssignPublicIp":             jsii.String(assign),
		"LogGroupName":               jsii.String(c.LogGroupName),
		"MigrationTaskDefinitionArn": c.MigrationTask.TaskDefinitionArn(),
		// The service's two target groups: after each canary deploy the live tasks are in the other one.
		"TargetGroupArn":          c.BackendService.TargetGroup().TargetGroupArn(),
		"AlternateTargetGroupArn": c.AlternateTargetGroup.TargetGroupArn(),
		// The autoscaling bounds, which scripts/deploy.sh restores when it wakes a stage scaled to 0 off hours.
		"MinTasks": jsii.String(fmt.Sprint(cfg.MinTasks)),
		"MaxTasks": jsii.String(fmt.Sprint(cfg.MaxTasks)),
		// What ECS watches a deployment with, for scripts/deploy.sh: the deployment alarms (refused while one is in
		// ALARM, watched by the script itself with --hotfix) and the bakes after which ECS stops watching them.
		"DeploymentAlarmNames": awscdk.Fn_Join(jsii.String(","), alarmNames(c.ErrorRateAlarm, c.UnhealthyHostsAlarm)),
		"CanaryBakeMinutes":    jsii.String(fmt.Sprint(cfg.CanaryBakeMinutes)),
		"DeployBakeMinutes":    jsii.String(fmt.Sprint(cfg.DeployBakeMinutes)),
		// The one source the load balancer admits (origin.go); scripts/verify.sh checks it is CloudFront's list.
		"CloudFrontPrefixListId": jsii.String(cfg.CloudFrontPrefixListID),
	})
}
