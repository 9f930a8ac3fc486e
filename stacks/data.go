package stacks

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsbackup"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticache"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"h2o-infra/config"
)

const (
	databaseName = "h2o"
	cachePort    = 6379
	// cacheSnapshotDays is how many daily snapshots a protected stage's cache keeps (newCache).
	cacheSnapshotDays = 15
	// rdsBackupWindow is when RDS takes its automated backup (UTC); AWS Backup's plan runs before it (backup.go).
	rdsBackupWindow = "07:00-08:00"
)

// postgresVersion is the configured full minor. RDS's automatic minor upgrades are off (newDatabase): with them
// on, RDS moves the instance past the template's minor, and a later template change to a lower minor fails
// (RDS refuses an EngineVersion below the running one); an EngineVersion change is an in-place update ("Some interruptions",
// AWS::RDS::DBInstance reference), so a bump in config is reviewed like any change and applied by the deploy.
// Minors leave RDS standard support on a published calendar; config refuses the retired ones (its
// postgresRetirements), since after the end date RDS upgrades the instance itself and refuses to create new ones
// (a new stage, a restore) on them.
func postgresVersion(cfg *config.Config) awsrds.PostgresEngineVersion {
	major, _, _ := strings.Cut(cfg.DBEngineVersion, ".")
	return awsrds.PostgresEngineVersion_Of(jsii.String(cfg.DBEngineVersion), jsii.String(major), nil)
}

// DataStack holds everything stateful: the database, the cache, the PDF bucket and the app's secrets.
type DataStack struct {
	awscdk.Stack
	Database  awsrds.DatabaseInstance
	Cache     *Cache
	PdfBucket awss3.Bucket
	// AppSecrets are the backend's API keys by name, one secret h2o/<stage>/app/<KEY> per config.AppSecretKeys.
	AppSecrets map[string]awssecretsmanager.Secret
	// DatabaseInstanceID is the instance identifier (h2o-<stage>-postgres); AllocatedStorageGiB its storage and
	// BurstableClass whether it runs on CPU credits (a db.t* class): what its alarms watch.
	DatabaseInstanceID  string
	AllocatedStorageGiB int
	BurstableClass      bool
	// DataKey encrypts the database, the PDF bucket and the backup vault (nil: AWS-managed keys).
	DataKey awskms.Key
	// BackupVault holds the AWS Backup recovery points of the database (nil without a backup plan).
	BackupVault awsbackup.BackupVault
	// Metrics from PostgreSQL's log, where log_min_duration_statement=1000 logs every statement over 1 s.
	SlowQueryCount, SlowQueryDuration awscloudwatch.Metric
}

// TaskSecretArns are the secrets the backend's tasks read (ECS injects them when a task starts): the RDS-managed
// master secret, every app key and the cache AUTH token.
func (d *DataStack) TaskSecretArns() []*string {
	arns := []*string{d.Database.Secret().SecretArn()}
	for _, key := range sortedKeys(d.AppSecrets) {
		arns = append(arns, d.AppSecrets[key].SecretArn())
	}
	return append(arns, d.Cache.AuthSecret.SecretArn())
}

// Cache is the Valkey replication group and what a client needs to reach it.
type Cache struct {
	ReplicationGroup awselasticache.CfnReplicationGroup
	SecurityGroup    awsec2.SecurityGroup
	AuthSecret       awssecretsmanager.Secret // the AUTH token, generated, never in the template
	Port             int
	// NodeIDs are the members' cache cluster ids, <group>-001, -002, ...: what per-node metrics are named by.
	NodeIDs []string
}

// Endpoint is the primary endpoint address clients connect to (TLS on Port).
func (c *Cache) Endpoint() *string { return c.ReplicationGroup.AttrPrimaryEndPointAddress() }

// NewDataStack builds the stateful layer in the network's isolated subnets.
func NewDataStack(scope constructs.Construct, cfg *config.Config, network *NetworkStack) *DataStack {
	stack := newLayerStack(scope, cfg, "data", "PostgreSQL, Valkey cache, PDF bucket, secrets")
	d := &DataStack{Stack: stack, DatabaseInstanceID: Names{cfg.Stage}.Database(), AllocatedStorageGiB: cfg.DBAllocatedStorageGiB,
		BurstableClass: strings.HasPrefix(cfg.DBInstanceClass, "db.t")}
	if cfg.CustomerManagedDataKey {
		d.DataKey = newDataKey(stack, cfg)
	}
	var pgLog awslogs.LogGroup
	d.Database, pgLog = newDatabase(stack, cfg, network, d.DatabaseInstanceID, d.DataKey)
	scriptOutputs := map[string]*string{"DatabaseInstanceId": jsii.String(d.DatabaseInstanceID),
		"DatabaseSecretArn": d.Database.Secret().SecretArn()}
	if cfg.BackupPlan {
		d.BackupVault = newBackupPlan(stack, cfg, d.Database, d.DataKey)
		scriptOutputs["BackupVaultName"] = d.BackupVault.BackupVaultName()
		// The lock scripts/verify.sh expects on the live vault (drift detection cannot see it: ChangeableForDays is
		// write-only in the resource's schema). Outputs only: the vault resource itself never changes (backup.go).
		scriptOutputs["BackupVaultLockMode"] = jsii.String(cfg.BackupVaultLock)
		scriptOutputs["BackupVaultMinRetentionDays"] = jsii.String(fmt.Sprint(dailyBackupDays))
	}
	outputs(stack, "for scripts/deploy.sh, verify.sh and restore.sh", scriptOutputs)
	d.SlowQueryCount, d.SlowQueryDuration = slowQueryMetrics(stack, cfg, pgLog)
	if cfg.StopDatabaseOffHours {
		stopDatabaseOffHours(stack, cfg, d.Database, d.DatabaseInstanceID)
	}
	// The secrets are encrypted with the stage key (NIST 800-53 rev 5 SecretsManagerUsingKMSKey), imported: see
	// importedStageKey. Moving an existing secret to it only re-encrypts its current versions (Secrets Manager user
	// guide, "Change the encryption key for a secret"); docs/runbook.md says how to roll it out.
	secretKey := importedStageKey(stack)
	d.Cache = newCache(stack, cfg, network, secretKey)
	// What scripts/versions.sh compares with what AWS still supports: the engine versions as the templates set them
	// (read from the resources, so they follow wherever the settings put them) and the group to read the running one.
	outputs(stack, "for scripts/versions.sh", map[string]*string{
		"DatabaseEngineVersion":   d.Database.Node().DefaultChild().(awsrds.CfnDBInstance).EngineVersion(),
		"CacheReplicationGroupId": d.Cache.ReplicationGroup.ReplicationGroupId(),
		"CacheEngineVersion":      d.Cache.ReplicationGroup.EngineVersion(),
	})
	d.PdfBucket = newPdfBucket(stack, cfg, d.DataKey)
	d.AppSecrets = newAppSecrets(stack, cfg, secretKey)
	return d
}

func newDatabase(stack awscdk.Stack, cfg *config.Config, network *NetworkStack, id string, key awskms.Key) (awsrds.DatabaseInstance, awslogs.LogGroup) {
	sg := awsec2.NewSecurityGroup(stack, jsii.String("DatabaseSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc: network.Vpc, AllowAllOutbound: jsii.Bool(false),
		Description: jsii.String("PostgreSQL: ingress only from the backend service (added by compute)"),
	})
	// Log groups made here (not by CloudwatchLogsRetention's Lambda) so retention, removal and the slow-query
	// metric filter are plain CloudFormation.
	logs := map[string]awslogs.LogGroup{}
	for _, kind := range []string{"postgresql", "upgrade"} {
		logs[kind] = newLogGroup(stack, "DatabaseLog-"+kind, cfg, Names{cfg.Stage}.DatabaseLogGroup(kind))
	}
	engine := awsrds.DatabaseInstanceEngine_Postgres(&awsrds.PostgresInstanceEngineProps{Version: postgresVersion(cfg)})
	params := awsrds.NewParameterGroup(stack, jsii.String("DatabaseParameters"), &awsrds.ParameterGroupProps{
		Engine:      engine,
		Description: jsii.String("h2o: TLS only, log statements slower than 1 s"),
		Parameters: &map[string]*string{
			"rds.force_ssl":              jsii.String("1"),
			"log_min_duration_statement": jsii.String("1000"), // ms; the slow-query alarm reads these lines
		},
	})
	props := &awsrds.DatabaseInstanceProps{
		Engine:             engine,
		InstanceIdentifier: jsii.String(id),
		InstanceType:       awsec2.NewInstanceType(jsii.String(strings.TrimPrefix(cfg.DBInstanceClass, "db."))),
		Vpc:                network.Vpc,
		VpcSubnets:         network.DataSubnets,
		SecurityGroups:     &[]awsec2.ISecurityGroup{sg},
		PubliclyAccessible: jsii.Bool(false),
		MultiAz:            jsii.Bool(cfg.DBMultiAZ),
		DatabaseName:       jsii.String(databaseName),
		// RDS owns and rotates the master password in Secrets Manager; it never exists in code or template.
		Credentials:              awsrds.Credentials_FromUsername(jsii.String("h2o_admin"), nil),
		ManageMasterUserPassword: jsii.Bool(true),
		IamAuthentication:        jsii.Bool(true),
		StorageType:              awsrds.StorageType_GP3,
		AllocatedStorage:         jsii.Number(float64(cfg.DBAllocatedStorageGiB)),
		MaxAllocatedStorage:      jsii.Number(float64(cfg.DBMaxAllocatedStorageGiB)),
		StorageEncrypted:         jsii.Bool(true), // with the stage's data key, else RDS's AWS-managed key
		StorageEncryptionKey:     key,
		CaCertificate:            awsrds.CaCertificate_RDS_CA_RSA2048_G1(),
		ParameterGroup:           params,
		BackupRetention:          awscdk.Duration_Days(jsii.Number(float64(cfg.BackupRetentionDays))),
		// UTC, outside US business hours; maintenance follows the backup window so they never overlap.
		PreferredBackupWindow:      jsii.String(rdsBackupWindow),
		PreferredMaintenanceWindow: jsii.String("sun:08:30-sun:09:30"),
		AutoMinorVersionUpgrade:    jsii.Bool(false), // the version is config's (postgresVersion)
		CloudwatchLogsExports:      jsii.Strings("postgresql", "upgrade"),
		CopyTagsToSnapshot:         jsii.Bool(true),
		DeletionProtection:         jsii.Bool(cfg.DeletionProtection),
		DeleteAutomatedBackups:     jsii.Bool(!cfg.DeletionProtection),
		RemovalPolicy:              statefulRemoval(cfg, awscdk.RemovalPolicy_SNAPSHOT),
	}
	if cfg.EnhancedMonitoring {
		props.MonitoringInterval = awscdk.Duration_Seconds(jsii.Number(60))
	}
	if cfg.PerformanceInsights {
		props.EnablePerformanceInsights = jsii.Bool(true)
		props.DatabaseInsightsMode = awsrds.DatabaseInsightsMode_STANDARD
	}
	db := awsrds.NewDatabaseInstance(stack, jsii.String("Database"), props)
	db.Node().AddDependency(logs["postgresql"], logs["upgrade"])

	reasons := map[string]string{
		"AwsSolutions-RDS11": "Port obscurity adds nothing here: the instance is in isolated subnets and its security group admits only the backend service.",
	}
	if !cfg.DBMultiAZ {
		reasons["AwsSolutions-RDS3"] = "dev runs single-AZ to halve the database cost; prod is Multi-AZ (config DbMultiAz)."
	}
	if !cfg.DeletionProtection {
		reasons["AwsSolutions-RDS10"] = "dev databases are disposable; prod has deletion protection (config DeletionProtection)."
	}
	suppress(db, reasons)
	if cfg.EnhancedMonitoring {
		suppress(db, map[string]string{
			"AwsSolutions-IAM4": "Enhanced monitoring's role needs AWS's AmazonRDSEnhancedMonitoringRole managed policy; it grants only log writes to RDSOSMetrics.",
		})
	}
	return db, logs["postgresql"]
}

// stopDatabaseOffHours stops the instance with the service's off-hours schedule and starts it dbStartLeadMinutes
// before the working-hours one (RDS takes minutes to start; tasks starting first would fail their health checks
// against it): EventBridge Scheduler calls RDS directly through a universal target, no Lambda (Scheduler user
// guide, "Using universal targets": arn:aws:scheduler:::aws-sdk:service:apiAction). RDS restarts a stopped
// instance by itself after 7 days (RDS API reference, "StopDBInstance"); the next off-hours schedule stops it again.
func stopDatabaseOffHours(stack awscdk.Stack, cfg *config.Config, db awsrds.DatabaseInstance, id string) {
	role := awsiam.NewRole(stack, jsii.String("DatabaseSchedulerRole"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("scheduler.amazonaws.com"), nil),
	})
	// A DefaultPolicy like every other role's (NIST IAMNoInlinePolicy's one exception, nist.go), not the role's
	// own Policies property.
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("rds:StopDBInstance", "rds:StartDBInstance"), Resources: jsii.Strings(*db.InstanceArn())}))
	input := fmt.Sprintf(`{"DbInstanceIdentifier":%q}`, id)
	start, _ := cfg.DatabaseStartCron() // validated with the config
	calls := map[string][2]string{"StopDatabase": {cfg.ScaleDownCron, "stopDBInstance"},
		"StartDatabase": {start, "startDBInstance"}}
	for _, id := range sortedKeys(calls) {
		call := calls[id]
		awsscheduler.NewCfnSchedule(stack, jsii.String(id), &awsscheduler.CfnScheduleProps{
			ScheduleExpression: jsii.String(call[0]), ScheduleExpressionTimezone: jsii.String(cfg.ScheduleTimeZone),
			FlexibleTimeWindow: &awsscheduler.CfnSchedule_FlexibleTimeWindowProperty{Mode: jsii.String("OFF")},
			Target: &awsscheduler.CfnSchedule_TargetProperty{
				Arn: jsii.String("arn:aws:scheduler:::aws-sdk:rds:" + call[1]), RoleArn: role.RoleArn(), Input: jsii.String(input)},
		})
	}
}

// slowQueryMetrics turns PostgreSQL's "LOG:  duration: 1234.567 ms  statement: ..." lines into a count and a
// duration metric. The count is a plain term match; the duration is a space-delimited parse of the same line
// (unverified against real RDS lines: check with `aws logs test-metric-filter`, docs/runbook.md).
func slowQueryMetrics(stack awscdk.Stack, cfg *config.Config, pgLog awslogs.LogGroup) (awscloudwatch.Metric, awscloudwatch.Metric) {
	namespace := fmt.Sprintf("H2O/%s/Database", cfg.Stage) // per stage: both stages may share an account
	pgLog.AddMetricFilter(jsii.String("SlowQueryCount"), &awslogs.MetricFilterOptions{
		FilterPattern:   awslogs.FilterPattern_AllTerms(jsii.String("LOG:"), jsii.String("duration:")),
		MetricNamespace: jsii.String(namespace), MetricName: jsii.String("SlowQueryCount"), MetricValue: jsii.String("1"),
	})
	pgLog.AddMetricFilter(jsii.String("SlowQueryDuration"), &awslogs.MetricFilterOptions{
		FilterPattern:   awslogs.FilterPattern_Literal(jsii.String(`[date, time, session, marker = "duration:", duration, unit = "ms", ...]`)),
		MetricNamespace: jsii.String(namespace), MetricName: jsii.String("SlowQueryDuration"),
		MetricValue: jsii.String("$duration"), Unit: awscloudwatch.Unit_MILLISECONDS,
	})
	metric := func(name, statistic string) awscloudwatch.Metric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{Namespace: jsii.String(namespace),
			MetricName: jsii.String(name), Statistic: jsii.String(statistic), Period: awscdk.Duration_Minutes(jsii.Number(5))})
	}
	return metric("SlowQueryCount", "Sum"), metric("SlowQueryDuration", "Average")
}

func newCache(stack awscdk.Stack, cfg *config.Config, network *NetworkStack, secretKey awskms.IKey) *Cache {
	sg := awsec2.NewSecurityGroup(stack, jsii.String("CacheSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc: network.Vpc, AllowAllOutbound: jsii.Bool(false),
		Description: jsii.String("Valkey: ingress only from the backend service (added by compute)"),
	})
	auth := awssecretsmanager.NewSecret(stack, jsii.String("CacheAuthToken"), &awssecretsmanager.SecretProps{
		SecretName:  jsii.String(Names{cfg.Stage}.Secret("cache-auth")),
		Description: jsii.String("Valkey AUTH token"),
		// AUTH tokens allow 16-128 printable characters but not every punctuation mark: letters and digits only.
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			ExcludePunctuation: jsii.Bool(true), PasswordLength: jsii.Number(64),
		},
		EncryptionKey: secretKey,
		RemovalPolicy: statefulRemoval(cfg, awscdk.RemovalPolicy_RETAIN_ON_UPDATE_OR_DELETE),
	})
	suppress(auth, map[string]string{
		"AwsSolutions-SMG4": "Secrets Manager has no rotation function for ElastiCache AUTH tokens; rotation is a ModifyReplicationGroup with AuthTokenUpdateStrategy ROTATE (docs/runbook.md).",
	})
	subnets := awselasticache.NewCfnSubnetGroup(stack, jsii.String("CacheSubnets"), &awselasticache.CfnSubnetGroupProps{
		Description: jsii.String("h2o cache: isolated data subnets"),
		SubnetIds:   toAnySlice(network.Vpc.SelectSubnets(network.DataSubnets).SubnetIds),
	})
	failover := cfg.CacheReplicas > 0
	snapshotDays := 0 // dev: the cache holds nothing worth restoring
	if cfg.DeletionProtection {
		// Daily snapshots kept 15 days, the least NIST 800-53 rev 5 ElastiCacheRedisClusterAutomaticBackup accepts
		// (cdk-nag 2.38.2 RULES.md, after the AWS Config rule elasticache-redis-cluster-automatic-backup-check); an
		// in-place change (ElastiCache API reference, "ModifyReplicationGroup": SnapshotRetentionLimit).
		snapshotDays = cacheSnapshotDays
	}
	group := awselasticache.NewCfnReplicationGroup(stack, jsii.String("Cache"), &awselasticache.CfnReplicationGroupProps{
		ReplicationGroupId:          jsii.String(Names{cfg.Stage}.Cache()), // fixed, so its nodes' metrics can be named
		ReplicationGroupDescription: jsii.String(fmt.Sprintf("h2o %s cache (job status, rate limiting)", cfg.Stage)),
		// Valkey: the same protocol and clients as Redis OSS, 20 % cheaper per node-hour.
		Engine: jsii.String("valkey"),
		// An upgrade in place (the group is never replaced: only Engine and Port force that, CloudFormation
		// AWS::ElastiCache::ReplicationGroup); ElastiCache refuses a lower version ("you cannot downgrade").
		EngineVersion:            jsii.String(cfg.CacheEngineVersion),
		CacheNodeType:            jsii.String(cfg.CacheNodeType),
		NumCacheClusters:         jsii.Number(float64(1 + cfg.CacheReplicas)),
		AutomaticFailoverEnabled: jsii.Bool(failover),
		MultiAzEnabled:           jsii.Bool(failover),
		CacheSubnetGroupName:     subnets.Ref(),
		SecurityGroupIds:         jsii.Strings(*sg.SecurityGroupId()),
		Port:                     jsii.Number(cachePort),
		TransitEncryptionEnabled: jsii.Bool(true),
		AtRestEncryptionEnabled:  jsii.Bool(true),
		// A {{resolve:secretsmanager:...}} dynamic reference: CloudFormation resolves it, the template never holds it.
		AuthToken:                  auth.SecretValue().UnsafeUnwrap(),
		AutoMinorVersionUpgrade:    jsii.Bool(true),
		SnapshotRetentionLimit:     jsii.Number(float64(snapshotDays)),
		SnapshotWindow:             jsii.String("06:00-07:00"),
		PreferredMaintenanceWindow: jsii.String("sun:09:30-sun:10:30"),
	})
	group.ApplyRemovalPolicy(statefulRemoval(cfg, awscdk.RemovalPolicy_SNAPSHOT), nil)
	if !failover {
		suppress(group, map[string]string{
			"AwsSolutions-AEC4": "dev runs one cache node (cost); prod has a replica with automatic failover and Multi-AZ (config CacheReplicas).",
		})
	}
	return &Cache{ReplicationGroup: group, SecurityGroup: sg, AuthSecret: auth, Port: cachePort,
		NodeIDs: cacheNodeIDs(Names{cfg.Stage}.Cache(), 1+cfg.CacheReplicas)}
}

// newPdfBucket is the backend's PDF store. Versioned, and noncurrent versions are kept pdfNoncurrentVersionDays,
// so an overwrite or a mass delete can be undone (docs/runbook.md, "restore a prefix to a point in time");
// optionally replicated to a bucket elsewhere. With the stage's data key, SSE-KMS with an S3 Bucket Key (one
// KMS request per bucket and period instead of per object).
func newPdfBucket(stack awscdk.Stack, cfg *config.Config, key awskms.Key) awss3.Bucket {
	removal := statefulRemoval(cfg, awscdk.RemovalPolicy_RETAIN)
	props := &awss3.BucketProps{
		BlockPublicAccess:      awss3.BlockPublicAccess_BLOCK_ALL(),
		Encryption:             awss3.BucketEncryption_S3_MANAGED,
		EnforceSSL:             jsii.Bool(true),
		ObjectOwnership:        awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		Versioned:              jsii.Bool(true),
		ServerAccessLogsBucket: newLogBucket(stack, "AccessLogBucket", cfg, "access-logs", 365, false),
		ServerAccessLogsPrefix: jsii.String("pdf-bucket/"),
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id: jsii.String("pdf-tiering"),
			// PDFs are read mostly in their first weeks; IA is ~45 % cheaper per GB after the 30-day minimum.
			Transitions: &[]*awss3.Transition{{
				StorageClass: awss3.StorageClass_INFREQUENT_ACCESS(), TransitionAfter: awscdk.Duration_Days(jsii.Number(30)),
			}},
			NoncurrentVersionExpiration:         awscdk.Duration_Days(jsii.Number(float64(cfg.PDFNoncurrentVersionDays))),
			AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(7)),
		}},
		RemovalPolicy:     removal,
		AutoDeleteObjects: jsii.Bool(removal == awscdk.RemovalPolicy_DESTROY),
	}
	if key != nil {
		props.Encryption, props.EncryptionKey, props.BucketKeyEnabled = awss3.BucketEncryption_KMS, key, jsii.Bool(true)
	}
	if cfg.PDFReplicationBucketARN != "" {
		// Every new object and version to a versioned bucket elsewhere (S3 user guide, "Replicating objects").
		rule := &awss3.ReplicationRule{Priority: jsii.Number(1),
			Destination: awss3.Bucket_FromBucketArn(stack, jsii.String("PdfReplica"), jsii.String(cfg.PDFReplicationBucketARN))}
		if key != nil {
			rule.SseKmsEncryptedObjects = jsii.Bool(true)
			rule.KmsKey = awskms.Key_FromKeyArn(stack, jsii.String("PdfReplicaKey"), jsii.String(cfg.PDFReplicationKMSKeyARN))
		}
		props.ReplicationRules = &[]*awss3.ReplicationRule{rule}
	}
	bucket := awss3.NewBucket(stack, jsii.String("PdfBucket"), props)
	if cfg.PDFReplicationBucketARN != "" {
		suppressWildcards(bucket, "S3 replication's role (made by the CDK) acts on the objects of the source and destination "+
			"buckets (<bucket ARN>/*), and for SSE-KMS objects re-encrypts them with the destination's key (kms:ReEncrypt*, GenerateDataKey*).",
			`/^Resource::<PdfBucket[A-Z0-9]+\.Arn>\/\*$/`, `/^Resource::arn:aws:s3:::.+\/\*$/`, "Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*")
	}
	return bucket
}

// cacheNodeIDs are the node (cache cluster) ids ElastiCache gives a group's members: <group>-001, -002, ...
func cacheNodeIDs(group string, nodes int) []string {
	var ids []string
	for i := 1; i <= nodes; i++ {
		ids = append(ids, fmt.Sprintf("%s-%03d", group, i))
	}
	return ids
}
