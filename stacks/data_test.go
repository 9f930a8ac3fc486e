package stacks

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"h2o-infra/config"
)

func TestDatabaseMatchesTheStageConfig(t *testing.T) {
	forEachStage(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		_, db := only(t, s.Data.Stack, "AWS::RDS::DBInstance")
		p := props(db)
		// GIVEN the stage config WHEN synthesized THEN the instance carries it
		want := map[string]interface{}{
			"DBInstanceClass": cfg.DbInstanceClass, "MultiAZ": cfg.DbMultiAz, "Engine": "postgres",
			// The version is config's full minor and stays so: RDS's automatic minor upgrades are off.
			"EngineVersion": cfg.DbEngineVersion, "AutoMinorVersionUpgrade": false, "PubliclyAccessible": false, "StorageEncrypted": true, "StorageType": "gp3",
			"AllocatedStorage": "20", "MaxAllocatedStorage": float64(cfg.DbMaxAllocatedStorageGiB),
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
		wantPolicy := map[bool]string{true: "Snapshot", false: "Delete"}[cfg.DeletionProtection]
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
		expect(t, "database subnet group in the isolated tier", func() {
			tmpl(s.Data.Stack).HasResourceProperties(jsii.String("AWS::RDS::DBSubnetGroup"), &map[string]interface{}{
				"SubnetIds": assertions.Match_ArrayWith(&[]interface{}{
					assertions.Match_ObjectLike(&map[string]interface{}{"Fn::GetStackOutput": assertions.Match_ObjectLike(
						&map[string]interface{}{"OutputName": assertions.Match_StringLikeRegexp(jsii.String("dataSubnet1"))})}),
				}),
			})
		})
	})
}

func TestDevDatabaseStopsOffHours(t *testing.T) {
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
			p := props(sc)
			target := p["Target"].(map[string]interface{})
			got[target["Arn"].(string)] = p["ScheduleExpression"].(string) + " " + p["ScheduleExpressionTimezone"].(string)
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
		expect(t, "scheduler may only stop/start this instance", func() {
			tmpl(s.Data.Stack).HasResourceProperties(jsii.String("AWS::IAM::Role"), &map[string]interface{}{
				"Policies": []interface{}{map[string]interface{}{"PolicyName": "StopStart", "PolicyDocument": map[string]interface{}{
					"Statement": []interface{}{map[string]interface{}{"Action": []interface{}{"rds:StartDBInstance", "rds:StopDBInstance"},
						"Effect": "Allow", "Resource": assertions.Match_AnyValue()}}, "Version": "2012-10-17"}}}})
		})
	})
}

func TestCacheIsEncryptedValkeyWithFailoverInProd(t *testing.T) {
	forEachStage(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		_, cache := only(t, s.Data.Stack, "AWS::ElastiCache::ReplicationGroup")
		p := props(cache)
		failover := cfg.Stage == "prod"
		want := map[string]interface{}{
			"Engine": "valkey", "CacheNodeType": cfg.CacheNodeType, "NumCacheClusters": float64(1 + cfg.CacheReplicas),
			"AutomaticFailoverEnabled": failover, "MultiAZEnabled": failover, "TransitEncryptionEnabled": true,
			"AtRestEncryptionEnabled": true, "Port": float64(6379),
			"SnapshotRetentionLimit": float64(map[bool]int{true: 7, false: 0}[failover]),
		}
		for k, v := range want {
			if !jsonEqual(p[k], v) {
				t.Errorf("%s = %v, want %v", k, p[k], v)
			}
		}
		// The AUTH token is a dynamic reference resolved by CloudFormation, never a literal.
		token, _ := json.Marshal(p["AuthToken"])
		if !strings.Contains(string(token), "{{resolve:secretsmanager:") {
			t.Errorf("AuthToken is not a Secrets Manager dynamic reference: %s", token)
		}
		if len(p["SecurityGroupIds"].([]interface{})) != 1 {
			t.Errorf("cache must have exactly its own security group: %v", p["SecurityGroupIds"])
		}
	})
}

func TestPdfBucketIsPrivateEncryptedVersionedAndLogged(t *testing.T) {
	forEachStage(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		pdfID := logicalIDOf(s.Data.Stack, s.Data.PdfBucket.Node().DefaultChild())
		pdf := resources(t, s.Data.Stack, "AWS::S3::Bucket")[pdfID]
		p := props(pdf)
		bpa := map[string]interface{}{"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true}
		if !jsonEqual(p["PublicAccessBlockConfiguration"], bpa) {
			t.Errorf("public access block %v", p["PublicAccessBlockConfiguration"])
		}
		if !jsonEqual(p["VersioningConfiguration"], map[string]interface{}{"Status": "Enabled"}) {
			t.Errorf("versioning %v", p["VersioningConfiguration"])
		}
		if p["BucketEncryption"] == nil || p["LoggingConfiguration"] == nil {
			t.Errorf("encryption %v, access logging %v", p["BucketEncryption"], p["LoggingConfiguration"])
		}
		rule := p["LifecycleConfiguration"].(map[string]interface{})["Rules"].([]interface{})[0].(map[string]interface{})
		for k, v := range map[string]interface{}{
			"Transitions":                    []interface{}{map[string]interface{}{"StorageClass": "STANDARD_IA", "TransitionInDays": float64(30)}},
			"NoncurrentVersionExpiration":    map[string]interface{}{"NoncurrentDays": float64(30)},
			"AbortIncompleteMultipartUpload": map[string]interface{}{"DaysAfterInitiation": float64(7)},
		} {
			if !jsonEqual(rule[k], v) {
				t.Errorf("lifecycle %s = %v, want %v", k, rule[k], v)
			}
		}
		if _, hasCors := p["CorsConfiguration"]; hasCors {
			t.Error("CORS is set, but the frontend never uploads to the bucket directly")
		}
		wantPolicy := map[bool]string{true: "Retain", false: "Delete"}[cfg.DeletionProtection]
		for id, b := range resources(t, s.Data.Stack, "AWS::S3::Bucket") {
			if b["DeletionPolicy"] != wantPolicy {
				t.Errorf("bucket %s DeletionPolicy %v, want %s", id, b["DeletionPolicy"], wantPolicy)
			}
		}
		// Every bucket refuses plain HTTP.
		for id, pol := range resources(t, s.Data.Stack, "AWS::S3::BucketPolicy") {
			doc, _ := json.Marshal(props(pol)["PolicyDocument"])
			if !strings.Contains(string(doc), `"aws:SecureTransport":"false"`) || !strings.Contains(string(doc), `"Effect":"Deny"`) {
				t.Errorf("bucket policy %s is not TLS-only: %s", id, doc)
			}
		}
	})
}

func TestSecretsHoldNoValueAndSurviveInProd(t *testing.T) {
	forEachStage(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		secrets := resources(t, s.Data.Stack, "AWS::SecretsManager::Secret")
		if len(secrets) != 2 {
			t.Errorf("want the app secret and the cache AUTH token, got %d secrets", len(secrets))
		}
		wantPolicy := map[bool]string{true: "Retain", false: "Delete"}[cfg.DeletionProtection]
		for id, sec := range secrets {
			if _, plain := props(sec)["SecretString"]; plain {
				t.Errorf("secret %s has a SecretString in the template", id)
			}
			if sec["DeletionPolicy"] != wantPolicy {
				t.Errorf("secret %s DeletionPolicy %v, want %s", id, sec["DeletionPolicy"], wantPolicy)
			}
		}
		expect(t, "app secret is an empty-valued shape of the configured keys", func() {
			tmpl(s.Data.Stack).HasResourceProperties(jsii.String("AWS::SecretsManager::Secret"), &map[string]interface{}{
				"Name": "h2o/" + cfg.Stage + "/app",
				"GenerateSecretString": assertions.Match_ObjectLike(&map[string]interface{}{
					"SecretStringTemplate": `{"AI_API_KEY":""}`}),
			})
		})
	})
}

func TestDataSecurityGroupsHaveNoOpenIngress(t *testing.T) {
	forEachStage(t, func(t *testing.T, s *H2oStage, _ *config.Config) {
		for _, stack := range s.Stacks() {
			for id, sg := range resources(t, stack, "AWS::EC2::SecurityGroup") {
				raw, _ := json.Marshal(props(sg)["SecurityGroupIngress"])
				if strings.Contains(string(raw), "0.0.0.0/0") || strings.Contains(string(raw), "::/0") {
					t.Errorf("%s %s allows ingress from anywhere: %s", *stack.StackName(), id, raw)
				}
			}
			for id, rule := range resources(t, stack, "AWS::EC2::SecurityGroupIngress") {
				if cidr := props(rule)["CidrIp"]; cidr == "0.0.0.0/0" {
					t.Errorf("%s %s allows ingress from anywhere", *stack.StackName(), id)
				}
			}
		}
	})
}

// TestProdStatefulLogicalIDsArePinned fails when a refactor would make CloudFormation replace (and so lose)
// a prod database, cache, bucket or secret. Changing this list means planning a data migration.
func TestProdStatefulLogicalIDsArePinned(t *testing.T) {
	s := built["prod"]
	pinned := map[string][]string{
		"AWS::RDS::DBInstance":               {"DatabaseB269D8BB"},
		"AWS::ElastiCache::ReplicationGroup": {"Cache"},
		"AWS::S3::Bucket":                    {"AccessLogBucketDA470295", "PdfBucketFA9E115A"},
		"AWS::SecretsManager::Secret":        {"AppSecretFAB5164C", "CacheAuthTokenAAA23466"},
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

// only returns the single resource of a type in a stack.
func only(t *testing.T, stack awscdk.Stack, typ string) (string, map[string]interface{}) {
	t.Helper()
	found := resources(t, stack, typ)
	if len(found) != 1 {
		t.Fatalf("want one %s, got %d", typ, len(found))
	}
	for id, r := range found {
		return id, r
	}
	return "", nil
}

func jsonEqual(a, b interface{}) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
