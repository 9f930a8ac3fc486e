package stacks

import (
	"strings"
	"testing"

	"h2o-infra/config"
)

// settingEffect says where a setting shows: a valid value other than the base stage's changes that layer's
// template so that want appears in it (or, with gone, disappears from it).
type settingEffect struct {
	base, value, layer, want string
	gone                     bool
}

// Two variant stages take every setting at once (one synth, not one per setting): "prod" and "dev" get the values
// below; each effect is specific enough to belong to its setting alone.
var settingEffects = map[string]settingEffect{
	"account":                  {"prod", "123456789012", "", "", false}, // the stacks' environment, checked apart
	"availabilityZones":        {"prod", "us-east-1b,us-east-1c", "network", `"us-east-1c"`, false},
	"vpcCidr":                  {"prod", "10.30.0.0/16", "network", `"10.30.0.0/16"`, false},
	"natGateways":              {"prod", "1", "network", `"VpcpublicSubnet2NATGateway`, true}, // the second AZ's gateway goes
	"cpuArchitecture":          {"prod", "X86_64", "compute", `"X86_64"`, false},
	"taskCpu":                  {"prod", "4096", "compute", `"Cpu":"4096"`, false},
	"taskMemoryMiB":            {"prod", "9216", "compute", `"Memory":"9216"`, false},
	"workers":                  {"prod", "4", "compute", `{"Name":"WORKERS","Value":"4"}`, false},
	"containerPort":            {"prod", "8080", "compute", `"ContainerPort":8080`, false},
	"containerUser":            {"prod", "app", "compute", `"User":"app"`, false},
	"healthCheckGraceSeconds":  {"prod", "40", "compute", `"HealthCheckGracePeriodSeconds":40`, false},
	"errorRateMinRequests":     {"prod", "50", "compute", `\u003e= 50,`, false},
	"minTasks":                 {"prod", "3", "compute", `"MinCapacity":3`, false},
	"canaryPercent":            {"prod", "20", "compute", `"CanaryPercent":20`, false},
	"canaryBakeMinutes":        {"prod", "3", "compute", `"CanaryBakeTimeInMinutes":3`, false},
	"deployBakeMinutes":        {"prod", "2", "compute", `"BakeTimeInMinutes":2`, false},
	"deployFailureThreshold":   {"prod", "3", "compute", `{"Type":"COUNT","Value":3}`, false},
	"maxTasks":                 {"prod", "4", "compute", `"MaxCapacity":4`, false},
	"fargateSpot":              {"prod", "false", "compute", `FARGATE_SPOT","Weight"`, true},
	"onDemandBaseTasks":        {"dev", "1", "compute", `"Base":1`, false},
	"scaleDownCron":            {"prod", "cron(0 21 ? * MON-FRI *)", "compute", `cron(0 21 ? * MON-FRI *)`, false},
	"scaleUpCron":              {"prod", "cron(0 7 ? * MON-FRI *)", "compute", `cron(0 7 ? * MON-FRI *)`, false},
	"scheduleTimeZone":         {"prod", "Europe/Madrid", "compute", `"Europe/Madrid"`, false},
	"stopDatabaseOffHours":     {"prod", "true", "data", `rds:stopDBInstance`, false},
	"dbStartLeadMinutes":       {"dev", "30", "data", `cron(30 7 ? * MON-FRI *)`, false},
	"tracing":                  {"prod", "true", "compute", `aws-otel-collector`, false},
	"dbInstanceClass":          {"prod", "db.t4g.medium", "data", `"db.t4g.medium"`, false},
	"dbEngineVersion":          {"prod", "17.7", "data", `"EngineVersion":"17.7"`, false},
	"dbMultiAz":                {"prod", "false", "data", `"MultiAZ":false`, false},
	"dbAllocatedStorageGiB":    {"prod", "30", "data", `"AllocatedStorage":"30"`, false},
	"dbMaxAllocatedStorageGiB": {"prod", "200", "data", `"MaxAllocatedStorage":200`, false},
	"backupRetentionDays":      {"prod", "14", "data", `"BackupRetentionPeriod":14`, false},
	"enhancedMonitoring":       {"prod", "false", "data", `"MonitoringInterval"`, true},
	"performanceInsights":      {"prod", "false", "data", `"EnablePerformanceInsights":true`, true},
	"customerManagedDataKey":   {"dev", "true", "data", `"AWS::KMS::Key"`, false},
	"backupPlan":               {"dev", "true", "data", `"AWS::Backup::BackupPlan"`, false},
	"backupVaultLock":          {"prod", "governance", "data", `"ChangeableForDays"`, true},
	"backupCopyVaultArn":       {"prod", "arn:aws:backup:us-west-2:123456789012:backup-vault:h2o-copy", "data", `backup-vault:h2o-copy`, false},
	"pdfNoncurrentVersionDays": {"prod", "90", "data", `"NoncurrentDays":90`, false},
	"pdfReplicationBucketArn":  {"prod", "arn:aws:s3:::h2o-pdf-replica", "data", `arn:aws:s3:::h2o-pdf-replica`, false},
	"pdfReplicationKmsKeyArn":  {"prod", "arn:aws:kms:us-west-2:123456789012:key/0123abcd-0123-4567-89ab-0123456789ab", "data", `key/0123abcd-0123`, false},
	"cacheNodeType":            {"prod", "cache.t4g.medium", "data", `"cache.t4g.medium"`, false},
	"cacheReplicas":            {"prod", "2", "data", `"NumCacheClusters":3`, false},
	"cacheEngineVersion":       {"prod", "8.1", "data", `"EngineVersion":"8.1"`, false},
	"appSecretKeys":            {"prod", "AI_API_KEY,OTHER_KEY", "compute", `"Name":"OTHER_KEY"`, false},
	"deletionProtection":       {"prod", "false", "data", `"DeletionProtection":false`, false},
	"logRetentionDays":         {"prod", "30", "network", `"RetentionInDays":30`, false},
	"alarmEmail":               {"prod", "team@h2o-allegiant.com", "observability", `team@h2o-allegiant.com`, false},
	"slackWorkspaceId":         {"prod", "T0123ABCD", "observability", `"T0123ABCD"`, false},
	"slackChannelId":           {"prod", "C0123ABCD", "observability", `"C0123ABCD"`, false},
	"monthlyBudgetUsd":         {"prod", "500", "observability", `"Amount":500`, false},
	"metricsNamespace":         {"prod", "H2O/Api", "observability", `H2O/Api`, false},
	"aiDurationMetric":         {"prod", "AiTime", "observability", `AiTime`, false},
	"domainName":               {"prod", "h2o.example.com", "edge", `api.h2o.example.com`, false},
	"hostedZoneId":             {"prod", "Z0123456789ABCDEFGHIJ", "edge", `Z0123456789ABCDEFGHIJ`, false},
	"httpOriginTargetGroup":    {"prod", "alternate", "compute", `"LoadBalancerHttpOriginListener`, false},
	"cloudFrontPrefixListId":   {"prod", "pl-0123456789abcdef0", "compute", `pl-0123456789abcdef0`, false},
	"requestTimeoutSeconds":    {"prod", "90", "edge", `"OriginReadTimeout":90`, false},
	"wafMode":                  {"prod", "count", "edge", `"OverrideAction":{"Count":{}}`, false},
	"wafRateLimit":             {"prod", "500", "edge", `"Limit":500`, false},
	"wafBodyLimitKiB":          {"prod", "12", "edge", `"Size":12288`, false},
	"wafLogging":               {"prod", "false", "edge", `AWS::WAFv2::LoggingConfiguration`, true},
	"frontendRepository":       {"prod", "https://github.com/acme/frontend", "edge", `AWS::Amplify::App`, false},
	"frontendBranch":           {"prod", "release", "edge", `"BranchName":"release"`, false},
	"frontendTokenSecretName":  {"prod", "acme/token", "edge", `acme/token`, false},
}

// settingCompanions keep the variants valid: values the table's settings need beside them.
var settingCompanions = map[string]string{"prod.onDemandBaseTasks": "0"} // prod without Spot

// TestEverySettingChangesTheTemplateWhereItShould: issue 17's table over every field of Config.
func TestEverySettingChangesTheTemplateWhereItShould(t *testing.T) {
	// GIVEN both variant stages built from -c <stage>.<key>=<value> for every setting (movedStages)
	for _, f := range config.StageFields() {
		if _, ok := settingEffects[f.Key]; !ok && f.Key != "region" { // the design's only region: no other valid value
			t.Errorf("setting %s has no entry in settingEffects", f.Key)
		}
	}
	variants, _ := movedStages(t)
	layer := func(s *H2oStage, name string) string {
		for _, stack := range s.Stacks() {
			if *stack.Node().Id() == name {
				return mustJSON(templateJSON(stack))
			}
		}
		t.Fatalf("no layer %s", name)
		return ""
	}
	// WHEN each setting's layer is compared with the base stage's THEN its value shows there (or its effect goes)
	for key, e := range settingEffects {
		if key == "account" {
			if got := *variants["prod"].Network.Account(); got != e.value || *built["prod"].Network.Account() == e.value {
				t.Errorf("account: the stacks' account is %s, want %s", got, e.value)
			}
			continue
		}
		before, after := layer(built[e.base], e.layer), layer(variants[e.base], e.layer)
		if e.gone {
			before, after = after, before
		}
		if !strings.Contains(after, e.want) || strings.Contains(before, e.want) {
			t.Errorf("%s=%s does not change %s's %s template as it should (%q)", key, e.value, e.base, e.layer, e.want)
		}
	}
}
