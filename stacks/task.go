package stacks

import (
	"fmt"

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

const (
	containerName = "backend"
	// initImage prepares the scratch volumes. busybox from the ECR Public mirror of Docker official images:
	// ~2 MB, and no Docker Hub pull limits.
	initImage = "public.ecr.aws/docker/library/busybox:1.37.0"
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
	b.addBackend(task, imageTag, containerName, &awsecs.ContainerDefinitionOptions{
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
	if b.cfg.EnableXRay {
		b.addXRaySidecar(task)
	}
	return task
}

// migrationTask is the one-off task that runs `alembic upgrade head` with the image the deploy is about to
// roll out; it exits with alembic's status.
func (b *backendTasks) migrationTask(imageTag awscdk.CfnParameter) awsecs.FargateTaskDefinition {
	task := b.taskDefinition("MigrationTask", Names{b.cfg.Stage}.MigrationFamily())
	b.addBackend(task, imageTag, "migrate", &awsecs.ContainerDefinitionOptions{
		Command: jsii.Strings("alembic", "upgrade", "head"),
	})
	return task
}

// addBackend adds the backend container (image from the tag parameter, settings, secrets, hardening, scratch
// volumes made writable by an init container) to task; opts adds what differs per task.
func (b *backendTasks) addBackend(task awsecs.FargateTaskDefinition, imageTag awscdk.CfnParameter, logPrefix string,
	opts *awsecs.ContainerDefinitionOptions) {
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

// addXRaySidecar runs the X-Ray daemon beside the backend, logging to the stage's backend log group (a log
// driver without one gets a CDK-made group that never expires).
func (b *backendTasks) addXRaySidecar(task awsecs.FargateTaskDefinition) {
	task.AddContainer(jsii.String("xray-daemon"), &awsecs.ContainerDefinitionOptions{
		Image:                awsecs.ContainerImage_FromRegistry(jsii.String("public.ecr.aws/xray/aws-xray-daemon:3.3.14"), nil),
		Essential:            jsii.Bool(false), // tracing must never take the API down
		Cpu:                  jsii.Number(32),
		MemoryReservationMiB: jsii.Number(64),
		PortMappings:         &[]*awsecs.PortMapping{{ContainerPort: jsii.Number(2000), Protocol: awsecs.Protocol_UDP}},
		User:                 jsii.String("1337"),
		Logging:              awsecs.LogDrivers_AwsLogs(&awsecs.AwsLogDriverProps{StreamPrefix: jsii.String("xray"), LogGroup: b.logs}),
	})
	// What the AWSXRayDaemonWriteAccess managed policy grants, written out (X-Ray has no resource-level permissions).
	task.AddToTaskRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
			"xray:GetSamplingTargets", "xray:GetSamplingStatisticSummaries"),
		Resources: jsii.Strings("*"),
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
			"actions, logs:DescribeLogGroups and (with X-Ray on) the xray:Put*/GetSampling* calls have no "+
			"resource-level permissions; exec session logs are written to streams of the stage's exec log group.",
		`/^Resource::<PdfBucket[A-Z0-9]+\.Arn>\/\*$/`, "Resource::*",
		`/^Resource::arn:aws:logs:.*:log-group:<ExecSessionLogs[A-Z0-9]+>:\*$/`)
	suppressWildcards(b.execRole,
		"ecr:GetAuthorizationToken has no resource-level permissions; image pulls are scoped to the repository.",
		"Resource::*")
}
