package stacks

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"h2o-infra/config"
)

// nistException is a NIST 800-53 rev 5 rule the app does not meet on some resources, which ones, in which stages,
// and why: the one place the rule is suppressed. README.md's list of suppressed rules is generated from these
// (`make readme`), and a test holds the table to the synthesized reports: every exception suppresses something,
// nothing else is suppressed, and prod carries no exception that only a disposable stage may take.
type nistException struct {
	Rule string // the pack's rule id without its prefix; CdkNagValidationFailure: cdk-nag could not evaluate Of
	Of   []string
	// Covers and When say in words what covers and when decide: README's columns.
	Covers, When string
	Reason       string
	// when is whether the stage takes the exception (nil: every stage); ci whether h2o-ci does.
	when func(cfg *config.Config) bool
	ci   bool
	// covers picks the resources: a CfnResource of the stage (or of h2o-ci), as built.
	covers func(r nagResource) bool
}

// nagResource is one CloudFormation resource as nistExceptions' covers functions see it.
type nagResource struct {
	awscdk.CfnResource
	Type, Path string
	// Owner is the construct id of the L2 construct the resource belongs to (AlbLogBucket for .../AlbLogBucket/Resource).
	Owner string
	Cfg   *config.Config // nil in h2o-ci
	Stage *H2oStage      // nil in h2o-ci
}

// disposable stages are the ones whose data goes with their stacks (no deletion protection: dev). Only they may
// trade a NIST control for cost on their own say-so; a protected stage (prod) that wants the same needs an
// exception of its own, with its own reason.
func disposable(cfg *config.Config) bool { return !cfg.DeletionProtection }

// nistExceptions: every NIST 800-53 rev 5 rule suppressed anywhere in the app. The rules the app meets by design
// (log groups and secrets on the stage key, versioned log buckets, 15 days of cache snapshots in prod, no
// redirect-only listener with a domain) are not here: they are findings again the day they regress.
var nistExceptions = []nistException{
	{Rule: "IAMNoInlinePolicy", Covers: "every role's policy (AWS::IAM::Policy: the DefaultPolicy of the CDK's grants)", When: "every stage, h2o-ci", ci: true,
		Reason: "The CDK's grants write each role's least-privilege statements into one inline policy attached to that role only (DefaultPolicy); a managed policy would be a second, separately versioned resource holding the same statements. AwsSolutions-IAM5 still reviews every wildcard in them.",
		covers: ofType("AWS::IAM::Policy")}, // a role's own Policies property stays a finding: grant with AddToPolicy
	{Rule: "VPCNoUnrestrictedRouteToIGW", Covers: "the public subnets' default routes", When: "every stage",
		Reason: "A public subnet is one whose default route is the internet gateway: the NAT gateways (prod) and, without NAT, the tasks with public IPs (dev saves the NAT's cost) need it. Nothing inbound is admitted through it: the ALB is internal and every security group lists its sources.",
		covers: func(r nagResource) bool {
			return r.Type == "AWS::EC2::Route" && strings.Contains(r.Path, "/Vpc/publicSubnet")
		}},
	{Rule: "ALBWAFEnabled", Covers: "the internal ALB", When: "every stage",
		Reason: "The ALB is internal: CloudFront's VPC origin is its only client, and the web ACL sits on the distribution (wafMode; off in dev for its fixed cost). A regional web ACL on the ALB would inspect the same requests a second time for its own monthly fee.",
		covers: func(r nagResource) bool { return r.Path == pathOf(r.Stage.Compute.BackendService.LoadBalancer()) }},
	{Rule: "ALBHttpToHttpsRedirection", Covers: "the ALB's HTTP listener; the port-80 listener bridging a domain's first deploy",
		When: "stages without domainName; the one deploy with httpOriginTargetGroup", when: plainHTTPOrigin,
		Reason: "Without a domain no certificate can exist for the internal ALB, so CloudFront's VPC origin reaches it over HTTP inside the VPC; viewers only get HTTPS (CloudFront redirects them). Setting domainName gives the ALB an ACM certificate and an HTTPS-only listener; for the one deploy that adds it, a port-80 listener keeps serving the old HTTP origin until CloudFront has switched (docs/runbook.md, \"Adding a domain to a running stage\"), and the next deploy removes it.",
		covers: httpListener},
	{Rule: "ELBv2ACMCertificateRequired", Covers: "the ALB's HTTP listener; the port-80 listener bridging a domain's first deploy",
		When: "stages without domainName; the one deploy with httpOriginTargetGroup", when: plainHTTPOrigin,
		Reason: "Without a domain there is nothing to issue an ACM certificate for (see ALBHttpToHttpsRedirection); setting domainName puts one on the listener, and the bridge listener of the deploy that adds it goes with the next deploy.",
		covers: httpListener},
	{Rule: "CloudWatchAlarmAction", Covers: "compute's two deployment alarms", When: "every stage",
		Reason: "These alarms roll ECS deployments back; their ALARM and OK state changes reach the alarm topic through an EventBridge rule (observability), because the topic lives in a later stack that compute cannot name without a dependency cycle.",
		covers: func(r nagResource) bool {
			return r.Type == "AWS::CloudWatch::Alarm" && (r.Path == pathOf(r.Stage.Compute.ErrorRateAlarm) || r.Path == pathOf(r.Stage.Compute.UnhealthyHostsAlarm))
		}},
	{Rule: "S3BucketLoggingEnabled", Covers: "the log buckets", When: "every stage",
		Reason: "These buckets receive the S3, ALB and CloudFront access logs; logging access to them would need yet another log bucket, whose own access would go unlogged (as AwsSolutions-S1).",
		covers: logBucket},
	{Rule: "S3BucketReplicationEnabled", Covers: "the log buckets; the PDF bucket without pdfReplicationBucketArn", When: "every stage",
		Reason: "Logs, and PDFs unless pdfReplicationBucketArn is set, stay in the stage's region: versioning keeps deleted or overwritten objects for a while (logs 7 days, PDFs pdfNoncurrentVersionDays), and a copy in another region would double their storage and add transfer for a regional outage the stage is not built to survive.",
		covers: func(r nagResource) bool {
			return logBucket(r) || (r.Type == "AWS::S3::Bucket" && r.Owner == "PdfBucket" && r.Cfg.PDFReplicationBucketARN == "")
		}},
	{Rule: "S3DefaultEncryptionKMS", Covers: "the log buckets; the PDF bucket without customerManagedDataKey", When: "every stage",
		Reason: "Log buckets use SSE-S3: ALB access logs can only be delivered to SSE-S3 buckets (ALB user guide, \"Enable access logs\"), and one encryption serves every log bucket. A stage without customerManagedDataKey (dev: test PDFs only) keeps its PDFs on SSE-S3 too; prod's are on its data key.",
		covers: func(r nagResource) bool {
			return logBucket(r) || (r.Type == "AWS::S3::Bucket" && r.Owner == "PdfBucket" && !r.Cfg.CustomerManagedDataKey)
		}},
	{Rule: "SecretsManagerRotationEnabled", Covers: "the API keys' secrets and the cache AUTH token", When: "every stage",
		Reason: "No rotation function exists for these values: third-party API keys are rotated at their provider and put with put-secret-value, the Valkey AUTH token with ModifyReplicationGroup's ROTATE strategy (docs/runbook.md); as AwsSolutions-SMG4. RDS rotates the database's own secret.",
		covers: func(r nagResource) bool {
			return r.Type == "AWS::SecretsManager::Secret" && (strings.HasPrefix(r.Owner, "AppSecret-") || r.Owner == "CacheAuthToken")
		}},
	{Rule: "CdkNagValidationFailure", Of: []string{"EC2RestrictedCommonPorts", "EC2RestrictedSSH"},
		Covers: "compute's ingress rule into the database's security group", When: "every stage",
		Reason: "cdk-nag cannot read the port (the database endpoint's, a token). The rules look for ingress from 0.0.0.0/0; this one's source is the service's security group, never an address range.",
		// The CDK names a rule after its peer and port, and a port it cannot read yet "{IndirectPort}".
		covers: func(r nagResource) bool {
			return r.Type == "AWS::EC2::SecurityGroupIngress" && strings.Contains(r.Path, "/ServiceSecurityGroup/") &&
				strings.Contains(r.Owner, "DatabaseSecurityGroup") && strings.Contains(r.Owner, ":{IndirectPort}")
		}},
	// What a disposable stage trades for cost, each set in config.
	{Rule: "ELBDeletionProtectionEnabled", Covers: "the ALB", When: "disposable stages (dev)", when: disposable,
		Reason: "dev is disposable (deletionProtection=false): its stacks, ALB included, go with `cdk destroy`; prod's ALB has deletion protection.",
		covers: ofType("AWS::ElasticLoadBalancingV2::LoadBalancer")},
	{Rule: "RDSInstanceDeletionProtectionEnabled", Covers: "the database", When: "disposable stages (dev)", when: disposable,
		Reason: "dev's database is disposable (deletionProtection=false, as AwsSolutions-RDS10); prod's has deletion protection and a final snapshot.",
		covers: ofType("AWS::RDS::DBInstance")},
	{Rule: "RDSMultiAZSupport", Covers: "the database", When: "disposable stages without dbMultiAz (dev)",
		when:   func(cfg *config.Config) bool { return disposable(cfg) && !cfg.DBMultiAZ },
		Reason: "dev runs its database in one AZ (dbMultiAz=false, as AwsSolutions-RDS3): a standby would double the database's cost for a stage nobody depends on.",
		covers: ofType("AWS::RDS::DBInstance")},
	{Rule: "RDSEnhancedMonitoringEnabled", Covers: "the database", When: "disposable stages without enhancedMonitoring (dev)",
		when:   func(cfg *config.Config) bool { return disposable(cfg) && !cfg.EnhancedMonitoring },
		Reason: "dev skips enhanced monitoring (enhancedMonitoring=false): its OS metrics are CloudWatch Logs ingestion, paid for a stage whose load is tests; prod samples every 60 s.",
		covers: ofType("AWS::RDS::DBInstance")},
	{Rule: "RDSInBackupPlan", Covers: "the database", When: "disposable stages without backupPlan (dev)",
		when:   func(cfg *config.Config) bool { return disposable(cfg) && !cfg.BackupPlan },
		Reason: "dev relies on RDS automated backups alone (backupPlan=false): no AWS Backup vault and copies for test data; prod's database is in a locked AWS Backup plan.",
		covers: ofType("AWS::RDS::DBInstance")},
	{Rule: "WAFv2LoggingEnabled", Covers: "the web ACL", When: "disposable stages with WAF on and wafLogging off",
		when: func(cfg *config.Config) bool {
			return disposable(cfg) && cfg.WAFMode != config.WAFOff && !cfg.WAFLogging
		},
		Reason: "A disposable stage that runs WAF (wafMode=count, to preview prod's rules) may leave its request logs off (wafLogging=false): they are CloudWatch Logs ingestion of every request, paid for test traffic; the ACL's metrics and sampled requests remain. prod logs every request.",
		covers: ofType("AWS::WAFv2::WebACL")},
	{Rule: "ElastiCacheRedisClusterAutomaticBackup", Covers: "the cache", When: "disposable stages (dev)", when: disposable,
		Reason: "dev's cache keeps no snapshots: it holds job status and rate-limit counters that rebuild themselves, and snapshots are storage paid for nothing; prod keeps 15 days.",
		covers: ofType("AWS::ElastiCache::ReplicationGroup")},
}

func ofType(typ string) func(nagResource) bool {
	return func(r nagResource) bool { return r.Type == typ }
}

// logBucket: the buckets newLogBucket makes, whose construct ids end in LogBucket.
func logBucket(r nagResource) bool {
	return r.Type == "AWS::S3::Bucket" && strings.HasSuffix(r.Owner, "LogBucket")
}

// serviceListener: the listener the service's pattern puts on the ALB (HTTP without a domain).
func serviceListener(r nagResource) bool {
	return r.Path == pathOf(r.Stage.Compute.BackendService.Listener())
}

// httpListener: the service's listener (HTTP without a domain) or the port-80 listener bridging a domain's first
// deploy (bridgeHTTPOrigin's HttpOriginListener).
func httpListener(r nagResource) bool {
	return serviceListener(r) || (r.Type == "AWS::ElasticLoadBalancingV2::Listener" && r.Owner == "HttpOriginListener")
}

func pathOf(c constructs.IConstruct) string { return *c.Node().DefaultChild().Node().Path() }

// applyNistExceptions suppresses, on every resource under scope, the exceptions that cover it. Called once the
// stage (or h2o-ci) is built: a suppression on a construct reaches only the children that exist when it is made,
// and the CDK adds some late (a role's DefaultPolicy appears with its first grant). stage and cfg are nil for h2o-ci.
func applyNistExceptions(scope constructs.IConstruct, stage *H2oStage, cfg *config.Config) {
	for _, c := range *scope.Node().FindAll(constructs.ConstructOrder_PREORDER) {
		if !*awscdk.CfnResource_IsCfnResource(c) {
			continue
		}
		res := nagResource{CfnResource: c.(awscdk.CfnResource), Path: *c.Node().Path(), Cfg: cfg, Stage: stage}
		res.Type = *res.CfnResourceType()
		res.Owner = *c.Node().Id()
		if res.Owner == "Resource" || res.Owner == "Default" {
			res.Owner = *c.Node().Scope().Node().Id()
		}
		var list []*cdknag.NagPackSuppression
		for _, e := range nistExceptions {
			if !e.appliesIn(cfg) || !e.covers(res) {
				continue
			}
			s := &cdknag.NagPackSuppression{Id: jsii.String(e.id()), Reason: jsii.String(e.Reason)}
			if len(e.Of) > 0 {
				var of []interface{}
				for _, rule := range e.Of {
					of = append(of, nistPack+"-"+rule)
				}
				s.AppliesTo = &of
			}
			list = append(list, s)
		}
		if len(list) > 0 {
			cdknag.NagSuppressions_AddResourceSuppressions(c, &list, jsii.Bool(false))
		}
	}
}

// appliesIn says whether the exception holds in a stage with cfg (nil: h2o-ci).
func (e nistException) appliesIn(cfg *config.Config) bool {
	if cfg == nil {
		return e.ci
	}
	return e.when == nil || e.when(cfg)
}

// id is the suppression's rule id as cdk-nag reports it.
func (e nistException) id() string {
	if len(e.Of) > 0 {
		return e.Rule
	}
	return nistPack + "-" + e.Rule
}

// README.md's list of NIST exceptions lies between these markers (`make readme` rewrites it from nistExceptions).
const (
	NistReadmeBegin = "<!-- nist:begin (generated by `make readme` from stacks/nist.go; do not edit) -->"
	NistReadmeEnd   = "<!-- nist:end -->"
)

// NistExceptionsMarkdown renders nistExceptions as README's table: each rule, what it covers, when, in which stages
// the committed settings (configs, by stage) take it, and why.
func NistExceptionsMarkdown(configs map[string]*config.Config) string {
	var b strings.Builder
	b.WriteString("| NIST 800-53 rev 5 rule | covers | when | with the committed settings | why |\n|---|---|---|---|---|\n")
	for _, e := range nistExceptions {
		var in []string
		for _, stage := range config.Stages() {
			if e.appliesIn(configs[stage]) {
				in = append(in, stage)
			}
		}
		if e.ci {
			in = append(in, "h2o-ci")
		}
		rule := "`" + e.Rule + "`"
		if len(e.Of) > 0 {
			rule = "`" + strings.Join(e.Of, "`, `") + "` (" + e.Rule + ": cdk-nag could not evaluate them)"
		}
		taken := strings.Join(in, ", ")
		if taken == "" {
			taken = "none"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", rule, e.Covers, e.When, taken, strings.ReplaceAll(e.Reason, "|", `\|`))
	}
	return b.String()
}
