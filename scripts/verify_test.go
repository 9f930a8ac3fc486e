package scripts

import (
	"regexp"
	"strings"
	"testing"
)

func dbArn(stage string) string {
	return "arn:aws:rds:us-east-1:" + account + ":db:" + out(stage, "data", "DatabaseInstanceId")
}

func metricCall(stage, metric string) []string {
	return []string{"aws", "cloudwatch", "get-metric-statistics", "--region", "us-east-1", "--namespace", "AWS/SNS",
		"--metric-name", metric, "--dimensions", "Name=TopicName,Value=" + out(stage, "observability", "AlarmTopicName"),
		"--start-time", "<time>", "--end-time", "<time>", "--period", "60", "--statistics", "Sum",
		"--query", "sum(Datapoints[].Sum)", "--output", "text"}
}

func setAlarmState(stage, state, reason string) []string {
	return []string{"aws", "cloudwatch", "set-alarm-state", "--region", "us-east-1", "--alarm-name",
		out(stage, "observability", "CanaryAlarmName"), "--state-value", state, "--state-reason", reason}
}

// verifyHarness: a healthy stage; overrides (rules that win over the healthy answers) come first.
func verifyHarness(t *testing.T, stage string, overrides func(h *harness)) *harness {
	h := newHarness(t)
	h.env["VERIFY_POLL"] = "0"
	h.env["VERIFY_WAIT"] = "3"
	if overrides != nil {
		overrides(h)
	}
	currentVersions(h, stage)
	h.on("aws", []string{"describe-services", "--cluster", clusterOf(stage)}, "2\t2\t1\tCOMPLETED\n", 0).
		on("aws", []string{"describe-target-health", out(stage, "compute", "TargetGroupArn")}, "healthy\thealthy\n", 0).
		on("aws", []string{"describe-target-health", out(stage, "compute", "AlternateTargetGroupArn")}, "\n", 0).
		on("aws", []string{"get-distribution"}, out(stage, "edge", "WebAclArn")+"\n", 0).
		on("aws", []string{"get-logging-configuration"}, out(stage, "edge", "WafLogDestination")+"\n", 0).
		on("aws", []string{"NumberOfNotificationsDelivered"}, "1.0\n", 0).
		on("aws", []string{"NumberOfNotificationsFailed"}, "0\n", 0).
		on("aws", []string{"describe-secret"}, "True\n", 0).
		on("aws", []string{"describe-db-instances"}, "7\t2026-12-01T10:00:00+00:00\t"+dbArn(stage)+"\n", 0).
		on("aws", []string{"list-recovery-points-by-backup-vault"}, "3\n", 0).
		on("aws", []string{"describe-managed-prefix-lists"}, out(stage, "compute", "CloudFrontPrefixListId")+"\tAWS\n", 0).
		on("aws", []string{"describe-backup-vault"}, "True\t"+out(stage, "data", "BackupVaultMinRetentionDays")+"\t2026-01-04T10:00:00.000000+00:00\n", 0)
	return deployed(h, stage, 5, "sha5")
}

// targetHealth: the read of the states of the targets of the target group the compute stack outputs as key.
func targetHealth(stage, key string) []string {
	return []string{"aws", "elbv2", "describe-target-health", "--region", "us-east-1", "--target-group-arn", out(stage, "compute", key),
		"--query", "TargetHealthDescriptions[].TargetHealth.State", "--output", "text"}
}

// verifyCalls: every call of a passing run (the metrics read once).
func verifyCalls(stage string) [][]string {
	c := statuses(stage)
	for _, layer := range []string{"data", "compute", "edge", "observability"} {
		c = append(c, outputsCall("h2o-"+stage+"-"+layer))
	}
	c = append(c,
		[]string{"aws", "ecs", "describe-services", "--region", "us-east-1", "--cluster", clusterOf(stage),
			"--services", serviceOf(stage), "--query",
			"services[0].[desiredCount, runningCount, length(deployments), deployments[?status=='PRIMARY'] | [0].rolloutState]",
			"--output", "text"},
		targetHealth(stage, "TargetGroupArn"), targetHealth(stage, "AlternateTargetGroupArn"),
		curlHealth(stage))
	if stage == "prod" {
		c = append(c,
			[]string{"aws", "cloudfront", "get-distribution", "--region", "us-east-1", "--id", out(stage, "edge", "DistributionId"),
				"--query", "Distribution.DistributionConfig.WebACLId", "--output", "text"},
			[]string{"aws", "wafv2", "get-logging-configuration", "--region", "us-east-1", "--resource-arn", out(stage, "edge", "WebAclArn"),
				"--query", "LoggingConfiguration.LogDestinationConfigs[0]", "--output", "text"})
	}
	c = append(c,
		[]string{"aws", "ec2", "describe-managed-prefix-lists", "--region", "us-east-1", "--filters",
			"Name=prefix-list-name,Values=com.amazonaws.global.cloudfront.origin-facing", "--query", "PrefixLists[].[PrefixListId,OwnerId]", "--output", "text"},
		setAlarmState(stage, "OK", "verify.sh: reset before the alarm delivery check"),
		setAlarmState(stage, "ALARM", "verify.sh test: alarm delivery check, not an incident"),
		metricCall(stage, "NumberOfNotificationsDelivered"),
		metricCall(stage, "NumberOfNotificationsFailed"),
		[]string{"aws", "secretsmanager", "describe-secret", "--region", "us-east-1", "--secret-id", out(stage, "data", "DatabaseSecretArn"),
			"--query", "RotationEnabled", "--output", "text"},
		[]string{"aws", "rds", "describe-db-instances", "--region", "us-east-1", "--db-instance-identifier", out(stage, "data", "DatabaseInstanceId"),
			"--query", "DBInstances[0].[BackupRetentionPeriod, LatestRestorableTime, DBInstanceArn]", "--output", "text"})
	if stage == "prod" {
		c = append(c, []string{"aws", "backup", "list-recovery-points-by-backup-vault", "--region", "us-east-1",
			"--backup-vault-name", out(stage, "data", "BackupVaultName"), "--by-resource-arn", dbArn(stage),
			"--query", "length(RecoveryPoints[?Status=='COMPLETED' || Status=='AVAILABLE'])", "--output", "text"},
			[]string{"aws", "backup", "describe-backup-vault", "--region", "us-east-1", "--backup-vault-name", out(stage, "data", "BackupVaultName"),
				"--query", "[Locked, MinRetentionDays, LockDate]", "--output", "text"})
	}
	return append(c, versionCalls(stage)...)
}

var isoTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)

// runVerify runs verify.sh and replaces the metric window's timestamps by <time>.
func runVerify(h *harness, stage string) result {
	r := h.run("verify.sh", stage)
	for _, c := range r.calls {
		for i, a := range c {
			if isoTime.MatchString(a) {
				c[i] = "<time>"
			}
		}
	}
	return r
}

// afterLast: what a script prints of an ARN or id, the part after the last sep.
func afterLast(s, sep string) string { return s[strings.LastIndex(s, sep)+len(sep):] }

func TestVerifyPassingProd(t *testing.T) {
	t.Parallel()
	r := runVerify(verifyHarness(t, "prod", nil), "prod")
	expectCode(t, r, 0)
	expectCalls(t, r, verifyCalls("prod")...)
	expectLines(t, r,
		"PASS  stacks    h2o-prod-network UPDATE_COMPLETE",
		"PASS  service   h2o-prod/h2o-backend-service: 2 of 2 tasks running, 1 deployment(s), primary COMPLETED",
		"PASS  targets   "+afterLast(out("prod", "compute", "TargetGroupArn"), ":")+": 2 healthy, 0 not healthy, 0 draining (holds the service's tasks)",
		"PASS  targets   "+afterLast(out("prod", "compute", "AlternateTargetGroupArn"), ":")+": no tasks, as expected of the group the last deploy moved away from",
		"PASS  health    GET "+apiURLOf("prod")+"/health: 2xx",
		"PASS  waf       distribution "+out("prod", "edge", "DistributionId")+" uses web ACL "+afterLast(out("prod", "edge", "WebAclArn"), "/webacl/"),
		"PASS  waf       web ACL logging to aws-waf-logs-h2o-prod",
		"PASS  alarms    h2o-prod-notification-canary -> topic h2o-prod-alarms: 1 delivered, 0 failed",
		"PASS  rotation  "+afterLast(out("prod", "data", "DatabaseSecretArn"), ":secret:")+": rotation enabled",
		"PASS  backups   h2o-prod-postgres: retention 7 days, latest restorable time 2026-12-01T10:00:00+00:00",
		"PASS  backups   vault "+out("prod", "data", "BackupVaultName")+": 3 recovery point(s) of h2o-prod-postgres",
		"PASS  origin    "+out("prod", "compute", "CloudFrontPrefixListId")+" is com.amazonaws.global.cloudfront.origin-facing (AWS-managed): the only source the load balancer admits",
		"PASS  vault     vault "+out("prod", "data", "BackupVaultName")+": compliance lock, min "+out("prod", "data", "BackupVaultMinRetentionDays")+" days, immutable since 2026-01-04T10:00:00.000000+00:00",
		"verify.sh prod: 22 PASS, 0 FAIL, 0 WARN",
	)
	expectLines(t, r, currentVersionLines("prod")...)
}

func TestVerifyPassingDevHasNoWAFAndNoBackupPlan(t *testing.T) {
	t.Parallel()
	r := runVerify(verifyHarness(t, "dev", nil), "dev")
	expectCode(t, r, 0)
	expectCalls(t, r, verifyCalls("dev")...)
	expectLines(t, r,
		"SKIP  waf       no WAF in this stage",
		"SKIP  backups   no AWS Backup plan in this stage (automated RDS backups only)",
		"SKIP  vault     no AWS Backup vault in this stage",
		"verify.sh dev: 18 PASS, 0 FAIL, 0 WARN",
	)
}

// dev at night: no tasks, so no targets and a 503 from /health; said, not failed.
func TestVerifyScaledToZeroSaysSo(t *testing.T) {
	t.Parallel()
	h := verifyHarness(t, "dev", func(h *harness) {
		h.on("aws", []string{"describe-services", "--cluster", clusterOf("dev")}, "0\t0\t1\tCOMPLETED\n", 0)
	})
	r := runVerify(h, "dev")
	expectCode(t, r, 0)
	if len(filter(r.calls, "curl")) != 0 || len(filter(r.calls, "describe-target-health")) != 0 {
		t.Errorf("checked targets or /health of a stage scaled to 0\n%s", r)
	}
	expectLines(t, r,
		"PASS  service   h2o-dev/h2o-backend-service: 0 of 0 tasks running, 1 deployment(s), primary COMPLETED (scaled to 0: off hours)",
		"SKIP  targets   desired count 0 (scaled to 0 off hours): no targets to check",
		"SKIP  health    the service is scaled to 0 (off hours)",
	)
}

// verifyChecks are verify.sh's checks, in the order it reports them.
var verifyChecks = []string{"stacks", "service", "targets", "health", "waf", "origin", "alarms", "rotation", "backups", "vault", "versions"}

// Each check failing on its own: exit 1, a FAIL line naming what was looked at, the other checks still run.
func TestVerifyFailures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		stage    string
		rule     func(h *harness)
		wantLine string
	}{
		{"stack whose create failed", "prod", func(h *harness) {
			stackIs(h, 0, "prod", "data", "ROLLBACK_COMPLETE")
		}, "FAIL  stacks    h2o-prod-data is ROLLBACK_COMPLETE (its create failed and was rolled back: it has no outputs) (deploy the stage: scripts/deploy.sh prod)"},
		{"stack missing", "dev", func(h *harness) {
			stackIs(h, 0, "dev", "edge", "ABSENT")
		}, "FAIL  stacks    h2o-dev-edge does not exist (deploy the stage: scripts/deploy.sh dev)"},
		{"checks of a stack that is not ready", "dev", func(h *harness) {
			stackIs(h, 0, "dev", "edge", "ABSENT")
		}, "FAIL  health    stack h2o-dev-edge is not ready (above): no output ApiUrl to check with"},
		{"tasks missing", "prod", func(h *harness) {
			h.on("aws", []string{"describe-services", "--cluster", clusterOf("prod")}, "2\t1\t2\tIN_PROGRESS\n", 0)
		}, "FAIL  service   h2o-prod/h2o-backend-service: 1 of 2 tasks running, 2 deployment(s), primary IN_PROGRESS"},
		{"service unknown to ECS", "prod", func(h *harness) {
			h.on("aws", []string{"describe-services", "--cluster", clusterOf("prod")}, "None\tNone\t0\tNone\n", 0)
		}, "FAIL  service   ECS does not know h2o-prod/h2o-backend-service"},
		{"unhealthy target", "prod", func(h *harness) {
			h.on("aws", []string{"describe-target-health", out("prod", "compute", "TargetGroupArn")}, "healthy\tunhealthy\n", 0)
		}, "FAIL  targets   " + afterLast(out("prod", "compute", "TargetGroupArn"), ":") + ": 1 healthy, 1 not healthy, 0 draining (holds the service's tasks)"},
		{"unhealthy target in the alternate group", "dev", func(h *harness) {
			h.on("aws", []string{"describe-target-health", out("dev", "compute", "TargetGroupArn")}, "draining\n", 0).
				on("aws", []string{"describe-target-health", out("dev", "compute", "AlternateTargetGroupArn")}, "initial\thealthy\n", 0)
		}, "FAIL  targets   " + afterLast(out("dev", "compute", "AlternateTargetGroupArn"), ":") + ": 1 healthy, 1 not healthy, 0 draining (holds the service's tasks)"},
		{"tasks in both groups", "prod", func(h *harness) {
			h.on("aws", []string{"describe-target-health"}, "healthy\n", 0)
		}, "FAIL  targets   both target groups hold tasks"},
		{"tasks in neither group", "prod", func(h *harness) {
			h.on("aws", []string{"describe-target-health"}, "draining\n", 0)
		}, "FAIL  targets   neither target group holds a task"},
		{"health check", "dev", func(h *harness) {
			h.env["SMOKE_ATTEMPTS"] = "2"
			h.on("curl", nil, "", 22)
		}, "FAIL  health    GET " + apiURLOf("dev") + "/health: no 2xx answer in 2 attempts"},
		{"WAF detached", "prod", func(h *harness) {
			h.on("aws", []string{"get-distribution"}, "\n", 0)
		}, "FAIL  waf       distribution " + out("prod", "edge", "DistributionId") + " uses web ACL 'none', not " + out("prod", "edge", "WebAclArn")},
		{"WAF logging off", "prod", func(h *harness) {
			h.failTimes(0, []string{"get-logging-configuration"}, cliError("absent", "WAFNonexistentItemException",
				"GetLoggingConfiguration", "AWS WAF couldn’t perform the operation because your resource doesn't exist."))
		}, "FAIL  waf       web ACL " + afterLast(out("prod", "edge", "WebAclArn"), "/webacl/") + " logs to 'nothing', not to " + out("prod", "edge", "WafLogDestination")},
		{"WAF logging elsewhere", "prod", func(h *harness) {
			h.on("aws", []string{"get-logging-configuration"}, "arn:aws:logs:us-east-1:"+account+":log-group:aws-waf-logs-other\n", 0)
		}, "FAIL  waf       web ACL " + afterLast(out("prod", "edge", "WebAclArn"), "/webacl/") + " logs to 'arn:aws:logs:us-east-1:" + account + ":log-group:aws-waf-logs-other'"},
		{"notification failed", "prod", func(h *harness) {
			h.on("aws", []string{"NumberOfNotificationsFailed"}, "1.0\n", 0)
		}, "FAIL  alarms    h2o-prod-notification-canary -> topic h2o-prod-alarms: 1 delivered, 1 failed since"},
		{"nothing delivered", "dev", func(h *harness) {
			h.on("aws", []string{"NumberOfNotificationsDelivered"}, "0\n", 0)
		}, "nothing delivered in 3s (unconfirmed e-mail subscription?)"},
		{"alarm state refused", "dev", func(h *harness) {
			h.failTimes(0, []string{"set-alarm-state"}, accessDenied("SetAlarmState"))
		}, "FAIL  alarms    cannot set the state of h2o-dev-notification-canary"},
		{"rotation off", "dev", func(h *harness) {
			h.on("aws", []string{"describe-secret"}, "False\n", 0)
		}, "FAIL  rotation  " + afterLast(out("dev", "data", "DatabaseSecretArn"), ":secret:") + ": rotation enabled = False"},
		{"no backups", "prod", func(h *harness) {
			h.on("aws", []string{"describe-db-instances"}, "0\tNone\t"+dbArn("prod")+"\n", 0)
		}, "FAIL  backups   h2o-prod-postgres: retention 0 days, latest restorable time None (no point-in-time recovery)"},
		{"prefix list of another service", "prod", func(h *harness) {
			h.on("aws", []string{"describe-managed-prefix-lists"}, "pl-0123abcd\tAWS\n", 0)
		}, "FAIL  origin    cloudFrontPrefixListId is " + out("prod", "compute", "CloudFrontPrefixListId") + ", but com.amazonaws.global.cloudfront.origin-facing is pl-0123abcd in us-east-1"},
		{"no CloudFront prefix list", "dev", func(h *harness) {
			h.on("aws", []string{"describe-managed-prefix-lists"}, "\n", 0)
		}, "FAIL  origin    AWS has no managed prefix list com.amazonaws.global.cloudfront.origin-facing in us-east-1"},
		{"vault unlocked", "prod", func(h *harness) {
			h.on("aws", []string{"describe-backup-vault"}, "False\tNone\tNone\n", 0)
		}, "FAIL  vault     vault " + out("prod", "data", "BackupVaultName") + " is not locked (Locked=False)"},
		{"vault keeps recovery points less long", "prod", func(h *harness) {
			h.on("aws", []string{"describe-backup-vault"}, "True\t7\t2026-01-04T10:00:00+00:00\n", 0)
		}, "FAIL  vault     vault " + out("prod", "data", "BackupVaultName") + " keeps recovery points at least 7 days, the template says " + out("prod", "data", "BackupVaultMinRetentionDays")},
		{"vault in governance mode", "prod", func(h *harness) {
			h.on("aws", []string{"describe-backup-vault"}, "True\t"+out("prod", "data", "BackupVaultMinRetentionDays")+"\tNone\n", 0)
		}, "FAIL  vault     vault " + out("prod", "data", "BackupVaultName") + " has no lock date: its lock is in governance mode"},
		{"no outputs", "dev", func(h *harness) {
			h.on("aws", []string{"describe-stacks", "h2o-dev-observability", "Stacks[0].Outputs[].[OutputKey,OutputValue]"},
				without(describeStacksAnswer("dev", "observability"), "CanaryAlarmName"), 0)
		}, "FAIL  alarms    stack h2o-dev-observability has no output CanaryAlarmName"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := runVerify(verifyHarness(t, c.stage, c.rule), c.stage)
			expectCode(t, r, 1)
			expectLines(t, r, c.wantLine)
			// Every check still reports (the last one's own FAIL line would not show that the others ran).
			for _, check := range verifyChecks {
				if !regexp.MustCompile(`(?m)^(PASS|FAIL|WARN|SKIP) +` + check + ` `).MatchString(r.stdout) {
					t.Errorf("no %s line: stopped at the first failure?\n%s", check, r)
				}
			}
		})
	}
}

// Nothing delivered yet: the metrics are read VERIFY_WAIT/VERIFY_POLL times, until a delivery shows up.
func TestVerifyPollsForTheDelivery(t *testing.T) {
	t.Parallel()
	h := verifyHarness(t, "dev", func(h *harness) {
		h.env["VERIFY_WAIT"] = "5"
		h.onTimes(2, "aws", []string{"NumberOfNotificationsDelivered"}, "0\n", 0)
	})
	r := runVerify(h, "dev")
	expectCode(t, r, 0)
	if n := len(filter(r.calls, "get-metric-statistics")); n != 6 {
		t.Errorf("%d metric reads, want 3 rounds of 2\n%s", n, r)
	}
	expectLines(t, r, "PASS  alarms    h2o-dev-notification-canary -> topic h2o-dev-alarms: 1 delivered, 0 failed")
}

// After every other canary deploy the service's tasks are in the alternate target group: that one is checked,
// and the primary must hold nothing but the replaced release draining out.
func TestVerifyChecksTheGroupThatHoldsTheTasks(t *testing.T) {
	t.Parallel()
	// GIVEN prod after a canary deploy moved the tasks to the alternate group, the old ones still draining
	h := verifyHarness(t, "prod", func(h *harness) {
		h.on("aws", []string{"describe-target-health", out("prod", "compute", "TargetGroupArn")}, "draining\tdraining\n", 0).
			on("aws", []string{"describe-target-health", out("prod", "compute", "AlternateTargetGroupArn")}, "healthy\thealthy\n", 0)
	})
	// WHEN verify runs THEN the alternate group passes as the live one, the primary as expected-empty
	r := runVerify(h, "prod")
	expectCode(t, r, 0)
	expectLines(t, r,
		"PASS  targets   "+afterLast(out("prod", "compute", "AlternateTargetGroupArn"), ":")+": 2 healthy, 0 not healthy, 0 draining (holds the service's tasks)",
		"PASS  targets   "+afterLast(out("prod", "compute", "TargetGroupArn"), ":")+": no tasks, as expected of the group the last deploy moved away from (2 draining: the release it replaced leaving)")
}

// A compliance lock in its cooling-off days is still removable: worth a look, not a failure.
func TestVerifyACoolingOffVaultLockIsAWarning(t *testing.T) {
	t.Parallel()
	// GIVEN prod's vault locked in compliance mode with a lock date still ahead
	h := verifyHarness(t, "prod", func(h *harness) {
		h.on("aws", []string{"describe-backup-vault"}, "True\t"+out("prod", "data", "BackupVaultMinRetentionDays")+"\t2999-01-01T00:00:00+00:00\n", 0)
	})
	// WHEN verify runs THEN it warns until when the lock can be removed
	r := runVerify(h, "prod")
	expectCode(t, r, 0)
	expectLines(t, r, "WARN  vault     vault "+out("prod", "data", "BackupVaultName")+": compliance lock, min "+out("prod", "data", "BackupVaultMinRetentionDays")+
		" days, still removable until its lock date 2999-01-01T00:00:00+00:00")
}

// A fresh prod stage before its first backup window: no recovery point yet is a warning, not a failure.
func TestVerifyNoRecoveryPointYetIsAWarning(t *testing.T) {
	t.Parallel()
	h := verifyHarness(t, "prod", func(h *harness) {
		h.on("aws", []string{"list-recovery-points-by-backup-vault"}, "0\n", 0)
	})
	r := runVerify(h, "prod")
	expectCode(t, r, 0)
	expectLines(t, r, "WARN  backups   vault h2o-prod-backups: no recovery point of h2o-prod-postgres yet",
		"aws backup list-backup-jobs --region us-east-1 --by-backup-vault-name h2o-prod-backups",
		"verify.sh prod: 21 PASS, 0 FAIL, 1 WARN")
}

func TestVerifyARolledBackUpdateIsAWarning(t *testing.T) {
	t.Parallel()
	// GIVEN a data stack whose last update CloudFormation rolled back (a stable state the CDK then leaves alone)
	h := verifyHarness(t, "prod", func(h *harness) {
		stackIs(h, 0, "prod", "data", "UPDATE_ROLLBACK_COMPLETE")
	})
	// WHEN verify runs THEN it says so without failing the check
	r := runVerify(h, "prod")
	expectCode(t, r, 0)
	expectLines(t, r, "WARN  stacks    h2o-prod-data UPDATE_ROLLBACK_COMPLETE (its last update was rolled back; see its events)",
		"verify.sh prod: 21 PASS, 0 FAIL, 1 WARN")
}
