package cost

import (
	"fmt"
	"strings"
)

// Usage is what the monthly cost estimate (`make cost`) assumes about one stage's traffic and
// stored data: the numbers a template cannot say. Everything a template does say (task size and count,
// architecture, Spot share, schedules, instance classes, Multi-AZ, node counts, storage size, retention,
// number of alarms, rules, secrets...) is read from the synthesized templates, never from here.
//
// Account-wide free tiers (CloudWatch, CloudFront, KMS, Budgets, X-Ray, Step Functions) are shared by every stage deployed in
// the same account. dev and prod share one account by default (config's Account is ""), so each stage claims
// only its share (FreeShare) of every allowance the price table lists (cloudwatch_free_alarms, kms_free_requests_per_month...),
// and the shares of all stages add up to one; the account-level stacks (h2o-ci) claim none. Estimate checks the
// stages of the assembly it prices against it.
type Usage struct {
	Stage string

	// HoursPerMonth is how long an always-on resource runs: 24 h × 365 d / 12. Scheduled scale-downs and
	// database stop/start schedules found in the templates reduce it per resource.
	HoursPerMonth float64

	// Compute.
	ScaleOutTaskHours float64 // task-hours per month above the autoscaling floor (bursts), priced on the marginal capacity provider.
	OneOffTaskRuns    float64 // runs per month of each task definition no service runs (the migration task: one per deploy).
	OneOffTaskMinutes float64 // billed minutes per one-off run (Fargate bills per second, one minute at least).
	StateMachineRuns  float64 // executions per month of each Step Functions state machine.

	// Network.
	NatGB     float64 // GB per month processed by the stage's NAT gateways (all of them together).
	CrossAZGB float64 // GB per month between tasks and the database/cache in the other AZ (each direction billed).
	AlbLCU    float64 // average load balancer capacity units per hour.

	// Edge.
	CloudFrontRequests float64 // HTTPS requests per month through CloudFront.
	CloudFrontGB       float64 // GB per month CloudFront sends to viewers (North America/Europe rate).
	WafRequests        float64 // requests per month the web ACL inspects.
	Route53Queries     float64 // non-alias DNS queries per month (alias queries to AWS resources are free).

	// Data.
	DbDataGB              float64 // GB of data in each database instance.
	DbDailyChangeFraction float64 // share of the database changed per day: sizes the incremental automated backups and AWS Backup snapshots.
	CacheSnapshotGB       float64 // size of one cache snapshot.
	S3DataGB              float64 // GB stored in the stage's data buckets (PDFs), noncurrent versions included.
	S3LogGBPerBucket      float64 // GB stored in each access-log bucket (after its lifecycle expiry).
	S3PutRequests         float64 // PUT/COPY/POST/LIST requests per month to the data buckets.
	S3GetRequests         float64 // GET requests per month to the data buckets.
	EcrGB                 float64 // GB of images kept in each ECR repository after its lifecycle rules.
	SecretsAPICalls       float64 // Secrets Manager API calls per month.
	KMSRequests           float64 // KMS requests per month (decrypts behind secrets, the data key's RDS/S3/Backup use, the alarm topic).
	// KMSRequestsPerLogGroup is what CloudWatch Logs asks KMS a month for each log group encrypted with a customer
	// managed key (the templates say how many). AWS documents no rate; the assumption is about one data key every
	// ten minutes per group while it receives logs: check AWS/KMS's per-key request metrics after a month.
	KMSRequestsPerLogGroup float64

	// Observability: log GB ingested per month by source; storage follows from each group's retention.
	AppLogGB               float64 // backend container logs (ECS awslogs driver).
	FlowLogGB              float64 // VPC flow logs.
	DbLogGB                float64 // PostgreSQL log exports (slow queries > 1 s, connections, errors) per instance.
	EnhancedMonitoringGB   float64 // RDSOSMetrics per instance per month at a 60 s interval (scaled by the template's interval).
	WafLogGBPerMillion     float64 // WAF request logs per million inspected requests, where WAF logging is on (prod).
	OtherLogGBPerGroup     float64 // any other log group: custom-resource Lambdas, ECS Exec sessions, the redeploy state machine.
	LogsStorageCompression float64 // stored (archived) log size ÷ ingested size.
	LogsNoRetentionMonths  float64 // months of history priced for a log group that never expires.
	AppCustomMetrics       float64 // custom metrics the backend publishes with embedded metric format.
	XRayTraces             float64 // traces recorded per month when the tracing sidecar (OpenTelemetry collector) runs.
	AmplifyBuildMinutes    float64 // Amplify build minutes per month, if the frontend app exists.
	AmplifyStorageGB       float64 // GB of Amplify build artifacts stored.
	AmplifyServedGB        float64 // GB per month Amplify Hosting serves (a static frontend: no SSR compute).

	// FreeShare is this stage's share (0 to 1) of each account-wide free allowance: the estimate claims the
	// price table's allowance × FreeShare.
	FreeShare float64
}

// freeShareSum adds up the free-tier shares the stages claim.
func freeShareSum(stages []string, usageFor func(string) Usage) float64 {
	sum := 0.0
	for _, stage := range stages {
		sum += usageFor(stage).FreeShare
	}
	return sum
}

// overclaimedFreeTier says (with the shares) when the stages, together, claim more than one account's free
// tiers: a stage without assumptions of its own (a new config stage) takes dev's share, so the estimate would
// count those free tiers twice. Every stage is assumed to share one account, as dev and prod do by default.
func overclaimedFreeTier(stages []string, usageFor func(string) Usage) string {
	sum := freeShareSum(stages, usageFor)
	if sum <= 1+1e-9 {
		return ""
	}
	var parts []string
	for _, stage := range stages {
		if share := usageFor(stage).FreeShare; share != 0 {
			parts = append(parts, fmt.Sprintf("%s %s", stage, fmtNum(share)))
		}
	}
	return fmt.Sprintf("free-tier shares add up to %s (%s)", fmtNum(sum), strings.Join(parts, " + "))
}

// UsageFor returns the usage assumed for a stage ("dev", "prod", or "account" for the account-level stacks).
// An unknown stage gets dev's assumptions under its own name.
func UsageFor(stage string) Usage {
	u := baseUsage()
	set, ok := stageUsage[stage]
	if !ok {
		set = stageUsage["dev"]
	}
	set(&u)
	u.Stage = stage
	return u
}

// baseUsage holds the values every stage shares.
func baseUsage() Usage {
	return Usage{
		HoursPerMonth: 730, // 24 × 365 / 12, the convention of AWS's pricing pages and the price table.
		// Logs: the AWS Pricing Calculator assumes archived logs take 15 % of the ingested size.
		LogsStorageCompression: 0.15,
		LogsNoRetentionMonths:  12,   // a never-expiring group is priced as one year of history.
		OtherLogGBPerGroup:     0.01, // deploy-time Lambdas, rare ECS Exec sessions and ~5 redeploy runs write kilobytes.
		// ~11 KB per RDSOSMetrics event (OS counters + top processes) × 43,800 events a month at 60 s.
		EnhancedMonitoringGB:  0.5,
		WafLogGBPerMillion:    1.5,  // a WAF log record is ~1.5 KB of JSON (headers, matched rules).
		DbDailyChangeFraction: 0.05, // an app database rewrites ~5 % of its pages a day.
		Route53Queries:        0,    // api./app. records are aliases to CloudFront/Amplify: alias queries are free.
		AppCustomMetrics:      1,    // AIGenerationDuration, one dimension set, via embedded metric format.
		EcrGB:                 5,    // lifecycle keeps ~10 tagged images of ~500 MB (compressed layers).
		// Migrations: `alembic upgrade head` on a small schema, image pull included, takes about a minute.
		OneOffTaskMinutes: 1,
		// The redeploy on a secret change runs once per new AWSCURRENT version: RDS rotates its managed master
		// secret every 7 days (~4.3 a month), plus a rare put-secret-value on the app or cache secret.
		StateMachineRuns: 5,
	}
}

// stageUsage holds what differs per stage, each with its reason.
var stageUsage = map[string]func(*Usage){
	"dev": func(u *Usage) {
		u.ScaleOutTaskHours = 0 // a few developers never push CPU past the scaling target.
		u.OneOffTaskRuns = 40   // ~2 deploys a working day, each running the migrations once.
		// dev has no NAT gateway (natGateways 0): its tasks reach the internet through their own public IP, so
		// NatGB is priced only if dev turns NAT on. It is then log shipping (~1.5 GB), AI-provider API calls
		// and ECR API/auth; image layers come from S3 through the free gateway endpoint.
		u.NatGB = 5
		u.CrossAZGB = 1 // half the DB/cache traffic of light dev use crosses AZs.
		u.AlbLCU = 0.1  // a few requests per second at peak; LCUs are billed on the busiest dimension.
		u.CloudFrontRequests = 200_000
		u.CloudFrontGB = 2       // JSON API responses of ~10 KB.
		u.WafRequests = 200_000  // priced only if dev turns its WAF on (wafMode off by default).
		u.DbDataGB = 1           // seed and test data.
		u.CacheSnapshotGB = 0.05 // job status keys only.
		u.S3DataGB = 1           // test PDFs.
		u.S3LogGBPerBucket = 0.2
		u.S3PutRequests = 2_000
		u.S3GetRequests = 10_000
		u.SecretsAPICalls = 5_000 // ECS reads each injected secret at every task start; deploys restart tasks often.
		u.KMSRequests = 5_000
		u.KMSRequestsPerLogGroup = 4_500
		u.AppLogGB = 1    // INFO logs of light use plus deploy noise.
		u.FlowLogGB = 0.5 // little traffic: mostly health checks and the tasks' own egress.
		u.DbLogGB = 0.05
		u.XRayTraces = 20_000
		u.AmplifyBuildMinutes = 60 // ~20 builds of 3 minutes.
		u.AmplifyStorageGB = 0.5
		u.AmplifyServedGB = 1
		u.FreeShare = 0.5 // the shared account's free tiers, split evenly between the two stages.
	},
	"prod": func(u *Usage) {
		u.ScaleOutTaskHours = 30 // about an hour a day of a third task at the daily peak.
		u.OneOffTaskRuns = 10    // ~2 deploys a week, each running the migrations once.
		u.NatGB = 20             // log shipping (~5 GB), AI-provider calls, ECR API and secrets for 2+ tasks.
		u.CrossAZGB = 10         // with tasks in both AZs, about half the DB/cache traffic crosses AZs.
		u.AlbLCU = 0.5           // CloudFront keeps connections open; ~10 req/s peak, well under one LCU.
		u.CloudFrontRequests = 3_000_000
		u.CloudFrontGB = 30
		u.WafRequests = 3_000_000 // every CloudFront request passes the web ACL, and is logged (wafLogging).
		u.DbDataGB = 5
		u.CacheSnapshotGB = 0.2
		u.S3DataGB = 20 // generated PDFs kept for a year, with versions.
		u.S3LogGBPerBucket = 2
		u.S3PutRequests = 20_000
		u.S3GetRequests = 100_000
		u.SecretsAPICalls = 15_000
		u.KMSRequests = 20_000 // secrets' decrypts; the data key's RDS, PDF (S3 bucket key) and Backup use is small.
		u.KMSRequestsPerLogGroup = 4_500
		u.AppLogGB = 3
		u.FlowLogGB = 2
		u.DbLogGB = 0.2
		u.XRayTraces = 300_000
		u.AmplifyBuildMinutes = 60
		u.AmplifyStorageGB = 0.5
		u.AmplifyServedGB = 20
		u.FreeShare = 0.5
	},
	// The account-level stacks (h2o-ci: ECR repository, deploy roles) have no traffic of their own and
	// claim no free tier: dev and prod have split it.
	"account": func(u *Usage) {},
}

// RequestsPerMinute is the stage's average API traffic: CloudFrontRequests (every API request passes CloudFront)
// spread over HoursPerMonth. Spread over every hour, not only the hours a schedule keeps the service up: the lower
// rate, so what depends on enough traffic (the deployment error-rate alarm's floor) is judged pessimistically.
func (u Usage) RequestsPerMinute() float64 {
	return u.CloudFrontRequests / (u.HoursPerMonth * 60)
}
