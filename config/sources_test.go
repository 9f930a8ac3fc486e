package config

import (
	"regexp"
	"strings"
	"testing"
)

// settingCases holds, for every setting, a valid value other than either stage's effective one and an invalid
// one (as `-c` text). A setting added to Config without a case here fails TestEverySettingIsCovered.
var settingCases = map[string]struct{ valid, invalid string }{
	"account":                  {"123456789012", "12345"},
	"region":                   {"", "eu-west-1"}, // the design's only region: no other valid value
	"availabilityZones":        {"us-east-1b,us-east-1c", "us-east-1a"},
	"vpcCidr":                  {"10.30.0.0/16", "10.30.0.0/8"},
	"natGateways":              {"1", "-1"},
	"cpuArchitecture":          {"X86_64", "arm"},
	"taskCpu":                  {"4096", "3000"},
	"taskMemoryMiB":            {"5120", "4000"},
	"workers":                  {"4", "0"},
	"containerPort":            {"8080", "80"},
	"containerUser":            {"app", "Root User"},
	"minTasks":                 {"3", "0"},
	"canaryPercent":            {"20", "51"},
	"canaryBakeMinutes":        {"3", "0"},
	"deployBakeMinutes":        {"2", "61"},
	"deployFailureThreshold":   {"3", "0"},
	"healthCheckGraceSeconds":  {"40", "81"},
	"errorRateMinRequests":     {"50", "0"},
	"maxTasks":                 {"4", "51"},
	"fargateSpot":              {"false", "maybe"},
	"onDemandBaseTasks":        {"0", "x"},
	"scaleDownCron":            {"cron(0 21 ? * MON-FRI *)", "0 21 * * *"},
	"scaleUpCron":              {"cron(0 7 ? * MON-FRI *)", "7am"},
	"scheduleTimeZone":         {"Europe/Madrid", "Mars/Olympus"},
	"stopDatabaseOffHours":     {"false", "yes"},
	"dbStartLeadMinutes":       {"30", "121"},
	"tracing":                  {"true", "on"},
	"dbInstanceClass":          {"db.t4g.medium", "t4g.medium"},
	"dbMultiAz":                {"true", "2"},
	"dbEngineVersion":          {"17.7", "17.4"},
	"dbAllocatedStorageGiB":    {"30", "10"},
	"dbMaxAllocatedStorageGiB": {"200", "15"},
	"backupRetentionDays":      {"14", "0"},
	"enhancedMonitoring":       {"true", "1"},
	"performanceInsights":      {"true", "no"},
	"customerManagedDataKey":   {"true", "kms"},
	"backupPlan":               {"true", "daily"},
	"backupVaultLock":          {"governance", "legal-hold"},
	"backupCopyVaultArn":       {"arn:aws:backup:us-west-2:123456789012:backup-vault:h2o-copy", "h2o-copy"},
	"pdfNoncurrentVersionDays": {"90", "0"},
	"pdfReplicationBucketArn":  {"arn:aws:s3:::h2o-pdf-replica", "s3://h2o-pdf-replica"},
	"pdfReplicationKmsKeyArn":  {"arn:aws:kms:us-west-2:123456789012:key/0123abcd-0123-4567-89ab-0123456789ab", "alias/replica"},
	"cacheNodeType":            {"cache.t4g.medium", "t4g.medium"},
	"cacheReplicas":            {"2", "6"},
	"cacheEngineVersion":       {"8.1", "7.1"},
	"appSecretKeys":            {"AI_API_KEY,OTHER_KEY", "ai-key"},
	"deletionProtection":       {"true", "sure"},
	"logRetentionDays":         {"30", "10"},
	"alarmEmail":               {"team@h2o.example.org", "not-an-email"},
	"slackWorkspaceId":         {"T0123ABCD", "team"},
	"slackChannelId":           {"C0123ABCD", "chan"},
	"monthlyBudgetUsd":         {"500", "0"},
	"metricsNamespace":         {"H2O/Api", "AWS/ECS"},
	"aiDurationMetric":         {"AiTime", ""},
	"domainName":               {"h2o.example.com", "Not A Domain"},
	"hostedZoneId":             {"Z0123456789ABCDEFGHIJ", "zone"},
	"httpOriginTargetGroup":    {"alternate", "blue"},
	"cloudFrontPrefixListId":   {"pl-0123456789abcdef0", "sg-12345678"},
	"requestTimeoutSeconds":    {"90", "121"},
	"wafMode":                  {"count", "monitor"},
	"wafBodyLimitKiB":          {"12", "17"},
	"wafLogging":               {"true", "yes"},
	"wafRateLimit":             {"500", "5"},
	"frontendRepository":       {"https://github.com/acme/frontend", "git@github.com:acme/frontend.git"},
	"frontendBranch":           {"release", ""},
	"frontendTokenSecretName":  {"acme/token", "bad name"},
}

// companions are the other settings a valid value needs to pass the cross-field rules.
var companions = map[string]map[string]string{
	"domainName":              {"hostedZoneId": "Z0123456789ABCDEFGHIJ"},
	"hostedZoneId":            {"domainName": "h2o.example.com"},
	"httpOriginTargetGroup":   {"domainName": "h2o.example.com", "hostedZoneId": "Z0123456789ABCDEFGHIJ"},
	"slackWorkspaceId":        {"slackChannelId": "C0123ABCD"},
	"slackChannelId":          {"slackWorkspaceId": "T0123ABCD"},
	"taskCpu":                 {"taskMemoryMiB": "8192"},
	"minTasks":                {"onDemandBaseTasks": "0"},
	"fargateSpot":             {"onDemandBaseTasks": "0"},
	"scaleDownCron":           {"scheduleTimeZone": "UTC", "scaleUpCron": "cron(0 8 ? * MON-FRI *)"},
	"scaleUpCron":             {"scheduleTimeZone": "UTC", "scaleDownCron": "cron(0 20 ? * MON-FRI *)"},
	"deletionProtection":      {"stopDatabaseOffHours": "false"},
	"wafBodyLimitKiB":         {"wafMode": "count"},
	"backupCopyVaultArn":      {"backupPlan": "true", "customerManagedDataKey": "true"},
	"pdfReplicationBucketArn": {"customerManagedDataKey": "false"},
	"pdfReplicationKmsKeyArn": {"customerManagedDataKey": "true", "pdfReplicationBucketArn": "arn:aws:s3:::h2o-pdf-replica"},
	"customerManagedDataKey":  {"pdfReplicationKmsKeyArn": ""},
	"wafLogging":              {"wafMode": "count"},
}

func TestEverySettingIsCovered(t *testing.T) {
	for _, f := range StageFields() {
		if _, ok := settingCases[f.Key]; !ok {
			t.Errorf("setting %s has no case in settingCases", f.Key)
		}
		if f.Doc == "" {
			t.Errorf("setting %s has no doc tag (README's reason)", f.Key)
		}
	}
}

func TestEverySettingIsSettablePerStageFromContext(t *testing.T) {
	for _, f := range StageFields() {
		tc := settingCases[f.Key]
		if tc.valid == "" {
			continue // no other valid value (region)
		}
		for _, stage := range Stages() {
			t.Run(f.Key+"/"+stage, func(t *testing.T) {
				// GIVEN -c <stage>.<key>=<valid value> (and what it needs to be consistent)
				ctx := map[string]string{stage + "." + f.Key: tc.valid}
				for k, v := range companions[f.Key] {
					ctx[stage+"."+k] = v
				}
				// WHEN the stage resolves THEN the value is applied and its origin named
				c, origins, err := Resolve(stage, contextOf(ctx))
				if err != nil {
					t.Fatal(err)
				}
				if got := f.Format(c); got != strings.ReplaceAll(tc.valid, ",", ", ") {
					t.Errorf("%s = %s, want %s", f.Key, got, tc.valid)
				}
				if origins[f.Key] != "-c "+stage+"."+f.Key {
					t.Errorf("origin of %s = %q", f.Key, origins[f.Key])
				}
			})
		}
	}
}

func TestEveryInvalidSettingFailsNamingIt(t *testing.T) {
	for _, f := range StageFields() {
		tc := settingCases[f.Key]
		t.Run(f.Key, func(t *testing.T) {
			// GIVEN -c prod.<key>=<invalid value> WHEN prod resolves THEN the error names stage, key, value and source
			_, err := Load("prod", contextOf(map[string]string{"prod." + f.Key: tc.invalid}))
			if err == nil {
				t.Fatalf("%s=%q was accepted", f.Key, tc.invalid)
			}
			for _, want := range []string{`stage "prod"`, f.Key + " = ", `"` + tc.invalid + `"`, "want ", "-c prod." + f.Key} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not contain %q:\n%v", want, err)
				}
			}
		})
	}
}

func TestIssueCasesFailNamingTheKey(t *testing.T) {
	// The first paragraph of issue 17: each of these used to exit 0 and change nothing.
	cases := map[string]map[string]string{
		"maxTasks":    {"dev.minTasks": "5", "dev.maxTasks": "2"},
		"taskCpu":     {"taskCpu": "3000"},
		"vpcCidr":     {"vpcCidr": "10.0.0.0/8"},
		"natGateways": {"dev.natGateways": "-1"},
		"alarmEmial":  {"alarmEmial": "ops@company.com"},
	}
	for key, ctx := range cases {
		t.Run(key, func(t *testing.T) {
			_, _, err := LoadApp(Stages(), contextOf(ctx))
			if err == nil || !strings.Contains(err.Error(), key) {
				t.Errorf("want an error naming %s, got %v", key, err)
			}
		})
	}
}

func TestUnknownKeysAreRefusedWithTheClosestKnownKey(t *testing.T) {
	cases := []struct {
		key, want string
	}{
		{"alarmEmial", `"alarmEmial" is not a setting; did you mean "alarmEmail"?`},
		{"dev.alarmEmial", `"dev.alarmEmial" is not a setting of "dev"; did you mean "dev.alarmEmail"?`},
		{"MinTasks", `did you mean "minTasks"?`},
		{"staging.minTasks", `names no stage "staging" (known: dev, prod, ci)`},
		{"prd.minTasks", `did you mean "prod.minTasks"?`},
		{"ci.minTasks", `"ci.minTasks" is not a setting of "ci"`},
		{"imageTag", `"imageTag" is no longer a setting: the image is the compute stack's ImageTag parameter`},
		{"prod.imageTag", "is no longer a setting"},
		{"enableXRay", `"enableXRay" is no longer a setting: the X-Ray daemon is out of support from 2027-02-25`},
		{"prod.enableXRay", "set tracing=true for the AWS Distro for OpenTelemetry collector"},
		{"completelyUnrelated", `"completelyUnrelated" is not a setting`},
		{"dev:minTasks", `"dev:minTasks" is not a setting (a stage's settings take a dot); did you mean "dev.minTasks"?`},
		{"cdkStage", `"cdkStage" is not a setting`},
	}
	for _, tc := range cases {
		t.Run(tc.key, func(t *testing.T) {
			_, _, err := LoadApp([]string{"dev"}, contextOf(map[string]string{tc.key: "x"}))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("-c %s=x: want an error containing %q, got %v", tc.key, tc.want, err)
			}
		})
	}
	// Keys of the CDK and its CLI, and the stage selector, are not settings and are not refused.
	ctx := map[string]any{"@aws-cdk/core:checkSecretUsage": true, "aws:cdk:enable-path-metadata": true,
		"@aws-cdk-containers/ecs-service-extensions:enableDefaultLogDriver": true, "stage": "dev",
		"availability-zones:account=123456789012:region=us-east-1": []any{"us-east-1a"}, "acknowledged-issue-numbers": []any{1.0}}
	if _, _, err := LoadApp([]string{"dev"}, Sources{Context: ctx}); err != nil {
		t.Errorf("CDK-owned keys refused: %v", err)
	}
}

func TestEveryProblemIsReportedAtOnce(t *testing.T) {
	_, _, err := LoadApp(Stages(), contextOf(map[string]string{"alarmEmial": "x", "dev.minTasks": "abc", "prod.taskCpu": "3000"}))
	for _, want := range []string{"alarmEmial", `stage "dev": minTasks = "abc"`, `stage "prod": taskCpu = "3000"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error does not report %s: %v", want, err)
		}
	}
}

func TestPrecedenceDefaultThenSettingsThenContextThenStageContext(t *testing.T) {
	settings := map[string]map[string]any{"dev": {"workers": 4.0, "maxTasks": 5.0, "minTasks": 2.0}}
	src := Sources{Settings: settings, Context: map[string]any{"maxTasks": "6", "minTasks": "3", "dev.minTasks": "4"}}
	c, origins, err := Resolve("dev", src)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, key := range []string{"taskCpu", "workers", "maxTasks", "minTasks"} {
		f, _ := findField(StageFields(), key)
		got[key] = f.Format(c) + " from " + origins[key]
	}
	want := map[string]string{
		"taskCpu":  "2048 from default",
		"workers":  "4 from config/settings/dev.json",
		"maxTasks": "6 from -c maxTasks",
		"minTasks": "4 from -c dev.minTasks",
	}
	for k := range want {
		if got[k] != want[k] {
			t.Errorf("%s: %s, want %s", k, got[k], want[k])
		}
	}
}

func TestSettingsFilesAreCheckedLikeContext(t *testing.T) {
	settings := map[string]map[string]any{
		"dev":     {"alarmEmial": "ops@h2o.example.org", "minTasks": "two", "natGateways": 1.5},
		"prod":    {"appSecretKeys": []any{"AI_API_KEY", 3.0}},
		"staging": {},
	}
	_, _, err := LoadApp(Stages(), Sources{Settings: settings})
	for _, want := range []string{
		`config/settings/dev.json: "alarmEmial" is not a setting of "dev"; did you mean "alarmEmail"?`,
		`stage "dev": minTasks = "two" is invalid: want a whole number (set by config/settings/dev.json)`,
		`stage "dev": natGateways = "1.5" is invalid: want a whole number`,
		`stage "prod": appSecretKeys = "[\"AI_API_KEY\",3]" is invalid: want a list`,
		`config/settings/staging.json: "staging" is not a stage's settings file`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %s:\n%v", want, err)
		}
	}
}

func TestCommittedSettingsAreValid(t *testing.T) {
	settings, err := Committed()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadApp(Stages(), Sources{Settings: settings}); err != nil {
		t.Fatal(err)
	}
	for _, name := range append(Stages(), ciName) {
		if _, ok := settings[name]; !ok {
			t.Errorf("no committed %s", SettingsFile(name))
		}
	}
}

func TestListsParseFromTextOrJSON(t *testing.T) {
	for _, text := range []string{"us-east-1a,us-east-1b", " us-east-1a , us-east-1b ", `["us-east-1a","us-east-1b"]`} {
		c, err := Load("dev", contextOf(map[string]string{"availabilityZones": text}))
		if err != nil || strings.Join(c.AvailabilityZones, "|") != "us-east-1a|us-east-1b" {
			t.Errorf("%q: %v %v", text, c, err)
		}
	}
	_, err := Load("dev", contextOf(map[string]string{"availabilityZones": `["us-east-1a"`}))
	if err == nil || !strings.Contains(err.Error(), `availabilityZones = "[\"us-east-1a\"" is invalid: want a list`) {
		t.Errorf("broken JSON list: %v", err)
	}
}

func TestDescribeNamesEachValuesOrigin(t *testing.T) {
	out, err := Describe("prod", Sources{Settings: map[string]map[string]any{"prod": {"workers": 4.0}},
		Context: map[string]any{"prod.maxTasks": "4"}})
	if err != nil {
		t.Fatal(err)
	}
	// Each setting's own row holds its value and origin (a substring of the whole output would find "4" in 4096).
	rows := map[string][]string{}
	for _, line := range strings.Split(out, "\n") {
		if fields := strings.Fields(line); len(fields) > 0 {
			rows[fields[0]] = fields[1:]
		}
	}
	for key, want := range map[string][]string{"workers": {"4", "config/settings/prod.json"}, "maxTasks": {"4", "-c", "prod.maxTasks"},
		"taskCpu": {"2048", "default"}} {
		if strings.Join(rows[key], " ") != strings.Join(want, " ") {
			t.Errorf("row %s = %q, want %q:\n%s", key, rows[key], want, out)
		}
	}
	ci, err := Describe("ci", Sources{Settings: map[string]map[string]any{"ci": {"githubRepository": "acme/infra"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^githubRepository\s+acme/infra\s+config/settings/ci\.json$`).MatchString(ci) {
		t.Errorf("h2o-ci's githubRepository row does not hold its value and origin:\n%s", ci)
	}
}
