package stacks

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"

	"h2o-infra/config"
)

func TestDatabaseMatchesTheStageConfig(t *testing.T) {
	forEachStage(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		_, db := only(t, s.Data.Stack, "AWS::RDS::DBInstance")
		p := props(db)
		// GIVEN the stage config WHEN synthesized THEN the instance carries it
		want := map[string]interface{}{
			"DBInstanceClass": cfg.DBInstanceClass, "MultiAZ": cfg.DBMultiAZ, "Engine": "postgres",
			// The version is config's full minor and stays so: RDS's automatic minor upgrades are off.
			"EngineVersion": cfg.DBEngineVersion, "AutoMinorVersionUpgrade": false, "PubliclyAccessible": false, "StorageEncrypted": true, "StorageType": "gp3",
			"AllocatedStorage": "20", "MaxAllocatedStorage": float64(cfg.DBMaxAllocatedStorageGiB),
			"BackupRetentionPeriod": float64(7), "PreferredBackupWindow": "07:00-08:00",
			"PreferredMaintenanceWindow": "sun:08:30-sun:09:30", "DeletionProtection": cfg.DeletionProtection,
			"ManageMasterUserPassword": true, "DBInstanceIdentifier": "h2o-" + cfg.Stage + "-postgres",
			"CACertificateIdentifier": "rds-ca-rsa2048-g1",
		}
		for k, v := range want {
			if !jsonEqual(p[k], v) {
				t.Errorf("%s = %v, want %v", k, p[k], v)
			}
		}
		if got := p["EnableCloudwatchLogsExports"]; !jsonEqual(got, []interface{}{"postgresql", "upgrade"}) {
			t.Errorf("log exports %v", got)
		}
		if _, has := p["MasterUserPassword"]; has {
			t.Error("a master password is in the template; RDS must manage it")
		}
		// Enhanced monitoring and insights where the config asks for them (prod).
		if _, has := p["MonitoringInterval"]; has != cfg.EnhancedMonitoring {
			t.Errorf("MonitoringInterval present=%v, want %v", has, cfg.EnhancedMonitoring)
		}
		if got, _ := p["EnablePerformanceInsights"].(bool); got != cfg.PerformanceInsights {
			t.Errorf("EnablePerformanceInsights %v, want %v", got, cfg.PerformanceInsights)
		}
		// prod survives a stack delete as a snapshot; dev goes with the stack.
		wantPolicy := "Delete"
		if cfg.DeletionProtection {
			wantPolicy = "Snapshot"
		}
		if db["DeletionPolicy"] != wantPolicy || db["UpdateReplacePolicy"] != wantPolicy {
			t.Errorf("DeletionPolicy %v / UpdateReplacePolicy %v, want %s", db["DeletionPolicy"], db["UpdateReplacePolicy"], wantPolicy)
		}
		expect(t, "parameter group forces TLS and logs statements over 1 s", func() {
			tmpl(s.Data.Stack).HasResourceProperties(jsii.String("AWS::RDS::DBParameterGroup"), &map[string]interface{}{
				"Family":     "postgres17",
				"Parameters": map[string]interface{}{"rds.force_ssl": "1", "log_min_duration_statement": "1000"},
			})
		})
		expect(t, "database log groups have the stage's retention", func() {
			tmpl(s.Data.Stack).HasResourceProperties(jsii.String("AWS::Logs::LogGroup"), &map[string]interface{}{
				"LogGroupName":    "/aws/rds/instance/h2o-" + cfg.Stage + "-postgres/postgresql",
				"RetentionInDays": cfg.LogRetentionDays,
			})
		})
		// The database subnet group is the isolated tier, one subnet per AZ, and nothing else.
		_, group := only(t, s.Data.Stack, "AWS::RDS::DBSubnetGroup")
		subnets := atList(t, group, "Properties.SubnetIds")
		for _, subnet := range subnets {
			if !strings.Contains(fmt.Sprint(at(t, subnet, "Fn::GetStackOutput.OutputName")), "dataSubnet") {
				t.Errorf("database subnet %v is not a data subnet", subnet)
			}
		}
		if len(subnets) != 2 {
			t.Errorf("%d database subnets, want one per AZ", len(subnets))
		}
	})
}

func TestDevDatabaseStopsOffHours(t *testing.T) {
	// GIVEN each stage WHEN data is synthesized THEN dev's database stops off hours and starts before the tasks
	// return, with a role that may do only that; prod's never stops
	forEachStage(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		schedules := resources(t, s.Data.Stack, "AWS::Scheduler::Schedule")
		if cfg.Stage == "prod" {
			if len(schedules) != 0 {
				t.Errorf("prod's database must never be stopped: %d schedules", len(schedules))
			}
			return
		}
		got := map[string]string{}
		for _, sc := range schedules {
			target := atMap(t, sc, "Properties.Target")
			got[atString(t, target, "Arn")] = atString(t, sc, "Properties.ScheduleExpression") + " " +
				atString(t, sc, "Properties.ScheduleExpressionTimezone")
			if target["Input"] != `{"DbInstanceIdentifier":"h2o-dev-postgres"}` {
				t.Errorf("schedule input %v", target["Input"])
			}
		}
		want := map[string]string{"arn:aws:scheduler:::aws-sdk:rds:stopDBInstance": "cron(0 20 ? * MON-FRI *) UTC",
			// 20 minutes (dbStartLeadMinutes) before the tasks come back at 08:00, so they find the database up.
			"arn:aws:scheduler:::aws-sdk:rds:startDBInstance": "cron(40 7 ? * MON-FRI *) UTC"}
		if !jsonEqual(got, want) {
			t.Errorf("schedules %v, want %v", got, want)
		}
		// The scheduler's role may only stop and start this instance.
		db := logicalIDOf(t, s.Data.Stack, s.Data.Database.Node().DefaultChild())
		role := ""
		for id, r := range resources(t, s.Data.Stack, "AWS::IAM::Role") {
			if strings.Contains(mustJSON(r), "scheduler.amazonaws.com") {
				role = id
			}
		}
		sts := roleStatements(t, s.Data.Stack, role)
		if role == "" || len(sts) != 1 || !jsonEqual(sts[0]["Action"], []interface{}{"rds:StartDBInstance", "rds:StopDBInstance"}) ||
			!strings.HasSuffix(mustJSON(sts[0]["Resource"]), `":db:",{"Ref":"`+db+`"}]]}`) {
			t.Errorf("the scheduler's role %q may do more than stop/start %s: %s", role, db, mustJSON(sts))
		}
	})
}

func TestCacheIsEncryptedValkeyWithFailoverInProd(t *testing.T) {
	// GIVEN each stage WHEN data is synthesized THEN the cache is encrypted Valkey with the stage's size, a Secrets
	// Manager AUTH token, its own security group, and failover and snapshots in prod
	forEachStage(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		_, cache := only(t, s.Data.Stack, "AWS::ElastiCache::ReplicationGroup")
		p := props(cache)
		failover := cfg.Stage == "prod"
		snapshots := 0
		if failover {
			snapshots = cacheSnapshotDays // NIST 800-53 rev 5 ElastiCacheRedisClusterAutomaticBackup: 15 at least
		}
		want := map[string]interface{}{
			"Engine": "valkey", "CacheNodeType": cfg.CacheNodeType, "NumCacheClusters": float64(1 + cfg.CacheReplicas),
			"AutomaticFailoverEnabled": failover, "MultiAZEnabled": failover, "TransitEncryptionEnabled": true,
			"AtRestEncryptionEnabled": true, "Port": float64(6379),
			"SnapshotRetentionLimit": float64(snapshots),
		}
		for k, v := range want {
			if !jsonEqual(p[k], v) {
				t.Errorf("%s = %v, want %v", k, p[k], v)
			}
		}
		// The AUTH token is a dynamic reference resolved by CloudFormation, never a literal.
		if token := mustJSON(p["AuthToken"]); !strings.Contains(token, "{{resolve:secretsmanager:") {
			t.Errorf("AuthToken is not a Secrets Manager dynamic reference: %s", token)
		}
		if len(atList(t, p, "SecurityGroupIds")) != 1 {
			t.Errorf("cache must have exactly its own security group: %v", p["SecurityGroupIds"])
		}
	})
}

func TestPdfBucketIsVersionedLoggedAndTiered(t *testing.T) {
	// GIVEN each stage WHEN data is synthesized THEN the PDF bucket is versioned, logged, tiered to IA with old
	// versions expiring (TestEveryBucketIsPrivateEncryptedAndTLSOnly checks the rest of every bucket)
	forEachStage(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		p := props(resourceOf(t, s.Data.Stack, s.Data.PdfBucket))
		if !jsonEqual(p["VersioningConfiguration"], map[string]interface{}{"Status": "Enabled"}) {
			t.Errorf("versioning %v", p["VersioningConfiguration"])
		}
		if p["LoggingConfiguration"] == nil {
			t.Error("no access logging")
		}
		rule := atMap(t, p, "LifecycleConfiguration.Rules.0")
		for k, v := range map[string]interface{}{
			"Transitions":                    []interface{}{map[string]interface{}{"StorageClass": "STANDARD_IA", "TransitionInDays": float64(30)}},
			"NoncurrentVersionExpiration":    map[string]interface{}{"NoncurrentDays": float64(cfg.PDFNoncurrentVersionDays)},
			"AbortIncompleteMultipartUpload": map[string]interface{}{"DaysAfterInitiation": float64(7)},
		} {
			if !jsonEqual(rule[k], v) {
				t.Errorf("lifecycle %s = %v, want %v", k, rule[k], v)
			}
		}
		if _, hasCors := p["CorsConfiguration"]; hasCors {
			t.Error("CORS is set, but the frontend never uploads to the bucket directly")
		}
	})
}

func TestEveryBucketIsPrivateEncryptedAndTLSOnly(t *testing.T) {
	// GIVEN every bucket of the app WHEN read with its stack's bucket policies THEN it blocks public access, is
	// encrypted, and its policy denies requests without TLS
	buckets := 0
	for _, stack := range appStacks() {
		tlsOnly := map[string]bool{} // bucket logical ID -> a policy of it denies aws:SecureTransport false
		for _, pol := range resources(t, stack, "AWS::S3::BucketPolicy") {
			for _, st := range atMaps(t, pol, "Properties.PolicyDocument.Statement") {
				if st["Effect"] == "Deny" && jsonEqual(st["Condition"], map[string]interface{}{"Bool": map[string]interface{}{"aws:SecureTransport": "false"}}) {
					tlsOnly[fmt.Sprint(at(t, pol, "Properties.Bucket.Ref"))] = true
				}
			}
		}
		for id, b := range resources(t, stack, "AWS::S3::Bucket") {
			buckets++
			p := props(b)
			bpa := map[string]interface{}{"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true}
			if !jsonEqual(p["PublicAccessBlockConfiguration"], bpa) || p["BucketEncryption"] == nil || !tlsOnly[id] {
				t.Errorf("%s %s: public access block %v, encryption %v, TLS-only policy %v", *stack.StackName(), id,
					p["PublicAccessBlockConfiguration"], p["BucketEncryption"], tlsOnly[id])
			}
		}
	}
	if buckets == 0 {
		t.Error("no bucket found")
	}
}

func TestSecretsHoldNoValueAndSurviveInProd(t *testing.T) {
	// GIVEN each build WHEN data is synthesized THEN its secrets (the cache AUTH token and one per API key) hold no
	// value in the template, each key's secret is created by the same constant generator, and prod keeps them
	// except when the create that made them rolls back
	forEachBuild(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		secrets := resources(t, s.Data.Stack, "AWS::SecretsManager::Secret")
		if len(secrets) != 1+len(cfg.AppSecretKeys) {
			t.Errorf("want the cache AUTH token and one secret per API key %v, got %d secrets", cfg.AppSecretKeys, len(secrets))
		}
		wantPolicy := "Delete"
		if cfg.DeletionProtection {
			wantPolicy = "RetainExceptOnCreate"
		}
		byName := map[string]map[string]interface{}{}
		for id, sec := range secrets {
			if _, plain := props(sec)["SecretString"]; plain {
				t.Errorf("secret %s has a SecretString in the template", id)
			}
			if sec["DeletionPolicy"] != wantPolicy {
				t.Errorf("secret %s DeletionPolicy %v, want %s", id, sec["DeletionPolicy"], wantPolicy)
			}
			byName[atString(t, sec, "Properties.Name")] = sec
		}
		want := map[string]interface{}{"ExcludePunctuation": true, "IncludeSpace": false, "PasswordLength": 32}
		for _, key := range cfg.AppSecretKeys {
			sec, ok := byName["h2o/"+cfg.Stage+"/app/"+key]
			if !ok {
				t.Errorf("no secret h2o/%s/app/%s for key %s", cfg.Stage, key, key)
				continue
			}
			if got := atMap(t, sec, "Properties.GenerateSecretString"); !jsonEqual(got, want) {
				t.Errorf("%s is generated by %s, want the constant %s", key, mustJSON(got), mustJSON(want))
			}
		}
	})
}

func TestNoSecurityGroupIsOpenToTheInternet(t *testing.T) {
	// GIVEN every stack of the app WHEN every inbound rule (inline or a separate ingress resource) is read THEN
	// none admits 0.0.0.0/0 or ::/0
	rules := 0
	for _, stack := range appStacks() {
		for group, ingress := range ingressRules(t, stack) {
			for _, rule := range ingress {
				rules++
				if rule["CidrIp"] == "0.0.0.0/0" || rule["CidrIpv6"] == "::/0" {
					t.Errorf("%s %s allows ingress from anywhere: %s", *stack.StackName(), group, mustJSON(rule))
				}
			}
		}
	}
	if rules == 0 {
		t.Error("no inbound rule found")
	}
}

// TestProdStatefulLogicalIDsArePinned fails when a refactor would make CloudFormation replace (and so lose)
// a prod database, cache, bucket or secret. Changing this list means planning a data migration.
func TestProdStatefulLogicalIDsArePinned(t *testing.T) {
	// GIVEN prod WHEN its stateful resources are listed THEN their logical IDs are the pinned ones
	s := built["prod"]
	pinned := map[string][]string{
		"AWS::RDS::DBInstance":               {"DatabaseB269D8BB"},
		"AWS::ElastiCache::ReplicationGroup": {"Cache"},
		"AWS::S3::Bucket":                    {"AccessLogBucketDA470295", "PdfBucketFA9E115A"},
		"AWS::SecretsManager::Secret":        {"AppSecretAIAPIKEY4EA8385C", "CacheAuthTokenAAA23466"},
		"AWS::KMS::Key":                      {"DataKey17AFBB84"},
		"AWS::Backup::BackupVault":           {"BackupVault3A9C5852"},
	}
	for typ, want := range pinned {
		var got []string
		for id := range resources(t, s.Data.Stack, typ) {
			got = append(got, id)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s logical IDs %v, want %v", typ, got, want)
		}
	}
}

// TestEveryBucketOutlivesItsStackInProd: data and logs alike (access logs, ALB and CloudFront logs) stay when a
// prod stack is deleted, objects included; dev's go with the stack, emptied first.
func TestEveryBucketOutlivesItsStackInProd(t *testing.T) {
	// GIVEN every bucket of each stage WHEN read THEN prod retains it with its objects and dev deletes it emptied
	forEachStage(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		buckets := 0
		for _, stack := range s.Stacks() {
			autoDeleted := mustJSON(resources(t, stack, "Custom::S3AutoDeleteObjects"))
			for id, b := range resources(t, stack, "AWS::S3::Bucket") {
				buckets++
				emptied := strings.Contains(autoDeleted, `"Ref":"`+id+`"`)
				if cfg.DeletionProtection && (b["DeletionPolicy"] != "Retain" || emptied) {
					t.Errorf("%s %s: DeletionPolicy %v, auto-delete %v: prod keeps it with its objects", *stack.StackName(), id, b["DeletionPolicy"], emptied)
				}
				if !cfg.DeletionProtection && (b["DeletionPolicy"] != "Delete" || !emptied) {
					t.Errorf("%s %s: DeletionPolicy %v, auto-delete %v: dev deletes it with the stack", *stack.StackName(), id, b["DeletionPolicy"], emptied)
				}
			}
		}
		if buckets != 4 {
			t.Errorf("%d buckets, want the PDF bucket and the access, ALB and CloudFront log buckets", buckets)
		}
	})
}

// TestProdDataUsesItsOwnKey: prod's database, PDF bucket and backup vault are encrypted with the stage's
// rotated customer-managed key (chosen before data exists: an RDS instance's key cannot change in place), and the
// backend may use it exactly for reading and writing PDFs; dev uses AWS-managed keys.
func TestProdDataUsesItsOwnKey(t *testing.T) {
	// GIVEN each stage WHEN data is synthesized THEN prod's database, PDF bucket and vault use its rotated data key,
	// which the task role may use for PDFs only; dev has no key
	forEachStage(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		_, db := only(t, s.Data.Stack, "AWS::RDS::DBInstance")
		pdf := props(resourceOf(t, s.Data.Stack, s.Data.PdfBucket))
		if !cfg.CustomerManagedDataKey {
			if s.Data.DataKey != nil || props(db)["KmsKeyId"] != nil || !strings.Contains(mustJSON(pdf["BucketEncryption"]), `"AES256"`) {
				t.Errorf("dev has a customer-managed key: db %v, bucket %v", props(db)["KmsKeyId"], pdf["BucketEncryption"])
			}
			return
		}
		keyID, key := only(t, s.Data.Stack, "AWS::KMS::Key")
		arn := map[string]interface{}{"Fn::GetAtt": []interface{}{keyID, "Arn"}}
		if props(key)["EnableKeyRotation"] != true || key["DeletionPolicy"] != "RetainExceptOnCreate" || props(key)["PendingWindowInDays"] != float64(30) {
			t.Errorf("data key %v", key)
		}
		if !jsonEqual(props(db)["KmsKeyId"], arn) {
			t.Errorf("database key %v, want the data key", props(db)["KmsKeyId"])
		}
		sse := mustJSON(pdf["BucketEncryption"])
		if !strings.Contains(sse, `"SSEAlgorithm":"aws:kms"`) || !strings.Contains(sse, `"KMSMasterKeyID":`+mustJSON(arn)) || !strings.Contains(sse, `"BucketKeyEnabled":true`) {
			t.Errorf("PDF bucket encryption %s, want SSE-KMS with the data key and a bucket key", sse)
		}
		_, vault := only(t, s.Data.Stack, "AWS::Backup::BackupVault")
		if !jsonEqual(props(vault)["EncryptionKeyArn"], arn) {
			t.Errorf("vault key %v", props(vault)["EncryptionKeyArn"])
		}
		// The task role (compute) may decrypt and generate data keys with it, nothing else.
		role := logicalIDOf(t, s.Compute.Stack, s.Compute.MigrationTask.TaskRole().Node().DefaultChild())
		granted := false
		for _, st := range roleStatements(t, s.Compute.Stack, role) {
			// The stage key's statement is the secrets' (TestEverySecretIsOnTheStageKeyAndItsReadersMayDecryptIt).
			if doc := mustJSON(st); strings.Contains(doc, "kms:") && !strings.Contains(doc, "StageKey") {
				granted = true
				if !jsonEqual(st["Action"], []interface{}{"kms:Decrypt", "kms:GenerateDataKey"}) || !strings.Contains(doc, "DataKey") {
					t.Errorf("task role's KMS grant %s", doc)
				}
			}
		}
		if !granted {
			t.Error("the task role cannot use the data key: PDFs could not be read or written")
		}
	})
}

// TestProdDatabaseIsBackedUpBeyondThePointInTimeWindow: a daily recovery point kept 35 days and a monthly one kept
// 12 months, in a vault locked against early deletion (compliance: immutable after 3 days), covering the
// database; the variant runs governance mode with a copy to another vault. dev keeps the automated backups only.
func TestProdDatabaseIsBackedUpBeyondThePointInTimeWindow(t *testing.T) {
	// GIVEN dev, prod and the variant WHEN their Backup resources are read THEN dev has none, prod's locked vault
	// keeps daily and monthly points of the database, and the variant copies them
	expect(t, "dev has no Backup plan", func() {
		tmpl(built["dev"].Data.Stack).ResourceCountIs(jsii.String("AWS::Backup::BackupPlan"), jsii.Number(0))
	})
	for _, tc := range []struct {
		s          *H2oStage
		changeable interface{}
		copyTo     string
	}{{built["prod"], float64(3), ""}, {withDomain, nil, variantContext["backupCopyVaultArn"]}} {
		stack := tc.s.Data.Stack
		vaultID, vault := only(t, stack, "AWS::Backup::BackupVault")
		lock := atMap(t, vault, "Properties.LockConfiguration")
		if vault["DeletionPolicy"] != "RetainExceptOnCreate" || lock["MinRetentionDays"] != float64(35) || lock["ChangeableForDays"] != tc.changeable {
			t.Errorf("vault %v lock %v, want RetainExceptOnCreate, min 35 days, changeable for %v days", vault["DeletionPolicy"], lock, tc.changeable)
		}
		_, plan := only(t, stack, "AWS::Backup::BackupPlan")
		rules := map[string]map[string]interface{}{}
		for _, r := range optMaps(t, plan, "Properties.BackupPlan.BackupPlanRule") {
			rules[fmt.Sprint(r["RuleName"])] = r
		}
		for name, want := range map[string][2]interface{}{"Daily": {"cron(0 4 * * ? *)", float64(35)}, "Monthly": {"cron(0 5 1 * ? *)", float64(365)}} {
			r := rules[name]
			// The vault by its logical ID: any vault's name attribute (BackupVaultName) would contain "BackupVault".
			if r["ScheduleExpression"] != want[0] || !jsonEqual(r["Lifecycle"], map[string]interface{}{"DeleteAfterDays": want[1]}) ||
				!jsonEqual(r["TargetBackupVault"], map[string]interface{}{"Fn::GetAtt": []interface{}{vaultID, "BackupVaultName"}}) {
				t.Errorf("%s rule %v, want %v kept %v days in the vault", name, r, want[0], want[1])
			}
			if copies := mustJSON(r["CopyActions"]); (tc.copyTo != "") != strings.Contains(copies, tc.copyTo+`"`) || (tc.copyTo == "" && r["CopyActions"] != nil) {
				t.Errorf("%s rule copies %s, want %q", name, copies, tc.copyTo)
			}
		}
		// A copy to another account needs that account to be able to use the database's key.
		_, key := only(t, stack, "AWS::KMS::Key")
		if grant := strings.Contains(mustJSON(props(key)["KeyPolicy"]), `"AllowBackupCopyAccount"`); grant != (tc.copyTo != "") {
			t.Errorf("key policy lets the copy vault's account use the key: %v, want %v", grant, tc.copyTo != "")
		}
		dbID := logicalIDOf(t, stack, tc.s.Data.Database.Node().DefaultChild())
		_, selection := only(t, stack, "AWS::Backup::BackupSelection")
		if !strings.Contains(mustJSON(props(selection)["BackupSelection"]), dbID) {
			t.Errorf("the backup selection does not cover the database %s: %v", dbID, props(selection)["BackupSelection"])
		}
	}
}

func TestPdfBucketReplicatesWhenConfigured(t *testing.T) {
	// GIVEN prod without and the variant with replication settings WHEN the PDF bucket is read THEN only the variant
	// replicates, KMS-encrypted, to the configured bucket
	if p := props(resourceOf(t, built["prod"].Data.Stack, built["prod"].Data.PdfBucket)); p["ReplicationConfiguration"] != nil {
		t.Error("prod replicates by default")
	}
	replication := mustJSON(props(resourceOf(t, withDomain.Data.Stack, withDomain.Data.PdfBucket))["ReplicationConfiguration"])
	for _, want := range []string{`"Bucket":"` + variantContext["pdfReplicationBucketArn"] + `"`, `"ReplicaKmsKeyID":"` + variantContext["pdfReplicationKmsKeyArn"] + `"`,
		`"SseKmsEncryptedObjects":{"Status":"Enabled"}`, `"Status":"Enabled"`} {
		if !strings.Contains(replication, want) {
			t.Errorf("replication lacks %s: %s", want, replication)
		}
	}
}
