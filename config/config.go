// Package config is the typed equivalent of the original design's terraform.tfvars: one Config per stage, the
// defaults beside each field, the committed per-stage settings (settings/<stage>.json), CDK context overrides,
// and the validation that runs before any construct is created.
//
// Every exported field with a `json` tag is a setting: settable in settings/<stage>.json and with
// `-c <key>=<value>` (every stage) or `-c <stage>.<key>=<value>` (one stage). Its `doc` tag is the one-line
// reason README's configuration table shows (generated: `make readme`).
package config

import "sort"

// Config holds every value that differs between stages or may be set at deploy time. dev and prod are built
// by the same stack code; only these values differ.
type Config struct {
	Stage string `json:"-"`

	// Where the stage lives.
	Account           string   `json:"account" doc:"12 digits, or empty to deploy into the account of the caller's credentials"`
	Region            string   `json:"region" doc:"the design's region; CloudFront's WAF and certificates must live there too"`
	AvailabilityZones []string `json:"availabilityZones" doc:"explicit, so synth needs no lookup and works offline"`

	// Network.
	VPCCIDR     string `json:"vpcCidr" doc:"/16 to /21 leaves room for three /24 tiers in two AZs; distinct per stage so they can be peered"`
	NatGateways int    `json:"natGateways" doc:"0 puts tasks in public subnets with a public IP, admitting only the ALB ($33/month each saved); one per AZ keeps an AZ outage from cutting the other's egress"`

	// Compute. The image is not a setting: deploys pass it as the compute stack's ImageTag parameter.
	RepositoryName  string `json:"-"` // the ECR repository of h2o-ci (CI.RepositoryName): one home for the name.
	CPUArchitecture string `json:"cpuArchitecture" doc:"ARM64 (Graviton, 20 % cheaper per vCPU-hour) or X86_64 for an x86 image (the deploy workflow builds linux/arm64: for X86_64 set ARCH=amd64 for scripts/deploy.sh and the workflow's platform)"`
	TaskCPU         int    `json:"taskCpu" doc:"Fargate CPU units: 2048 = 2 vCPU, the design's task"`
	TaskMemoryMiB   int    `json:"taskMemoryMiB" doc:"4096 MiB, the design's 4 GB; validated as a Fargate pair with taskCpu"`
	Workers         int    `json:"workers" doc:"WORKERS passed to the app server: the design's 6 for 2 vCPU"`
	ContainerPort   int    `json:"containerPort" doc:"the port the backend listens on; 1024 or above, since the process is not root"`
	ContainerUser   string `json:"containerUser" doc:"non-root user the image runs as; empty keeps the image's own USER"`
	// HealthCheckGraceSeconds is how long a normal start may take until /health answers: ECS ignores the load
	// balancer's verdict that long, and the ALB's health check is tuned so a task this slow is never marked unhealthy.
	HealthCheckGraceSeconds int `json:"healthCheckGraceSeconds" doc:"longest normal start until /health answers; the ALB health check and the deploy alarms are tuned around it (10-80)"`
	// ErrorRateMinRequests is the traffic (requests a minute) a target group needs before the deploy error-rate alarm
	// judges it: during a canary, the canary's own share of the stage's traffic must reach it (make timing).
	ErrorRateMinRequests int `json:"errorRateMinRequests" doc:"requests a minute a target group (the canary's, the old tasks') needs before the deployment error-rate alarm judges it; the canary's share of the traffic must reach it (make timing)"`
	// How a release replaces the running one (stacks/rollout.go, docs/performance.md): ECS's canary strategy sends
	// CanaryPercent of the requests to the new tasks for CanaryBakeMinutes, then all of them, and keeps the old
	// tasks DeployBakeMinutes more; DeployFailureThreshold failed tasks stop (and roll back) a release that crashes.
	CanaryPercent          int  `json:"canaryPercent" doc:"share of requests (%) the new release gets first, while the deployment alarms judge it (1-50)"`
	CanaryBakeMinutes      int  `json:"canaryBakeMinutes" doc:"minutes the canary share lasts before all traffic moves (1-60); the deployment alarms must detect within it"`
	DeployBakeMinutes      int  `json:"deployBakeMinutes" doc:"minutes the old tasks are kept after all traffic moved, for an instant rollback (0-60)"`
	DeployFailureThreshold int  `json:"deployFailureThreshold" doc:"failed tasks after which the circuit breaker rolls a release back (1-10); up to minTasks keeps it to the first tasks ECS starts"`
	MinTasks               int  `json:"minTasks" doc:"autoscaling floor; prod keeps 2 so each AZ has a task"`
	MaxTasks               int  `json:"maxTasks" doc:"autoscaling ceiling: the design's 3"`
	FargateSpot            bool `json:"fargateSpot" doc:"tasks above onDemandBaseTasks run on Fargate Spot (~65 % cheaper; ECS replaces an interrupted task)"`
	OnDemandBaseTasks      int  `json:"onDemandBaseTasks" doc:"with fargateSpot: tasks always kept on regular Fargate"`
	// Off-hours schedule (EventBridge cron in ScheduleTimeZone): at ScaleDownCron the service scales to 0
	// (and the database stops, if StopDatabaseOffHours); at ScaleUpCron both come back. "" = always on.
	ScaleDownCron        string `json:"scaleDownCron" doc:"when the service scales to 0 tasks (EventBridge cron); empty = always on"`
	ScaleUpCron          string `json:"scaleUpCron" doc:"when the service comes back to minTasks..maxTasks; set together with scaleDownCron"`
	ScheduleTimeZone     string `json:"scheduleTimeZone" doc:"IANA time zone of both crons"`
	StopDatabaseOffHours bool   `json:"stopDatabaseOffHours" doc:"the database stops with the tasks and starts before them; never with deletionProtection"`
	// DBStartLeadMinutes: RDS takes minutes to start a stopped instance, so it starts this long before the tasks
	// (at scaleUpCron), which would otherwise fail their health checks against a database still starting.
	DBStartLeadMinutes int `json:"dbStartLeadMinutes" doc:"with stopDatabaseOffHours: the database starts this many minutes before scaleUpCron, so tasks find it up"`
	// Tracing runs the AWS Distro for OpenTelemetry collector beside the backend (README, "Container contract").
	Tracing bool `json:"tracing" doc:"runs the AWS Distro for OpenTelemetry collector beside the backend: the backend sends OTLP traces to localhost:4318, the collector to X-Ray (off: OTEL_SDK_DISABLED=true)"`

	// Database.
	DBInstanceClass string `json:"dbInstanceClass" doc:"the design's burstable Graviton sizes"`
	// DBEngineVersion is the full PostgreSQL minor, with RDS's automatic minor upgrades off: template and instance
	// never drift apart, and a bump is a reviewed change the review guard shows as an in-place update.
	DBEngineVersion          string `json:"dbEngineVersion" doc:"full PostgreSQL minor (automatic minor upgrades are off, so template and instance agree); minors RDS has retired are refused; bump it here, in the maintenance window (an in-place upgrade with downtime)"`
	DBMultiAZ                bool   `json:"dbMultiAz" doc:"standby in the second AZ; prod"`
	DBAllocatedStorageGiB    int    `json:"dbAllocatedStorageGiB" doc:"gp3 minimum, what the app needs today"`
	DBMaxAllocatedStorageGiB int    `json:"dbMaxAllocatedStorageGiB" doc:"storage autoscaling ceiling: a full disk grows instead of stopping writes"`
	BackupRetentionDays      int    `json:"backupRetentionDays" doc:"the design's 7 days (1-35; 0 would turn off point-in-time recovery)"`
	EnhancedMonitoring       bool   `json:"enhancedMonitoring" doc:"OS metrics every 60 s; costs CloudWatch Logs, so prod only"`
	PerformanceInsights      bool   `json:"performanceInsights" doc:"Database Insights standard (7 days free)"`

	// Backups and keys.
	CustomerManagedDataKey bool   `json:"customerManagedDataKey" doc:"the database, PDF bucket and backup vault use the stage's own KMS key (rotated; needed to copy backups to another account); decided before data exists: changing a database's key means a snapshot restore"`
	BackupPlan             bool   `json:"backupPlan" doc:"AWS Backup of the database: daily kept 35 days, monthly kept 12 months, in a locked vault; beyond the automated backups' point-in-time window"`
	BackupVaultLock        string `json:"backupVaultLock" doc:"compliance (after 3 days nobody, root included, can delete recovery points or the lock) or governance (principals allowed to can remove the lock)"`
	BackupCopyVaultARN     string `json:"backupCopyVaultArn" doc:"optional: a vault in another region or account that receives a copy of every recovery point; empty = no copy"`

	// PDF bucket recovery.
	PDFNoncurrentVersionDays int    `json:"pdfNoncurrentVersionDays" doc:"overwritten or deleted PDFs stay restorable this many days (noncurrent versions)"`
	PDFReplicationBucketARN  string `json:"pdfReplicationBucketArn" doc:"optional: a versioned bucket (another region or account) every new PDF is replicated to; empty = none"`
	PDFReplicationKMSKeyARN  string `json:"pdfReplicationKmsKeyArn" doc:"with pdfReplicationBucketArn and a customer-managed data key: the destination's KMS key for the replicas"`

	// Cache.
	CacheNodeType string `json:"cacheNodeType" doc:"the design's burstable Graviton node sizes"`
	CacheReplicas int    `json:"cacheReplicas" doc:"a replica gives automatic failover and Multi-AZ"`
	// CacheEngineVersion is the Valkey major.minor. ElastiCache upgrades a node-based cache only when asked, and a
	// change is an in-place upgrade of the same replication group; it cannot go back (no downgrades).
	CacheEngineVersion string `json:"cacheEngineVersion" doc:"Valkey version (7.2, 8.0, 8.1, 8.2, 9.0); raising it upgrades the cache in place, lowering it is refused by ElastiCache"`

	// AppSecretKeys are the backend's API keys: one secret h2o/<stage>/app/<KEY> each, injected into the task as
	// the environment variable KEY. Values are set out of band (docs/runbook.md), never in code; adding or
	// removing a key changes no other key's secret.
	AppSecretKeys []string `json:"appSecretKeys" doc:"API keys: one secret h2o/<stage>/app/<KEY> each, injected as the environment variable KEY (adding one: docs/runbook.md)"`

	// Data safety.
	DeletionProtection bool `json:"deletionProtection" doc:"databases and load balancer refuse deletion, data is retained or snapshotted, stacks have termination protection"`

	// Observability.
	LogRetentionDays int    `json:"logRetentionDays" doc:"every log group and log bucket of the stage; never \"never expire\""`
	AlarmEmail       string `json:"alarmEmail" doc:"subscribed to the stage's alarm topic; a deploy refuses the example.com placeholder"`
	SlackWorkspaceID string `json:"slackWorkspaceId" doc:"AWS Chatbot Slack workspace id; with slackChannelId, alarms also go to Slack"`
	SlackChannelID   string `json:"slackChannelId" doc:"Slack channel id for the stage's alarms"`
	MonthlyBudgetUSD int    `json:"monthlyBudgetUsd" doc:"AWS Budgets alerts at 80 % forecast and 100 % actual"`
	// The backend publishes AI generation time with CloudWatch embedded metric format under this namespace
	// and metric name, with dimension Stage=<stage>.
	MetricsNamespace string `json:"metricsNamespace" doc:"namespace of the backend's embedded-metric-format metrics"`
	AIDurationMetric string `json:"aiDurationMetric" doc:"the backend's AI generation time metric (milliseconds, dimension Stage)"`

	// Edge.
	DomainName   string `json:"domainName" doc:"optional custom domain: the API at api.<domain>, the app at app.<domain>"`
	HostedZoneID string `json:"hostedZoneId" doc:"Route 53 zone of domainName; required with it (no lookups at synth)"`
	// HTTPOriginTargetGroup is set for the one deploy that adds a domain to a running stage (docs/runbook.md,
	// "Adding a domain to a running stage"): CloudFront keeps its plain-HTTP origin until the edge stack has moved to
	// HTTPS, so the load balancer keeps serving port 80 from the target group whose tasks are live.
	HTTPOriginTargetGroup string `json:"httpOriginTargetGroup" doc:"only for the deploy that adds domainName to a running stage (runbook): primary or alternate, the target group holding the live tasks, which keeps serving CloudFront's old HTTP origin on port 80 until edge has switched to HTTPS; empty otherwise"`
	// CloudFrontPrefixListID is com.amazonaws.global.cloudfront.origin-facing in the stage's region: the only source
	// the load balancer admits. A literal, so synth needs no lookup.
	CloudFrontPrefixListID string `json:"cloudFrontPrefixListId" doc:"id of the managed prefix list com.amazonaws.global.cloudfront.origin-facing in the region (us-east-1: pl-3b927c52), the only source the load balancer admits; a literal so synth stays offline"`
	// RequestTimeoutSeconds is the longest a request may take; the load balancer's idle timeout and the drain time
	// of a deploy follow from it (README, "Timeouts").
	RequestTimeoutSeconds int    `json:"requestTimeoutSeconds" doc:"CloudFront's origin response timeout, the longest an API request may take; the ALB idle timeout and deploy drain follow from it (1-120 without a quota increase)"`
	WAFMode               string `json:"wafMode" doc:"block, count (see what would be blocked) or off (dev: saves the ACL's fixed cost)"`
	WAFRateLimit          int    `json:"wafRateLimit" doc:"requests per client IP per 5 minutes before the rate rule acts: far above one user"`
	// WAFBodyLimitKiB replaces the common rule set's fixed 8 KB body limit (counted, not blocked: AI prompts are
	// larger) with a configurable one; 0 leaves body size to the app.
	WAFBodyLimitKiB int  `json:"wafBodyLimitKiB" doc:"request bodies over this many KiB are blocked (counted in count mode); 0 = no WAF body limit (the managed 8 KB rule only counts)"`
	WAFLogging      bool `json:"wafLogging" doc:"WAF request logs to the log group aws-waf-logs-h2o-<stage>, authorization and cookie headers redacted"`

	// Frontend (Amplify Hosting): enabled when FrontendRepository is set.
	FrontendRepository      string `json:"frontendRepository" doc:"https://github.com/<org>/<repo> of the frontend; empty = no Amplify app"`
	FrontendBranch          string `json:"frontendBranch" doc:"the branch Amplify auto-builds"`
	FrontendTokenSecretName string `json:"frontendTokenSecretName" doc:"Secrets Manager secret (plain string) holding a GitHub token, created by hand"`
}

// defaults returns the values every stage starts from; stageDefaults then sets what differs per stage.
func defaults(stage string) Config {
	return Config{
		Stage:             stage,
		Region:            "us-east-1",
		AvailabilityZones: []string{"us-east-1a", "us-east-1b"},
		RepositoryName:    BackendRepository,
		CPUArchitecture:   ArchARM64,
		TaskCPU:           2048,
		TaskMemoryMiB:     4096,
		Workers:           6,
		ContainerPort:     8000,
		ContainerUser:     "1000",
		MaxTasks:          3,
		// A Python app server with 6 workers boots within it. Not more: a healthy canary deploy is done within 5
		// minutes of its tasks starting only if app start + 2 healthy checks (20 s) + canary and bake (3 min, which
		// the error-rate alarm's 2-minute detection needs) + the old tasks' full drain (65 s) fit: 30 + 20 + 180 + 65
		// = 4 min 55 s (make timing). Unverified: the real start (ECS task events of a deploy); a slower app needs a longer grace and so a longer deploy.
		HealthCheckGraceSeconds: 30,
		// Judged per target group: the canary's own requests must reach it. prod's canary gets ~6.8 a minute (10 % of
		// ~68 at cost/usage.go's 3 M requests a month), so 5; one 5xx of 5 requests (20 %) is over the 1 % threshold
		// anyway, so a higher floor guards against noise only where traffic is far higher.
		ErrorRateMinRequests:     5,
		CanaryPercent:            10,     // a tenth of the requests: enough for the error rate to judge, little for users to feel
		CanaryBakeMinutes:        2,      // the deployment alarms detect within 2 minutes (1-minute datapoint + 1 minute of lag)
		DeployBakeMinutes:        1,      // requests that started before all traffic moved finish on the old tasks
		DBEngineVersion:          "17.9", // the newest 17.x the pinned CDK and cfn-lint know; RDS moved 17.1-17.4 to 17.7+ (postgresRetirements)
		CacheEngineVersion:       "8.0",  // what the caches were created with: no AWS end date forces a change (ValkeyVersions)
		DBAllocatedStorageGiB:    20,
		DBMaxAllocatedStorageGiB: 100,
		BackupRetentionDays:      7,
		AppSecretKeys:            []string{"AI_API_KEY"},
		BackupVaultLock:          BackupLockCompliance,
		PDFNoncurrentVersionDays: 30, // a month to notice a bad overwrite or a mass delete
		AlarmEmail:               PlaceholderAlarmEmail,
		MetricsNamespace:         "H2O/Backend",
		AIDurationMetric:         "AIGenerationDuration",
		WAFRateLimit:             2000, // ~7 requests/s sustained per IP: far above one user, low enough to stop floods
		CloudFrontPrefixListID:   "pl-3b927c52",
		RequestTimeoutSeconds:    60, // slow AI generations, with room below CloudFront's 120 s quota
		FrontendBranch:           "main",
		FrontendTokenSecretName:  "h2o/github-token",
	}
}

// stageDefaults holds what differs between the stages: the design's dev and prod columns.
var stageDefaults = map[string]func(*Config){
	"dev": func(c *Config) {
		c.VPCCIDR = "10.10.0.0/16"
		c.NatGateways = 0 // $33/month saved: tasks sit in public subnets with a public IP, admitting only the ALB.
		c.MinTasks = 1
		c.DeployFailureThreshold = 1 // the one task ECS starts: a crash loop is rolled back after its first failure
		// dev's ~4.6 requests a minute (cost/usage.go's 200 k a month over every hour) give a 10 % canary under one
		// request a minute: with a quarter of them and a floor of 1 its errors are judged (make timing); a stray 5xx
		// then rolls a dev deploy back, which dev tolerates.
		c.CanaryPercent = 25
		c.ErrorRateMinRequests = 1
		c.FargateSpot = true // dev tolerates an interrupted task: ~65 % off every task
		// Nobody uses dev at night or at weekends: tasks scale to 0 and the database stops.
		c.ScaleDownCron = "cron(0 20 ? * MON-FRI *)"
		c.ScaleUpCron = "cron(0 8 ? * MON-FRI *)"
		c.ScheduleTimeZone = "UTC"
		c.StopDatabaseOffHours = true
		c.DBStartLeadMinutes = 20 // RDS starts a stopped micro instance in a few minutes; 20 leaves room
		c.DBInstanceClass = "db.t4g.micro"
		c.CacheNodeType = "cache.t4g.micro"
		c.LogRetentionDays = 14 // enough to debug last sprint's deploys.
		c.WAFMode = WAFOff      // $10/month; set wafMode=count to preview prod's rules on dev traffic
		c.MonthlyBudgetUSD = 75 // the dev estimate plus headroom for load tests
	},
	"prod": func(c *Config) {
		c.VPCCIDR = "10.20.0.0/16"
		c.NatGateways = 2 // one per AZ: an AZ outage does not cut the other AZ's egress.
		c.MinTasks = 2
		c.DeployFailureThreshold = 2 // both tasks of the first wave failed: one lost Spot task alone does not fail it
		c.FargateSpot = true
		// One task always on regular Fargate; the second (and any scale-out) on Spot. ECS replaces an
		// interrupted Spot task, so both AZs keep a task except for the minutes a replacement takes.
		c.OnDemandBaseTasks = 1
		c.DBInstanceClass = "db.t4g.small"
		c.DBMultiAZ = true
		c.EnhancedMonitoring = true
		c.PerformanceInsights = true
		c.CacheNodeType = "cache.t4g.small"
		c.CacheReplicas = 1
		c.DeletionProtection = true
		c.CustomerManagedDataKey = true // $1/month; enables cross-account backup copies, and the key policy decides who reads
		c.BackupPlan = true
		c.LogRetentionDays = 90 // a quarter of history for incident reviews.
		c.WAFMode = WAFBlock
		c.WAFLogging = true      // who was blocked, and why: the first question after a false positive
		c.MonthlyBudgetUSD = 350 // the prod estimate plus one extra task at full scale-out
	},
}

// Stages lists the known stage names in a stable order.
func Stages() []string {
	names := make([]string, 0, len(stageDefaults))
	for name := range stageDefaults {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// BackendRepository is the default name of the ECR repository the h2o-ci stack owns and every stage pulls from.
const BackendRepository = "h2o-backend"

// PlaceholderAlarmEmail is the default alarm address: it lets an offline synth pass, and a deploy refuses it.
const PlaceholderAlarmEmail = "ops@example.com"

// WAF modes accepted by WAFMode.
const (
	WAFBlock = "block"
	WAFCount = "count"
	WAFOff   = "off"
)

// Target groups HTTPOriginTargetGroup names: the service's own and the alternate one of canary deploys.
const (
	TargetGroupPrimary   = "primary"
	TargetGroupAlternate = "alternate"
)

// Vault lock modes accepted by BackupVaultLock.
const (
	BackupLockCompliance = "compliance"
	BackupLockGovernance = "governance"
)

// Architecture values accepted by CPUArchitecture.
const (
	ArchARM64 = "ARM64"
	ArchX8664 = "X86_64"
)
