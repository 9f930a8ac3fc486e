// Package config is the typed equivalent of the original design's terraform.tfvars: one Config per stage,
// the defaults beside each field with the reason for them, deploy-time overrides from CDK context, and the
// validation that runs before any construct is created.
package config

import "sort"

// Config holds every value that differs between stages or may be set at deploy time. dev and prod are built
// by the same stack code; only these values differ.
type Config struct {
	Stage string

	// Where the stage lives.
	Account           string   // 12 digits, or "" to deploy into the account of the caller's credentials.
	Region            string   // us-east-1: the design's region; CloudFront's WAF and certificates must live here too.
	AvailabilityZones []string // explicit, so synth needs no AZ lookup (offline, no credentials).

	// Network.
	VpcCidr     string // a /16../21 leaves room for three /24 tiers in two AZs.
	NatGateways int    // 0 puts tasks in public subnets (dev cost lever), 1 is one shared NAT, len(AZs) is one per AZ.

	// Compute.
	RepositoryName    string // ECR repository owned by the account-level h2o-ci stack, found by name.
	ImageTag          string // the image the service runs; deploys pass the commit SHA with -c imageTag=.
	CpuArchitecture   string // ARM64 (Graviton, 20 % cheaper per vCPU-hour) or X86_64.
	TaskCpu           int    // Fargate CPU units: 2048 = 2 vCPU, as the design sizes one task.
	TaskMemoryMiB     int    // 4096 MiB, the design's 4 GB.
	Workers           int    // WORKERS passed to the app server: 6, the design's worker count for 2 vCPU.
	ContainerPort     int    // the port the backend listens on inside the task.
	ContainerUser     string // non-root user the image runs as ("" = the image's own USER).
	MinTasks          int    // autoscaling floor; prod keeps 2 so each AZ has a task.
	MaxTasks          int    // autoscaling ceiling: the design's 3.
	FargateSpot       bool   // tasks above OnDemandBaseTasks run on Fargate Spot (~65 % cheaper, may be interrupted).
	OnDemandBaseTasks int    // with FargateSpot: tasks always kept on regular Fargate.
	// Off-hours schedule (EventBridge cron in ScheduleTimeZone): at ScaleDownCron the service scales to 0
	// (and the database stops, if StopDatabaseOffHours); at ScaleUpCron both come back. "" = always on.
	ScaleDownCron        string
	ScaleUpCron          string
	ScheduleTimeZone     string
	StopDatabaseOffHours bool
	EnableXRay           bool // adds the X-Ray daemon sidecar and its permissions.

	// Database.
	DbInstanceClass          string // burstable Graviton classes: db.t4g.micro dev, db.t4g.small prod.
	DbMultiAz                bool   // standby in the second AZ; required in prod.
	DbAllocatedStorageGiB    int    // gp3 minimum 20 GiB: what the app needs today.
	DbMaxAllocatedStorageGiB int    // storage autoscaling ceiling, so a full disk grows instead of stopping writes.
	BackupRetentionDays      int    // the design's 7 days.
	EnhancedMonitoring       bool   // OS-level metrics every 60 s; costs CloudWatch Logs, so prod only.
	PerformanceInsights      bool   // Database Insights standard (7 days free); prod's db.t4g.small supports it.

	// Cache.
	CacheNodeType string // cache.t4g.micro dev, cache.t4g.small prod.
	CacheReplicas int    // 1 replica in prod gives automatic failover + Multi-AZ.

	// AppSecretKeys are the JSON keys of the h2o/<stage>/app secret, each injected into the task as an
	// environment variable of the same name. Values are set out of band (README), never in code.
	AppSecretKeys []string

	// Data safety.
	DeletionProtection bool // prod: databases and load balancer refuse deletion, data is retained or snapshotted.

	// Observability.
	LogRetentionDays int    // every log group of the stage; none is "never expire".
	AlarmEmail       string // subscribed to the stage's alarm topic.
	SlackWorkspaceId string // optional AWS Chatbot Slack workspace (team) id; with SlackChannelId, alarms go to Slack.
	SlackChannelId   string // optional Slack channel id for the stage's alarms.
	MonthlyBudgetUsd int    // AWS Budgets alerts at 80 % forecast and 100 % actual of this.
	// The backend publishes AI generation time with CloudWatch embedded metric format under this namespace
	// and metric name, with dimension Stage=<stage>.
	MetricsNamespace string
	AiDurationMetric string

	// Edge.
	DomainName   string // optional; with it the API is api.<domain> and the app app.<domain>.
	HostedZoneId string // Route 53 zone of DomainName; required with it (no lookups at synth).
	WafMode      string // block (prod), count (dev: see what would be blocked without blocking), off.
	WafRateLimit int    // requests per client IP per 5 minutes before the rate rule acts.

	// Frontend (Amplify Hosting): enabled when FrontendRepository is set.
	FrontendRepository      string // https://github.com/<org>/<repo>; "" = no Amplify app.
	FrontendBranch          string // the branch Amplify auto-builds.
	FrontendTokenSecretName string // Secrets Manager secret (plain string) with a GitHub token, created by hand.
}

// defaults returns the values every stage starts from; stageDefaults then sets what differs per stage.
func defaults(stage string) Config {
	return Config{
		Stage:                    stage,
		Region:                   "us-east-1",
		AvailabilityZones:        []string{"us-east-1a", "us-east-1b"},
		RepositoryName:           BackendRepository,
		ImageTag:                 "latest",
		CpuArchitecture:          ArchARM64,
		TaskCpu:                  2048,
		TaskMemoryMiB:            4096,
		Workers:                  6,
		ContainerPort:            8000,
		ContainerUser:            "1000",
		MaxTasks:                 3,
		DbAllocatedStorageGiB:    20,
		DbMaxAllocatedStorageGiB: 100,
		BackupRetentionDays:      7,
		AppSecretKeys:            []string{"AI_API_KEY"},
		AlarmEmail:               "ops@example.com",
		MetricsNamespace:         "H2O/Backend",
		AiDurationMetric:         "AIGenerationDuration",
		WafRateLimit:             2000, // ~7 requests/s sustained per IP: far above one user, low enough to stop floods
		FrontendBranch:           "main",
		FrontendTokenSecretName:  "h2o/github-token",
	}
}

// stageDefaults holds the per-stage values of ARCHITECTURE.md's config table.
var stageDefaults = map[string]func(*Config){
	"dev": func(c *Config) {
		c.VpcCidr = "10.10.0.0/16"
		c.NatGateways = 0 // $33/month saved: tasks sit in public subnets with a public IP, admitting only the ALB.
		c.MinTasks = 1
		c.FargateSpot = true // dev tolerates an interrupted task: ~65 % off every task
		// Nobody uses dev at night or at weekends: tasks scale to 0 and the database stops.
		c.ScaleDownCron = "cron(0 20 ? * MON-FRI *)"
		c.ScaleUpCron = "cron(0 8 ? * MON-FRI *)"
		c.ScheduleTimeZone = "UTC"
		c.StopDatabaseOffHours = true
		c.DbInstanceClass = "db.t4g.micro"
		c.CacheNodeType = "cache.t4g.micro"
		c.LogRetentionDays = 14 // enough to debug last sprint's deploys.
		c.WafMode = WafOff      // $10/month; set wafMode=count to preview prod's rules on dev traffic
		c.MonthlyBudgetUsd = 75 // the dev estimate plus headroom for load tests
	},
	"prod": func(c *Config) {
		c.VpcCidr = "10.20.0.0/16"
		c.NatGateways = 2 // one per AZ: an AZ outage does not cut the other AZ's egress.
		c.MinTasks = 2
		c.FargateSpot = true
		// One task always on regular Fargate; the second (and any scale-out) on Spot. ECS replaces an
		// interrupted Spot task, so both AZs keep a task except for the minutes a replacement takes.
		c.OnDemandBaseTasks = 1
		c.DbInstanceClass = "db.t4g.small"
		c.DbMultiAz = true
		c.EnhancedMonitoring = true
		c.PerformanceInsights = true
		c.CacheNodeType = "cache.t4g.small"
		c.CacheReplicas = 1
		c.DeletionProtection = true
		c.LogRetentionDays = 90 // a quarter of history for incident reviews.
		c.WafMode = WafBlock
		c.MonthlyBudgetUsd = 350 // the prod estimate plus one extra task at full scale-out
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

// BackendRepository is the ECR repository the h2o-ci stack owns and every stage pulls from.
const BackendRepository = "h2o-backend"

// WAF modes accepted by WafMode.
const (
	WafBlock = "block"
	WafCount = "count"
	WafOff   = "off"
)

// Architecture values accepted by CpuArchitecture.
const (
	ArchARM64 = "ARM64"
	ArchX8664 = "X86_64"
)
