package scripts

import (
	"strings"
	"testing"
)

// The version check's fakes: the versions a stage is configured with are its data stack's outputs, as the
// synthesized template sets them; what AWS answers about them (support dates, statuses, upgrades) is each test's
// GIVEN, relative to a fixed today.
const versionsNow = "2026-12-06"

func pgVersionOf(stage string) string    { return out(stage, "data", "DatabaseEngineVersion") }
func cacheVersionOf(stage string) string { return out(stage, "data", "CacheEngineVersion") }
func cacheGroupOf(stage string) string   { return out(stage, "data", "CacheReplicationGroupId") }
func pgMajorOf(stage string) string      { return strings.SplitN(pgVersionOf(stage), ".", 2)[0] }

// currentVersions: AWS supports what the stage is configured with and runs it: the major's standard support ends
// in 2029, the minor is available, nothing is pending; ElastiCache offers the cache's version.
func currentVersions(h *harness, stage string) *harness {
	h.env["VERSIONS_NOW"] = versionsNow
	return h.on("aws", []string{"describe-db-major-engine-versions"}, "2029-02-28T00:00:00+00:00\n", 0).
		on("aws", []string{"describe-db-engine-versions"}, "available\t"+pgMajorOf(stage)+".99\n", 0).
		on("aws", []string{"describe-db-instances", "DBInstances[0].[EngineVersion,DBInstanceArn]"}, pgVersionOf(stage)+"\t"+dbArn(stage)+"\n", 0).
		on("aws", []string{"describe-pending-maintenance-actions"}, "None\n", 0).
		on("aws", []string{"describe-cache-engine-versions"}, "7.2\t"+cacheVersionOf(stage)+"\t9.0\n", 0).
		on("aws", []string{"describe-replication-groups"}, cacheGroupOf(stage)+"-001\n", 0).
		on("aws", []string{"describe-cache-clusters"}, cacheVersionOf(stage)+".1\n", 0).
		on("aws", []string{"describe-update-actions"}, "", 0)
}

// versionCalls are the reads of a check with an instance and a cache that exist.
func versionCalls(stage string) [][]string {
	return [][]string{
		{"aws", "rds", "describe-db-major-engine-versions", "--region", "us-east-1", "--engine", "postgres", "--major-engine-version", pgMajorOf(stage),
			"--query", "DBMajorEngineVersions[0].SupportedEngineLifecycles[?LifecycleSupportName=='open-source-rds-standard-support'] | [0].LifecycleSupportEndDate",
			"--output", "text"},
		{"aws", "rds", "describe-db-engine-versions", "--region", "us-east-1", "--engine", "postgres", "--engine-version", pgVersionOf(stage), "--include-all",
			"--query", "DBEngineVersions[0].[Status, ValidUpgradeTarget[?IsMajorVersionUpgrade==`false`] | [-1].EngineVersion]", "--output", "text"},
		{"aws", "rds", "describe-db-instances", "--region", "us-east-1", "--db-instance-identifier", out(stage, "data", "DatabaseInstanceId"),
			"--query", "DBInstances[0].[EngineVersion,DBInstanceArn]", "--output", "text"},
		{"aws", "rds", "describe-pending-maintenance-actions", "--region", "us-east-1", "--resource-identifier", dbArn(stage),
			"--query", "PendingMaintenanceActions[0].PendingMaintenanceActionDetails[?Action=='db-upgrade'].[AutoAppliedAfterDate,ForcedApplyDate,Description]",
			"--output", "text"},
		{"aws", "elasticache", "describe-cache-engine-versions", "--region", "us-east-1", "--engine", "valkey",
			"--query", "CacheEngineVersions[].EngineVersion", "--output", "text"},
		{"aws", "elasticache", "describe-replication-groups", "--region", "us-east-1", "--replication-group-id", cacheGroupOf(stage),
			"--query", "ReplicationGroups[0].MemberClusters[0]", "--output", "text"},
		{"aws", "elasticache", "describe-cache-clusters", "--region", "us-east-1", "--cache-cluster-id", cacheGroupOf(stage) + "-001",
			"--query", "CacheClusters[0].EngineVersion", "--output", "text"},
		{"aws", "elasticache", "describe-update-actions", "--region", "us-east-1", "--replication-group-ids", cacheGroupOf(stage),
			"--update-action-status", "not-applied", "waiting-to-start", "scheduling", "scheduled",
			"--query", "UpdateActions[].[ServiceUpdateName,ServiceUpdateSeverity,ServiceUpdateRecommendedApplyByDate,ServiceUpdateType]",
			"--output", "text"},
	}
}

// currentVersionLines are the PASS lines of a stage whose versions are current (report's layout: verify.sh's).
func currentVersionLines(stage string) []string {
	db, group := out(stage, "data", "DatabaseInstanceId"), cacheGroupOf(stage)
	return []string{
		"PASS  versions  PostgreSQL " + pgMajorOf(stage) + ": RDS standard support until 2029-02-28 (815 days)",
		"PASS  versions  PostgreSQL " + pgVersionOf(stage) + " (the template's) is offered for new instances; newest minor upgrade target " + pgMajorOf(stage) + ".99",
		"PASS  versions  " + db + " runs PostgreSQL " + pgVersionOf(stage) + ", as its template says; no engine upgrade pending",
		"PASS  versions  Valkey " + cacheVersionOf(stage) + " (the template's) is offered for new clusters (newest 9.0); ElastiCache publishes no end-of-life date for Valkey",
		"PASS  versions  " + group + " runs Valkey " + cacheVersionOf(stage) + ".1; no service update pending",
	}
}

func TestVersionsCurrent(t *testing.T) {
	t.Parallel()
	for _, stage := range []string{"dev", "prod"} {
		// GIVEN a stage on versions AWS supports WHEN versions.sh --notify runs
		r := deployed(currentVersions(newHarness(t), stage), stage, 5, "sha5").run("versions.sh", "--notify", stage)
		// THEN it reads the data stack, then each version, says PASS for each, and sends nothing
		expectCode(t, r, 0)
		want := append(openCalls(stage, "data", "observability"), versionCalls(stage)...)
		expectCalls(t, r, want...)
		expectLines(t, r, currentVersionLines(stage)...)
	}
}

func TestVersionsFindings(t *testing.T) {
	t.Parallel()
	stage := "prod"
	db, group, pg, cache := out(stage, "data", "DatabaseInstanceId"), cacheGroupOf(stage), pgVersionOf(stage), cacheVersionOf(stage)
	major := pgMajorOf(stage)
	cases := []struct {
		name  string
		rule  func(h *harness)
		code  int
		lines []string
	}{
		{"major leaves standard support within 90 days", func(h *harness) {
			h.on("aws", []string{"describe-db-major-engine-versions"}, "2027-02-28T00:00:00+00:00\n", 0)
		}, 0, []string{"WARN  versions  PostgreSQL " + major + " leaves RDS standard support on 2027-02-28 (in 84 days): plan the major upgrade"}},
		{"major past standard support", func(h *harness) {
			h.on("aws", []string{"describe-db-major-engine-versions"}, "2026-11-30T00:00:00+00:00\n", 0)
		}, 0, []string{"WARN  versions  PostgreSQL " + major + " left RDS standard support on 2026-11-30: RDS Extended Support charges apply"}},
		{"major 91 days away", func(h *harness) {
			h.on("aws", []string{"describe-db-major-engine-versions"}, "2027-03-07T00:00:00+00:00\n", 0)
		}, 0, []string{"PASS  versions  PostgreSQL " + major + ": RDS standard support until 2027-03-07 (91 days)"}},
		{"no support date published", func(h *harness) {
			h.on("aws", []string{"describe-db-major-engine-versions"}, "None\n", 0)
		}, 0, []string{"WARN  versions  RDS publishes no end of standard support for PostgreSQL " + major}},
		{"configured minor deprecated", func(h *harness) {
			h.on("aws", []string{"describe-db-engine-versions"}, "deprecated\t"+major+".99\n", 0)
		}, 3, []string{"FAIL  versions  PostgreSQL " + pg + " (the template's) is deprecated: RDS refuses new instances on it (a new stage, a restore); set dbEngineVersion to " + major + ".99 and deploy"}},
		{"configured version unknown to RDS", func(h *harness) {
			h.on("aws", []string{"describe-db-engine-versions"}, "None\n", 0)
		}, 3, []string{"FAIL  versions  RDS does not know PostgreSQL " + pg}},
		{"forced minor upgrade within the window", func(h *harness) {
			h.on("aws", []string{"describe-pending-maintenance-actions"}, "2026-12-20T00:00:00+00:00\t2027-01-05T00:00:00+00:00\tUpgrade to PostgreSQL "+major+".99\n", 0)
		}, 0, []string{"WARN  versions  " + db + ": RDS upgrades the engine on 2027-01-05 (in 30 days, in the maintenance window): Upgrade to PostgreSQL " + major + ".99"}},
		{"upgrade pending far ahead", func(h *harness) {
			h.on("aws", []string{"describe-pending-maintenance-actions"}, "2027-08-01T00:00:00+00:00\tNone\tUpgrade\n", 0)
		}, 0, []string{"PASS  versions  " + db + ": an engine upgrade is pending for 2027-08-01 (238 days): Upgrade"}},
		{"RDS upgraded the instance", func(h *harness) {
			h.on("aws", []string{"describe-db-instances", "DBInstances[0].[EngineVersion,DBInstanceArn]"}, major+".99\t"+dbArn(stage)+"\n", 0)
		}, 0, []string{"WARN  versions  " + db + " runs PostgreSQL " + major + ".99, its template says " + pg}},
		{"database missing", func(h *harness) {
			h.failTimes(0, []string{"describe-db-instances", "DBInstances[0].[EngineVersion,DBInstanceArn]"},
				cliError("absent", "DBInstanceNotFound", "DescribeDBInstances", "DBInstance "+db+" not found."))
		}, 3, []string{"FAIL  versions  RDS has no instance " + db}},
		{"Valkey version retired", func(h *harness) {
			h.on("aws", []string{"describe-cache-engine-versions"}, "8.2\t9.0\n", 0)
		}, 3, []string{"FAIL  versions  Valkey " + cache + " (the template's) is not offered for new clusters any more (offered: 8.2 9.0)"}},
		{"service update due", func(h *harness) {
			h.on("aws", []string{"describe-update-actions"}, "elasticache-20261201-001\timportant\t2027-01-15T00:00:00+00:00\tsecurity-update\n", 0)
		}, 0, []string{"WARN  versions  " + group + ": service update elasticache-20261201-001 (important, security-update) should be applied by 2027-01-15 (in 40 days)"}},
		{"cache runs another version", func(h *harness) {
			h.on("aws", []string{"describe-cache-clusters"}, "8.1.0\n", 0)
		}, 0, []string{"WARN  versions  " + group + " runs Valkey 8.1.0, its template says " + cache}},
		{"cache missing", func(h *harness) {
			h.failTimes(0, []string{"describe-replication-groups"}, cliError("absent", "ReplicationGroupNotFoundFault", "DescribeReplicationGroups",
				"ReplicationGroup "+group+" not found."))
		}, 3, []string{"FAIL  versions  ElastiCache has no replication group " + group}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			// GIVEN prod and what AWS says about one of its versions
			h := newHarness(t)
			c.rule(h)
			// WHEN versions.sh --notify runs THEN the finding is reported, and sent when it is a WARN or FAIL
			r := deployed(currentVersions(h, stage), stage, 5, "sha5").run("versions.sh", "--notify", stage)
			expectCode(t, r, c.code)
			expectLines(t, r, c.lines...)
			published := filter(r.calls, "sns", "publish")
			finding := !strings.HasPrefix(c.lines[0], "PASS")
			if finding != (len(published) == 1) {
				t.Fatalf("published %d message(s) for %q\n%s", len(published), c.lines[0], r)
			}
			if finding {
				text := checkNotification(t, published[0])
				if !strings.Contains(text, c.lines[0][len("WARN  versions  "):]) || !contains(published[0], out(stage, "observability", "AlarmTopicArn")) {
					t.Errorf("the message to prod's alarm topic lacks the finding:\n%s", text)
				}
			}
		})
	}
}

// A failed read is no answer about a version: versions.sh stops with the CLI's message and sends nothing.
func TestVersionsStopOnAWSErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.failTimes(0, []string{"describe-db-engine-versions"}, accessDenied("DescribeDBEngineVersions"))
	r := deployed(currentVersions(h, "dev"), "dev", 5, "sha5").run("versions.sh", "--notify", "dev")
	expectCode(t, r, 1)
	expectStderr(t, r, "An error occurred (AccessDenied) when calling the DescribeDBEngineVersions operation", "versions: cannot read AWS")
	if len(filter(r.calls, "publish")) != 0 || len(filter(r.calls, "describe-db-instances")) != 0 {
		t.Errorf("went on after the error\n%s", r)
	}
}

func TestVersionsUsage(t *testing.T) {
	t.Parallel()
	for _, env := range []map[string]string{{"VERSIONS_NOW": "yesterday"}, {"VERSIONS_WARN_DAYS": "ninety"}, {"DRY_RUN": "1"}} {
		h := newHarness(t)
		for k, v := range env {
			h.env[k] = v
		}
		r := h.run("versions.sh", "dev")
		expectCode(t, r, 2)
		expectCalls(t, r)
	}
}

// verify.sh runs the same check: WARN for the 90-day window keeps it passing, a version that cannot be created
// any more fails it.
func TestVerifyChecksVersions(t *testing.T) {
	t.Parallel()
	r := runVerify(verifyHarness(t, "prod", func(h *harness) {
		h.on("aws", []string{"describe-db-major-engine-versions"}, "2027-01-31T00:00:00+00:00\n", 0)
	}), "prod")
	expectCode(t, r, 0)
	expectLines(t, r, "WARN  versions  PostgreSQL "+pgMajorOf("prod")+" leaves RDS standard support on 2027-01-31 (in 56 days)",
		"verify.sh prod: 21 PASS, 0 FAIL, 1 WARN")

	r = runVerify(verifyHarness(t, "dev", func(h *harness) {
		h.on("aws", []string{"describe-cache-engine-versions"}, "9.0\n", 0)
	}), "dev")
	expectCode(t, r, 1)
	expectLines(t, r, "FAIL  versions  Valkey "+cacheVersionOf("dev")+" (the template's) is not offered for new clusters any more")
}
