package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// contextOf is a CDK context as `-c key=value` passes it (strings), over the default settings only.
func contextOf(ctx map[string]string) Sources {
	out := map[string]any{}
	for k, v := range ctx {
		out[k] = v
	}
	return Sources{Context: out}
}

func TestDefaultsAreValidAndMatchTheDesign(t *testing.T) {
	// GIVEN no context WHEN each stage loads THEN it validates and carries the design's values
	for _, stage := range Stages() {
		c, err := Load(stage, contextOf(nil))
		if err != nil {
			t.Fatalf("%s: %v", stage, err)
		}
		if c.TaskCPU != 2048 || c.TaskMemoryMiB != 4096 || c.Workers != 6 || c.MaxTasks != 3 || c.BackupRetentionDays != 7 {
			t.Errorf("%s: task %d/%d workers %d max %d backups %d, want 2048/4096, 6, 3, 7",
				stage, c.TaskCPU, c.TaskMemoryMiB, c.Workers, c.MaxTasks, c.BackupRetentionDays)
		}
		if strings.Join(c.AvailabilityZones, ",") != "us-east-1a,us-east-1b" || c.Region != "us-east-1" {
			t.Errorf("%s: region %s AZs %v", stage, c.Region, c.AvailabilityZones)
		}
	}
	dev, _ := Load("dev", contextOf(nil))
	prod, _ := Load("prod", contextOf(nil))
	if dev.MinTasks != 1 || dev.DBInstanceClass != "db.t4g.micro" || dev.DBMultiAZ || dev.CacheNodeType != "cache.t4g.micro" || dev.DeletionProtection {
		t.Errorf("dev differs from the design: %+v", dev)
	}
	if prod.MinTasks != 2 || prod.DBInstanceClass != "db.t4g.small" || !prod.DBMultiAZ || prod.CacheNodeType != "cache.t4g.small" ||
		prod.CacheReplicas != 1 || !prod.DeletionProtection || prod.NatGateways != 2 {
		t.Errorf("prod differs from the design: %+v", prod)
	}
}

func TestContextOverrides(t *testing.T) {
	// GIVEN a global and a stage-scoped override WHEN loading THEN the stage-scoped one wins for its stage
	ctx := contextOf(map[string]string{
		"account": "123456789012", "minTasks": "2", "alarmEmail": "team@h2o.example",
		"prod.minTasks": "3", "domainName": "h2o.example", "hostedZoneId": "Z0ABCDEF12345",
	})
	dev, err := Load("dev", ctx)
	if err != nil {
		t.Fatal(err)
	}
	prod, err := Load("prod", ctx)
	if err != nil {
		t.Fatal(err)
	}
	if dev.MinTasks != 2 || prod.MinTasks != 3 || dev.Account != "123456789012" ||
		dev.AlarmEmail != "team@h2o.example" || prod.DomainName != "h2o.example" || prod.HostedZoneID != "Z0ABCDEF12345" {
		t.Errorf("overrides not applied: dev %+v prod %+v", dev, prod)
	}
}

func TestEveryRuleRejectsBadValues(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Config)
		field  string // the field the error must name
		value  string // the bad value the error must quote
	}{
		{"email", func(c *Config) { c.AlarmEmail = "not-an-email" }, "alarmEmail", "not-an-email"},
		{"email without domain dot", func(c *Config) { c.AlarmEmail = "ops@localhost" }, "alarmEmail", "ops@localhost"},
		{"email with display name", func(c *Config) { c.AlarmEmail = "Ops <ops@example.com>" }, "alarmEmail", "Ops <ops@example.com>"},
		{"account digits", func(c *Config) { c.Account = "12345" }, "account", "12345"},
		{"account letters", func(c *Config) { c.Account = "12345678901x" }, "account", "12345678901x"},
		{"region", func(c *Config) { c.Region = "eu-west-1"; c.AvailabilityZones = []string{"eu-west-1a", "eu-west-1b"} }, "region", "eu-west-1"},
		{"fargate cpu", func(c *Config) { c.TaskCPU = 3000 }, "taskCpu", "3000"},
		{"fargate pair", func(c *Config) { c.TaskCPU, c.TaskMemoryMiB = 2048, 2048 }, "taskMemoryMiB", "2048"},
		{"min above max", func(c *Config) { c.MinTasks, c.MaxTasks = 3, 2 }, "maxTasks", "2"},
		{"min zero", func(c *Config) { c.MinTasks, c.OnDemandBaseTasks = 0, 0 }, "minTasks", "0"},
		{"canary share", func(c *Config) { c.CanaryPercent = 60 }, "canaryPercent", "60"},
		{"canary bake", func(c *Config) { c.CanaryBakeMinutes = 0 }, "canaryBakeMinutes", "0"},
		{"deploy bake", func(c *Config) { c.DeployBakeMinutes = -1 }, "deployBakeMinutes", "-1"},
		{"failure threshold", func(c *Config) { c.DeployFailureThreshold = 11 }, "deployFailureThreshold", "11"},
		{"cidr syntax", func(c *Config) { c.VPCCIDR = "10.0.0.0/33" }, "vpcCidr", "10.0.0.0/33"},
		{"cidr too small", func(c *Config) { c.VPCCIDR = "10.0.0.0/24" }, "vpcCidr", "10.0.0.0/24"},
		{"cidr host bits", func(c *Config) { c.VPCCIDR = "10.0.1.0/16" }, "vpcCidr", "10.0.1.0/16"},
		{"one AZ with Multi-AZ", func(c *Config) { c.AvailabilityZones = []string{"us-east-1a"}; c.DBMultiAZ, c.NatGateways = true, 1 }, "availabilityZones", "us-east-1a"},
		{"AZ of another region", func(c *Config) { c.AvailabilityZones = []string{"us-east-1a", "us-west-2b"} }, "availabilityZones", "us-west-2b"},
		{"duplicate AZ", func(c *Config) { c.AvailabilityZones = []string{"us-east-1a", "us-east-1a"} }, "availabilityZones", "us-east-1a,us-east-1a"},
		{"NAT above AZs", func(c *Config) { c.NatGateways = 3 }, "natGateways", "3"},
		{"architecture", func(c *Config) { c.CPUArchitecture = "arm" }, "cpuArchitecture", "arm"},
		{"workers", func(c *Config) { c.Workers = 0 }, "workers", "0"},
		{"privileged port", func(c *Config) { c.ContainerPort = 80 }, "containerPort", "80"},
		{"container user", func(c *Config) { c.ContainerUser = "Root User" }, "containerUser", "Root User"},
		{"db class", func(c *Config) { c.DBInstanceClass = "t4g.micro" }, "dbInstanceClass", "t4g.micro"},
		{"db storage", func(c *Config) { c.DBAllocatedStorageGiB = 10 }, "dbAllocatedStorageGiB", "10"},
		{"db storage ceiling", func(c *Config) { c.DBMaxAllocatedStorageGiB = 20 }, "dbMaxAllocatedStorageGiB", "20"},
		{"backups off", func(c *Config) { c.BackupRetentionDays = 0 }, "backupRetentionDays", "0"},
		{"app secret key", func(c *Config) { c.AppSecretKeys = []string{"ai-key"} }, "appSecretKeys", "ai-key"},
		{"no app secret keys", func(c *Config) { c.AppSecretKeys = nil }, "appSecretKeys", ""},
		{"app secret key twice", func(c *Config) { c.AppSecretKeys = []string{"AI_API_KEY", "AI_API_KEY"} }, "appSecretKeys", "AI_API_KEY"},
		{"spot base above min", func(c *Config) { c.FargateSpot, c.OnDemandBaseTasks = true, 5 }, "onDemandBaseTasks", "5"},
		{"base without spot", func(c *Config) { c.FargateSpot, c.OnDemandBaseTasks = false, 1 }, "onDemandBaseTasks", "1"},
		{"half a schedule", func(c *Config) {
			c.ScaleDownCron, c.ScaleUpCron, c.ScheduleTimeZone = "cron(0 20 ? * MON-FRI *)", "", "UTC"
		}, "scaleUpCron", ""},
		{"cron syntax", func(c *Config) {
			c.ScaleDownCron, c.ScaleUpCron, c.ScheduleTimeZone = "0 20 * * *", "cron(0 8 ? * MON-FRI *)", "UTC"
		}, "scaleDownCron", "0 20 * * *"},
		{"time zone", func(c *Config) {
			c.ScaleDownCron, c.ScaleUpCron, c.ScheduleTimeZone = "cron(0 20 ? * MON-FRI *)", "cron(0 8 ? * MON-FRI *)", "Mars/Olympus"
		}, "scheduleTimeZone", "Mars/Olympus"},
		{"db stop without schedule", func(c *Config) {
			c.ScaleDownCron, c.ScaleUpCron, c.StopDatabaseOffHours, c.DeletionProtection = "", "", true, false
		}, "stopDatabaseOffHours", "true"},
		{"cache class", func(c *Config) { c.CacheNodeType = "t4g.micro" }, "cacheNodeType", "t4g.micro"},
		{"cache replicas", func(c *Config) { c.CacheReplicas = 6 }, "cacheReplicas", "6"},
		{"log retention", func(c *Config) { c.LogRetentionDays = 10 }, "logRetentionDays", "10"},
		{"log never expires", func(c *Config) { c.LogRetentionDays = 0 }, "logRetentionDays", "0"},
		{"domain syntax", func(c *Config) { c.DomainName = "Not A Domain"; c.HostedZoneID = "Z123" }, "domainName", "Not A Domain"},
		{"domain without zone", func(c *Config) { c.DomainName = "h2o.example" }, "hostedZoneId", ""},
		{"waf mode", func(c *Config) { c.WAFMode = "monitor" }, "wafMode", "monitor"},
		{"waf rate", func(c *Config) { c.WAFRateLimit = 5 }, "wafRateLimit", "5"},
		{"frontend repository", func(c *Config) { c.FrontendRepository = "git@github.com:o/r.git" }, "frontendRepository", "git@github.com:o/r.git"},
		{"frontend branch", func(c *Config) { c.FrontendBranch = "" }, "frontendBranch", ""},
		{"token secret name", func(c *Config) { c.FrontendTokenSecretName = "bad name" }, "frontendTokenSecretName", "bad name"},
		{"slack channel without workspace", func(c *Config) { c.SlackChannelID = "C0123ABCD" }, "slackChannelId", "C0123ABCD"},
		{"slack workspace id", func(c *Config) { c.SlackWorkspaceID, c.SlackChannelID = "team", "C0123ABCD" }, "slackWorkspaceId", "team"},
		{"budget", func(c *Config) { c.MonthlyBudgetUSD = 0 }, "monthlyBudgetUsd", "0"},
		{"metrics namespace", func(c *Config) { c.MetricsNamespace = "AWS/ECS" }, "metricsNamespace", "AWS/ECS"},
		{"metric name", func(c *Config) { c.AIDurationMetric = "" }, "aiDurationMetric", ""},
		{"zone without domain", func(c *Config) { c.HostedZoneID = "Z123" }, "hostedZoneId", "Z123"},
	}
	for _, tc := range cases {
		for _, stage := range Stages() {
			t.Run(stage+"/"+tc.name, func(t *testing.T) {
				// GIVEN a valid stage config with one bad value
				c, err := Load(stage, contextOf(nil))
				if err != nil {
					t.Fatal(err)
				}
				tc.mutate(c)
				// WHEN it is validated
				errs := c.Validate()
				// THEN exactly that problem is reported, naming stage, field, value and what is allowed
				if len(errs) != 1 {
					t.Fatalf("want 1 error, got %d: %v", len(errs), errs)
				}
				msg := errs[0].Error()
				for _, want := range []string{`stage "` + stage + `"`, tc.field, `"` + tc.value + `"`, "want "} {
					if !strings.Contains(msg, want) {
						t.Errorf("error %q does not contain %q", msg, want)
					}
				}
			})
		}
	}
}

func TestBadContextFailsLoadWithEveryProblem(t *testing.T) {
	// GIVEN three bad context values WHEN loading THEN one error names all three keys
	_, err := Load("dev", contextOf(map[string]string{"alarmEmail": "not-an-email", "account": "42", "workers": "0"}))
	if err == nil {
		t.Fatal("want an error")
	}
	for _, key := range []string{"alarmEmail", "account", "workers"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error %q does not name %s", err, key)
		}
	}
}

func TestUnknownStage(t *testing.T) {
	_, _, err := LoadApp([]string{"dev", "staging"}, contextOf(nil))
	if err == nil || !strings.Contains(err.Error(), `"staging"`) || !strings.Contains(err.Error(), "dev, prod") {
		t.Fatalf("want an unknown-stage error listing dev, prod; got %v", err)
	}
}

func TestCIConfig(t *testing.T) {
	c, err := LoadCI(contextOf(map[string]string{"ci.githubRepository": "acme/h2o-infra"}))
	if err != nil || c.GitHubRepository != "acme/h2o-infra" || c.RepositoryName != "h2o-backend" {
		t.Fatalf("LoadCI = %+v, %v", c, err)
	}
	_, err = LoadCI(contextOf(map[string]string{"githubRepository": "not a repo"}))
	if err == nil || !strings.Contains(err.Error(), `githubRepository = "not a repo"`) {
		t.Errorf("want an error naming githubRepository, got %v", err)
	}
}

func TestOperatorTrustSettings(t *testing.T) {
	// GIVEN the committed settings WHEN loaded THEN the operator roles need MFA and trust the account
	c, err := LoadCI(contextOf(nil))
	if err != nil || !c.OperatorRequireMFA || len(c.OperatorPrincipalArns) != 0 {
		t.Fatalf("LoadCI = %+v, %v; want MFA required and no principal restriction by default", c, err)
	}
	sso := "arn:aws:iam::*:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_H2OOperator_*"
	c, err = LoadCI(contextOf(map[string]string{"ci.operatorPrincipalArns": sso, "ci.operatorRequireMfa": "false"}))
	if err != nil || c.OperatorRequireMFA || len(c.OperatorPrincipalArns) != 1 || c.OperatorPrincipalArns[0] != sso {
		t.Fatalf("an Identity Center permission set: LoadCI = %+v, %v", c, err)
	}
	for _, tc := range []struct {
		ctx        map[string]string
		key, value string
	}{
		{map[string]string{"ci.operatorPrincipalArns": "arn:aws:iam::123456789012:group/ops"}, "operatorPrincipalArns", "arn:aws:iam::123456789012:group/ops"},
		{map[string]string{"ci.operatorPrincipalArns": "*"}, "operatorPrincipalArns", "*"},
		// MFA off with nobody named would let any principal allowed by its own policy in without MFA.
		{map[string]string{"ci.operatorRequireMfa": "false"}, "operatorRequireMfa", "false"},
	} {
		_, err := LoadCI(contextOf(tc.ctx))
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%s = %q", tc.key, tc.value)) {
			t.Errorf("%v: want an error naming %s = %q, got %v", tc.ctx, tc.key, tc.value, err)
		}
	}
}

func TestReadmeConfigurationTableIsGenerated(t *testing.T) {
	// GIVEN README.md WHEN the settings or their committed values change THEN its table must be regenerated
	raw, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	settings, err := Committed()
	if err != nil {
		t.Fatal(err)
	}
	want, err := ReadmeTables(Sources{Settings: settings})
	if err != nil {
		t.Fatal(err)
	}
	// Regenerating the section must leave README.md as it is.
	updated, err := UpdateReadme(string(raw), want)
	if err != nil {
		t.Fatal(err)
	}
	if updated != string(raw) {
		t.Errorf("README.md's configuration table is out of date: run `make readme`\n--- generated\n%s", want)
	}
}

func TestPlaceholderAlarmEmailIsADeployProblemNotASynthError(t *testing.T) {
	for addr, placeholder := range map[string]bool{"ops@example.com": true, "a@sub.example.org": true, "ops@h2o.test": true,
		"ops@company.com": false, "ops@example.company.com": false} {
		c, err := Load("dev", contextOf(map[string]string{"alarmEmail": addr}))
		if err != nil {
			t.Fatalf("%s: synth must accept it: %v", addr, err)
		}
		problems := c.DeployProblems()
		if (len(problems) > 0) != placeholder {
			t.Errorf("%s: deploy problems %v, placeholder %v", addr, problems, placeholder)
		}
		if placeholder && !strings.Contains(problems[0], "config/settings/dev.json") {
			t.Errorf("%s: the problem does not say where to set it: %s", addr, problems[0])
		}
	}
}

func TestDatabaseStartsBeforeTheTasks(t *testing.T) {
	c, err := Load("dev", contextOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := c.DatabaseStartCron(); got != "cron(40 7 ? * MON-FRI *)" {
		t.Errorf("database start %s, want 20 minutes before 08:00 on the same days", got)
	}
	// A scale-up too early in the day (or not a plain hour) cannot be moved earlier the same day: refused.
	_, err = Load("dev", contextOf(map[string]string{"dev.scaleUpCron": "cron(10 0 ? * MON-FRI *)"}))
	if err == nil || !strings.Contains(err.Error(), `scaleUpCron = "cron(10 0 ? * MON-FRI *)"`) {
		t.Errorf("want an error naming scaleUpCron, got %v", err)
	}
}
