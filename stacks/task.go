package stacks

import (
	"fmt"
	"maps"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecr"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"

	"h2o-infra/config"
)

// The backend's container contract (README, "Container contract"): what every task definition of the backend
// gives the image, whether it serves the API or runs the migrations.

const containerName = "backend"

// The images the tasks run besides the backend, each pinned to a release tag (never `latest`), from ECR Public (no
// Docker Hub pull limits). README, "Images besides the backend", says how to bump them and how to pin a digest
// (which needs the registry, so not here); TestEveryImageBesidesTheBackendIsPinned holds the rule.
const (
	// initImage prepares the scratch volumes: busybox from the ECR Public mirror of Docker official images, ~2 MB.
	initImage = "public.ecr.aws/docker/library/busybox:1.37.0"
	// collectorImage is the AWS Distro for OpenTelemetry collector (releases: aws-observability/aws-otel-collector,
	// v0.49.0 in #3220, 2026-07-10).
	collectorImage = "public.ecr.aws/aws-observability/aws-otel-collector:v0.49.0"
)

// scratchVolumes are the only writable paths of the read-only root filesystem: /tmp for the app, and the ECS
// Exec agent's directories.
var scratchVolumes = map[string]string{"tmp": "/tmp", "ssm-lib": "/var/lib/amazon/ssm",
	"ssm-log": "/var/log/amazon/ssm", "managed-agents": "/managed-agents"}

// backendTasks builds the two task definitions of the backend image: the service's, and the one-off migration
// task the deploy runs before the service switches images (scripts/deploy.sh). Both share the task and
// execution roles, so a migration reaches exactly what the service reaches.
type backendTasks struct {
	stack    awscdk.Stack
	cfg      *config.Config
	data     *DataStack
	repo     awsecr.IRepository
	logs     awslogs.LogGroup
	timeouts RequestTimeouts
	taskRole awsiam.Role
	execRole awsiam.Role
}

func newBackendTasks(stack awscdk.Stack, cfg *config.Config, data *DataStack, logGroupName string, timeouts RequestTimeouts) *backendTasks {
	b := &backendTasks{stack: stack, cfg: cfg, data: data, timeouts: timeouts,
		repo: awsecr.Repository_FromRepositoryName(stack, jsii.String("BackendRepository"), jsii.String(cfg.RepositoryName)),
		logs: newLogGroup(stack, "BackendLogs", cfg, logGroupName)}
	// Fixed names: the deploy role of h2o-ci may pass exactly these to a one-off migration task.
	b.taskRole = awsiam.NewRole(stack, jsii.String("BackendTaskRole"), &awsiam.RoleProps{
		RoleName:  jsii.String(Names{cfg.Stage}.BackendRole("task")),
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil),
	})
	b.execRole = awsiam.NewRole(stack, jsii.String("BackendExecutionRole"), &awsiam.RoleProps{
		RoleName:  jsii.String(Names{cfg.Stage}.BackendRole("execution")),
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil),
	})
	return b
}

// taskDefinition is an empty Fargate task definition of the backend's size and architecture.
func (b *backendTasks) taskDefinition(id, family string) awsecs.FargateTaskDefinition {
	arch := awsecs.CpuArchitecture_ARM64()
	if b.cfg.CPUArchitecture == config.ArchX8664 {
		arch = awsecs.CpuArchitecture_X86_64()
	}
	return awsecs.NewFargateTaskDefinition(b.stack, jsii.String(id), &awsecs.FargateTaskDefinitionProps{
		Family:         jsii.String(family),
		Cpu:            jsii.Number(float64(b.cfg.TaskCPU)),
		MemoryLimitMiB: jsii.Number(float64(b.cfg.TaskMemoryMiB)),
		RuntimePlatform: &awsecs.RuntimePlatform{
			CpuArchitecture: arch, OperatingSystemFamily: awsecs.OperatingSystemFamily_LINUX(),
		},
		TaskRole: b.taskRole, ExecutionRole: b.execRole,
	})
}

// serviceTask is the task definition the service runs: the backend listening on its port, with a container
// health check.
func (b *backendTasks) serviceTask(imageTag awscdk.CfnParameter) awsecs.FargateTaskDefinition {
	task := b.taskDefinition("BackendTask", Names{b.cfg.Stage}.TaskFamily())
	port := fmt.Sprint(b.cfg.ContainerPort)
	b.addBackend(task, imageTag, containerName, b.cfg.Tracing, &awsecs.ContainerDefinitionOptions{
		PortMappings: &[]*awsecs.PortMapping{{ContainerPort: jsii.Number(float64(b.cfg.ContainerPort))}},
		HealthCheck: &awsecs.HealthCheck{
			// The backend image is Python (alembic migrations), so python is there even where curl is not.
			Command:     jsii.Strings("CMD-SHELL", "python -c \"import urllib.request; urllib.request.urlopen('http://localhost:"+port+"/health', timeout=4)\" || exit 1"),
			Interval:    awscdk.Duration_Seconds(jsii.Number(30)),
			Timeout:     awscdk.Duration_Seconds(jsii.Number(5)),
			Retries:     jsii.Number(3),
			StartPeriod: awscdk.Duration_Seconds(jsii.Number(float64(b.cfg.HealthCheckGraceSeconds))),
		},
	})
	if b.cfg.Tracing {
		b.addCollector(task)
	}
	return task
}

// migrationTask is the one-off task that runs `alembic upgrade head` with the image the deploy is about to
// roll out; it exits with alembic's status.
func (b *backendTasks) migrationTask(imageTag awscdk.CfnParameter) awsecs.FargateTaskDefinition {
	task := b.taskDefinition("MigrationTask", Names{b.cfg.Stage}.MigrationFamily())
	b.addBackend(task, imageTag, "migrate", false, &awsecs.ContainerDefinitionOptions{
		Command: jsii.Strings("alembic", "upgrade", "head"),
	})
	return task
}

// addBackend adds the backend container (image from the tag parameter, settings, secrets, hardening, scratch
// volumes made writable by an init container) to task; traced says the task runs the OpenTelemetry collector;
// opts adds what differs per task.
func (b *backendTasks) addBackend(task awsecs.FargateTaskDefinition, imageTag awscdk.CfnParameter, logPrefix string,
	traced bool, opts *awsecs.ContainerDefinitionOptions) {
	secrets := map[string]awsecs.Secret{
		"DB_USERNAME":      awsecs.Secret_FromSecretsManager(b.data.Database.Secret(), jsii.String("username")),
		"DB_PASSWORD":      awsecs.Secret_FromSecretsManager(b.data.Database.Secret(), jsii.String("password")),
		"REDIS_AUTH_TOKEN": awsecs.Secret_FromSecretsManager(b.data.Cache.AuthSecret, nil),
	}
	for _, key := range b.cfg.AppSecretKeys { // each key's whole secret (appsecrets.go)
		secrets[key] = awsecs.Secret_FromSecretsManager(b.data.AppSecrets[key], nil)
	}
	opts.ContainerName = jsii.String(containerName)
	opts.Image = awsecs.ContainerImage_FromEcrRepository(b.repo, imageTag.ValueAsString())
	opts.Logging = awsecs.LogDrivers_AwsLogs(&awsecs.AwsLogDriverProps{StreamPrefix: jsii.String(logPrefix), LogGroup: b.logs})
	// Plain settings only; everything secret arrives through Secrets, resolved by ECS at start.
	opts.Environment = &map[string]*string{
		"STAGE": jsii.String(b.cfg.Stage), "PORT": jsii.String(fmt.Sprint(b.cfg.ContainerPort)),
		"WORKERS": jsii.String(fmt.Sprint(b.cfg.Workers)),
		"DB_HOST": b.data.Database.DbInstanceEndpointAddress(), "DB_PORT": b.data.Database.DbInstanceEndpointPort(),
		"DB_NAME": jsii.String(databaseName), "DB_SSLMODE": jsii.String("require"),
		"REDIS_HOST": b.data.Cache.Endpoint(), "REDIS_PORT": jsii.String(fmt.Sprint(b.data.Cache.Port)),
		"REDIS_TLS": jsii.String("true"), "PDF_BUCKET": b.data.PdfBucket.BucketName(),
		// The app server's worker timeout and keep-alive (README, "Container contract").
		"REQUEST_TIMEOUT_SECONDS": jsii.String(fmt.Sprint(b.timeouts.Origin)),
		"KEEPALIVE_SECONDS":       jsii.String(fmt.Sprint(b.timeouts.AppKeepalive)),
	}
	maps.Copy(*opts.Environment, otelEnvironment(b.cfg.Stage, traced))
	opts.Secrets = &secrets
	opts.User = optional(b.cfg.ContainerUser) // non-root; "" keeps the image's USER
	opts.ReadonlyRootFilesystem = jsii.Bool(true)
	opts.Privileged = jsii.Bool(false)
	backend := task.AddContainer(jsii.String(containerName), opts)

	// ECS creates bind-mount volumes owned by root with mode 0755 (ECS developer guide, "Bind mounts"), so a
	// non-root process cannot write them unless the image prepared the path. This init container opens them to
	// every user (mode 1777, like /tmp) and the backend starts only after it succeeded.
	init := task.AddContainer(jsii.String("volume-init"), &awsecs.ContainerDefinitionOptions{
		ContainerName:          jsii.String("volume-init"),
		Image:                  awsecs.ContainerImage_FromRegistry(jsii.String(initImage), nil),
		Essential:              jsii.Bool(false), // it exits when done
		User:                   jsii.String("0"), // only root may change a root-owned directory's mode
		ReadonlyRootFilesystem: jsii.Bool(true),
		Privileged:             jsii.Bool(false),
		Command:                jsii.Strings(append([]string{"chmod", "1777"}, scratchPaths()...)...),
		MemoryReservationMiB:   jsii.Number(16),
		Logging:                awsecs.LogDrivers_AwsLogs(&awsecs.AwsLogDriverProps{StreamPrefix: jsii.String("volume-init"), LogGroup: b.logs}),
	})
	backend.AddContainerDependencies(&awsecs.ContainerDependency{Container: init, Condition: awsecs.ContainerDependencyCondition_SUCCESS})
	for _, name := range sortedKeys(scratchVolumes) {
		task.AddVolume(&awsecs.Volume{Name: jsii.String(name)})
		for _, c := range []awsecs.ContainerDefinition{backend, init} {
			c.AddMountPoints(&awsecs.MountPoint{SourceVolume: jsii.String(name),
				ContainerPath: jsii.String(scratchVolumes[name]), ReadOnly: jsii.Bool(false)})
		}
	}
	suppress(task, map[string]string{
		"AwsSolutions-ECS2": "Only non-secret settings (stage, ports, hostnames, bucket name, timeouts) are plain environment variables; every credential is an ECS secret from Secrets Manager.",
	})
}

// scratchPaths are the mount paths of scratchVolumes, in a fixed order.
func scratchPaths() []string {
	var out []string
	for _, name := range sortedKeys(scratchVolumes) {
		out = append(out, scratchVolumes[name])
	}
	return out
}

// collectorName is the OpenTelemetry collector's container; otlpHTTPPort its OTLP/HTTP receiver on localhost (the
// tasks' containers share one network namespace in awsvpc mode).
const (
	collectorName = "otel-collector"
	otlpHTTPPort  = 4318
)

// otelEnvironment is the OpenTelemetry SDK configuration the backend gets (standard SDK variables: OpenTelemetry
// docs, "General SDK Configuration" and "OTLP Exporter Configuration"; README, "Container contract"): with the
// collector, traces over OTLP/HTTP to it, metrics and logs off (its pipeline takes traces only, and the app's
// metrics are EMF on stdout); without it, the SDK off, so an instrumented image sends nothing anywhere.
func otelEnvironment(stage string, traced bool) map[string]*string {
	if !traced {
		return map[string]*string{"OTEL_SDK_DISABLED": jsii.String("true")}
	}
	return map[string]*string{
		"OTEL_SERVICE_NAME":           jsii.String("h2o-backend"),
		"OTEL_RESOURCE_ATTRIBUTES":    jsii.String("deployment.environment=" + stage),
		"OTEL_TRACES_EXPORTER":        jsii.String("otlp"),
		"OTEL_METRICS_EXPORTER":       jsii.String("none"),
		"OTEL_LOGS_EXPORTER":          jsii.String("none"),
		"OTEL_EXPORTER_OTLP_PROTOCOL": jsii.String("http/protobuf"),
		"OTEL_EXPORTER_OTLP_ENDPOINT": jsii.String(fmt.Sprintf("http://localhost:%d", otlpHTTPPort)),
	}
}

// addCollector runs the AWS Distro for OpenTelemetry collector beside the backend: it receives the backend's OTLP
// traces and sends them to X-Ray. It replaces the X-Ray daemon, in maintenance since 2026-02-25 and out of support
// from 2027-02-25 (X-Ray developer guide, "X-Ray SDK and daemon end of support timeline": "we recommend that you
// migrate to OpenTelemetry"). The image's own ecs-xray.yaml is the configuration (OTLP on 4317/4318, batch,
// awsxray exporter, traces only: aws-observability/aws-otel-collector config/ecs/ecs-xray.yaml); the image's
// default one would also export EMF metrics into a log group of its own without retention.
func (b *backendTasks) addCollector(task awsecs.FargateTaskDefinition) {
	task.AddContainer(jsii.String(collectorName), &awsecs.ContainerDefinitionOptions{
		ContainerName: jsii.String(collectorName),
		Image:         awsecs.ContainerImage_FromRegistry(jsii.String(collectorImage), nil),
		Command:       jsii.Strings("--config=/etc/ecs/ecs-xray.yaml"),
		Essential:     jsii.Bool(false), // tracing must never take the API down
		Cpu:           jsii.Number(64),
		// A hard cap, so a collector under pressure is stopped before it starves the backend of the task's memory;
		// AWS's Fargate sidecar template gives it 512 MiB (aws-otel-collector deployment-template/ecs).
		MemoryReservationMiB: jsii.Number(128),
		MemoryLimitMiB:       jsii.Number(512),
		// The image's own non-root user, aoc (uid 4317: its Dockerfile; the default user since v0.35.0,
		// aws-observability/aws-otel-collector#2317), written out so the template says what runs. The traces-only
		// configuration writes nothing to disk; a read-only root works with it (guardian/dotcom-rendering#16653,
		// ministryofjustice/opg-lpa#3780).
		User:                   jsii.String("4317"),
		ReadonlyRootFilesystem: jsii.Bool(true),
		Privileged:             jsii.Bool(false),
		// The stage's backend log group: a log driver without one gets a CDK-made group that never expires.
		Logging: awsecs.LogDrivers_AwsLogs(&awsecs.AwsLogDriverProps{StreamPrefix: jsii.String(collectorName), LogGroup: b.logs}),
	})
	// The awsxray exporter sends segments with PutTraceSegments; PutTelemetryRecords only with its telemetry option
	// on, off by default (opentelemetry-collector-contrib exporter/awsxrayexporter README). X-Ray has no
	// resource-level permissions.
	task.AddToTaskRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("xray:PutTraceSegments"), Resources: jsii.Strings("*"),
	}))
}

// grantTaskRole gives the running app exactly the PDF bucket's objects and its API keys' secrets.
func (b *backendTasks) grantTaskRole() {
	b.taskRole.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"),
		Resources: jsii.Strings(*b.data.PdfBucket.ArnForObjects(jsii.String("*"))),
	}))
	b.taskRole.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("s3:ListBucket"), Resources: jsii.Strings(*b.data.PdfBucket.BucketArn()),
	}))
	for _, key := range sortedKeys(b.data.AppSecrets) {
		b.data.AppSecrets[key].GrantRead(b.taskRole, nil)
	}
	if b.data.DataKey != nil { // SSE-KMS PDFs: the key's policy defers to IAM, so the role's own grant suffices
		b.data.DataKey.Grant(b.taskRole, jsii.String("kms:Decrypt"), jsii.String("kms:GenerateDataKey")) // read, write
	}
	suppressWildcards(b.taskRole,
		"The PDF bucket's object actions need its objects' ARN (<bucket ARN>/*); ECS Exec's ssmmessages channel "+
			"actions, logs:DescribeLogGroups and (with tracing on) the collector's xray:PutTraceSegments have no "+
			"resource-level permissions; exec session logs are written to streams of the stage's exec log group.",
		`/^Resource::<PdfBucket[A-Z0-9]+\.Arn>\/\*$/`, "Resource::*",
		`/^Resource::arn:aws:logs:.*:log-group:<ExecSessionLogs[A-Z0-9]+>:\*$/`)
	suppressWildcards(b.execRole,
		"ecr:GetAuthorizationToken has no resource-level permissions; image pulls are scoped to the repository.",
		"Resource::*")
}
