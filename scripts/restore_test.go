package scripts

import (
	"strings"
	"testing"
	"time"
)

const (
	restored       = "h2o-dev-postgres-restore-x"
	restoredHost   = restored + ".abc123.us-east-1.rds.amazonaws.com"
	restoredSecret = "arn:aws:secretsmanager:us-east-1:" + account + ":secret:rds!db-restore-XyZ"
	backupSnapshot = "arn:aws:rds:us-east-1:" + account + ":snapshot:awsbackup:job-0123abcd-4567-89ef-0123-456789abcdef"
)

func describeLive(stage string) []string {
	return []string{"aws", "rds", "describe-db-instances", "--region", "us-east-1", "--db-instance-identifier", "h2o-" + stage + "-postgres",
		"--query", "DBInstances[0].[DBSubnetGroup.DBSubnetGroupName, join(',', VpcSecurityGroups[].VpcSecurityGroupId), DBParameterGroups[0].DBParameterGroupName, DBInstanceClass, LatestRestorableTime]",
		"--output", "text"}
}

func automatedBackups(stage string) []string {
	return []string{"aws", "rds", "describe-db-instance-automated-backups", "--region", "us-east-1",
		"--db-instance-identifier", "h2o-" + stage + "-postgres",
		"--query", "DBInstanceAutomatedBackups[?Status=='active'] | [0].RestoreWindow.EarliestTime", "--output", "text"}
}

// restoreSettings: the live instance's placement, as restore.sh passes it on.
func restoreSettings(stage string) []string {
	return []string{"--db-subnet-group-name", "h2o-" + stage + "-data-subnets", "--vpc-security-group-ids", "sg-db1", "sg-db2",
		"--db-parameter-group-name", "h2o-" + stage + "-pg17", "--db-instance-class", dbClassOf(stage),
		"--no-publicly-accessible", "--no-multi-az", "--no-deletion-protection", "--copy-tags-to-snapshot",
		"--tags", "Key=Purpose,Value=restore", "Key=Project,Value=h2o", "Key=Stage,Value=" + stage, "Key=ManagedBy,Value=restore.sh",
		"--query", "DBInstance.DBInstanceStatus", "--output", "text"}
}

func restorePITR(stage, target string, when ...string) []string {
	c := []string{"aws", "rds", "restore-db-instance-to-point-in-time", "--region", "us-east-1",
		"--source-db-instance-identifier", "h2o-" + stage + "-postgres", "--target-db-instance-identifier", target}
	return append(append(c, when...), restoreSettings(stage)...)
}

func waitTarget(target string) []string {
	return []string{"aws", "rds", "wait", "db-instance-available", "--region", "us-east-1", "--db-instance-identifier", target}
}

// guidanceReads: what the printed guidance needs, read before the restore starts.
func guidanceReads(stage string) [][]string {
	return join(openCalls(stage, "compute"), calls(
		[]string{"aws", "cloudformation", "describe-stack-resources", "--region", "us-east-1", "--stack-name", "h2o-" + stage + "-data",
			"--query", "StackResources[?ResourceType=='AWS::RDS::DBInstance'].LogicalResourceId | [0]", "--output", "text"}))
}

// afterRestore: wait, managed password, wait, read the new instance.
func afterRestore(target string) [][]string {
	return calls(
		waitTarget(target),
		[]string{"aws", "rds", "modify-db-instance", "--region", "us-east-1", "--db-instance-identifier", target,
			"--manage-master-user-password", "--apply-immediately", "--query", "DBInstance.DBInstanceStatus", "--output", "text"},
		waitTarget(target),
		describeTarget(target),
	)
}

func describeTarget(target string) []string {
	return []string{"aws", "rds", "describe-db-instances", "--region", "us-east-1", "--db-instance-identifier", target,
		"--query", "DBInstances[0].[Endpoint.Address, Endpoint.Port, MasterUserSecret.SecretArn]", "--output", "text"}
}

// restoreHarness: a deployed stage whose live database could be restored to any time in the last week.
func restoreHarness(t *testing.T, stage string, overrides func(h *harness)) *harness {
	h := newHarness(t)
	h.env["RESTORE_TARGET"] = restored
	h.env["RESTORE_POLL_DELAY"] = "0"
	if overrides != nil {
		overrides(h)
	}
	live := out(stage, "data", "DatabaseInstanceId")
	h.on("aws", []string{"describe-db-instances", live}, "h2o-"+stage+"-data-subnets\tsg-db1,sg-db2\th2o-"+stage+"-pg17\t"+dbClassOf(stage)+"\t2026-12-01T12:00:00.123000+00:00\n", 0).
		on("aws", []string{"describe-db-instance-automated-backups", live}, "2026-11-24T12:05:00+00:00\n", 0).
		on("aws", []string{"describe-db-instances"}, restoredHost+"\t5432\t"+restoredSecret+"\n", 0).
		on("aws", []string{"describe-stack-resources"}, "DatabaseB269D8BB\n", 0)
	return deployed(h, stage, 1, "sha1")
}

// expectLiveUntouched: the live instance appears in no call but describe calls, waiters on it, and as the source
// of a point-in-time restore.
func expectLiveUntouched(t *testing.T, r result, live string) {
	t.Helper()
	for _, c := range r.calls {
		if c[0] != "aws" || strings.HasPrefix(c[2], "describe-") || c[2] == "wait" {
			continue
		}
		for i, a := range c {
			if (a == live || strings.HasSuffix(a, ":db:"+live)) && c[i-1] != "--source-db-instance-identifier" {
				t.Errorf("the live instance %s is passed to %q", live, c)
			}
		}
	}
}

func TestRestoreToATime(t *testing.T) {
	t.Parallel()
	r := restoreHarness(t, "dev", nil).run("restore.sh", "dev", "--to", "2026-12-01T09:30:00+01:00")
	expectCode(t, r, 0)
	expectCalls(t, r, join(
		openCalls("dev", "data"), calls(describeLive("dev"), automatedBackups("dev")), guidanceReads("dev"),
		calls(restorePITR("dev", restored, "--restore-time", "2026-12-01T08:30:00Z")),
		afterRestore(restored),
	)...)
	expectLiveUntouched(t, r, "h2o-dev-postgres")
	expectLines(t, r, // the guidance
		"Restored: "+restored+" (as of 2026-12-01T08:30:00Z), next to the live h2o-dev-postgres.",
		"endpoint  "+restoredHost+":5432",
		"secret    "+restoredSecret,
		"aws secretsmanager get-secret-value --region us-east-1 --secret-id '"+restoredSecret+"'",
		"--task-definition '"+migrationArn("dev")+"'",
		"--network-configuration '"+networkOf("dev")+"'",
		"GUARD_ALLOW=h2o-dev-data/DatabaseB269D8BB",
		"aws rds create-db-snapshot --region us-east-1 --db-instance-identifier "+restored+" --db-snapshot-identifier "+restored+"-cutover",
		"aws rds delete-db-instance --region us-east-1 --db-instance-identifier "+restored+" --skip-final-snapshot",
	)
	if len(filter(r.calls, "delete-db-instance")) != 0 {
		t.Errorf("deleted an instance\n%s", r)
	}
}

func TestRestoreLatest(t *testing.T) {
	t.Parallel()
	r := restoreHarness(t, "prod", nil).run("restore.sh", "prod", "--to=latest")
	expectCode(t, r, 0)
	expectCalls(t, r, join(
		openCalls("prod", "data"), calls(describeLive("prod")), guidanceReads("prod"),
		calls(restorePITR("prod", restored, "--use-latest-restorable-time")),
		afterRestore(restored),
	)...)
	expectLiveUntouched(t, r, "h2o-prod-postgres")
}

// An AWS Backup recovery point of RDS is an RDS snapshot ARN.
func TestRestoreFromABackupRecoveryPoint(t *testing.T) {
	t.Parallel()
	r := restoreHarness(t, "prod", nil).run("restore.sh", "prod", "--to", backupSnapshot)
	expectCode(t, r, 0)
	expectCalls(t, r, join(
		openCalls("prod", "data"), calls(describeLive("prod")), guidanceReads("prod"),
		calls(append([]string{"aws", "rds", "restore-db-instance-from-db-snapshot", "--region", "us-east-1",
			"--db-instance-identifier", restored, "--db-snapshot-identifier", backupSnapshot}, restoreSettings("prod")...)),
		afterRestore(restored),
	)...)
	expectLiveUntouched(t, r, "h2o-prod-postgres")
	if !strings.Contains(r.stdout, "(from "+backupSnapshot+")") {
		t.Errorf("the guidance does not name the snapshot\n%s", r)
	}
}

// The default name of the new instance carries the UTC time of the restore.
func TestRestoreDefaultTargetName(t *testing.T) {
	t.Parallel()
	h := restoreHarness(t, "dev", nil)
	h.env["RESTORE_TARGET"] = ""
	r := h.run("restore.sh", "dev", "--to", "latest")
	expectCode(t, r, 0)
	restore := filter(r.calls, "restore-db-instance-to-point-in-time")
	if len(restore) != 1 {
		t.Fatalf("no restore\n%s", r)
	}
	target := restore[0][8]
	stamp, ok := strings.CutPrefix(target, "h2o-dev-postgres-restore-")
	if _, err := time.Parse("200601021504", stamp); !ok || err != nil || time.Since(mustParse(stamp)) > time.Hour {
		t.Errorf("target %q, want h2o-dev-postgres-restore-<UTC yyyymmddHHMM>", target)
	}
	expectLiveUntouched(t, r, "h2o-dev-postgres")
}

func mustParse(stamp string) time.Time {
	t, _ := time.Parse("200601021504", stamp)
	return t
}

// RFC 3339 times with any offset become the UTC time RDS wants.
func TestRestoreTimeConversion(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"2026-11-30T14:05:00Z", "2026-11-30t14:05:00z", "2026-12-01T01:05:00+11:00", "2026-11-30T09:35:00-04:30",
		"2026-11-30T14:05:00.999Z", "2026-11-24T12:05:00Z", "2026-12-01T12:00:00+00:00",
	} {
		want, err := time.Parse(time.RFC3339, strings.ToUpper(in))
		if err != nil {
			t.Fatal(err)
		}
		r := restoreHarness(t, "dev", nil).run("restore.sh", "dev", "--to", in)
		expectCode(t, r, 0)
		restore := filter(r.calls, "--restore-time")
		if len(restore) != 1 || restore[0][10] != want.UTC().Truncate(time.Second).Format("2006-01-02T15:04:05Z") {
			t.Errorf("--to %s: restore call %q, want --restore-time %s", in, restore, want.UTC().Format(time.RFC3339))
		}
	}
}

func TestRestoreRejectsBadTargetsBeforeAnyCall(t *testing.T) {
	t.Parallel()
	for _, to := range []string{
		"yesterday", "2026-12-01", "2026-12-01T10:00Z", "2026-12-01 10:00:00", "2026-13-01T00:00:00Z",
		"2026-02-29T00:00:00Z", "2026-12-01T24:00:00Z", "2026-12-01T10:00:00+25:00",
		"arn:aws:rds:us-east-1:" + account + ":cluster-snapshot:h2o-dev",
		"arn:aws:rds:eu-west-1:" + account + ":snapshot:h2o-dev-final",
		"arn:aws:rds:us-east-1:" + account + ":db:h2o-dev-postgres",
		"latest; rm -rf /",
	} {
		r := restoreHarness(t, "dev", nil).run("restore.sh", "dev", "--to", to)
		expectCode(t, r, 2)
		expectCalls(t, r)
		if !strings.Contains(r.stderr, "--help") {
			t.Errorf("--to %q: want a usage error\n%s", to, r)
		}
	}
	r := restoreHarness(t, "dev", nil).run("restore.sh", "dev", "--to", "arn:aws:rds:us-east-1:"+account+":cluster-snapshot:x")
	if !strings.Contains(r.stderr, "cannot restore a DB instance") {
		t.Errorf("unclear cluster-snapshot error\n%s", r)
	}
	for _, args := range [][]string{{"dev"}, {"dev", "--to"}, {"--to", "latest"}} {
		r := restoreHarness(t, "dev", nil).run("restore.sh", args...)
		expectCode(t, r, 2)
		expectCalls(t, r)
	}
}

// A time outside the live instance's restorable window stops before any restore.
func TestRestoreTimeOutsideTheWindow(t *testing.T) {
	t.Parallel()
	for to, want := range map[string]string{
		"2026-12-01T12:00:01Z": "is after the latest restorable time of h2o-dev-postgres (2026-12-01T12:00:00.123000+00:00)",
		"2026-11-24T12:04:59Z": "is before the earliest restorable time of h2o-dev-postgres (2026-11-24T12:05:00+00:00)",
	} {
		r := restoreHarness(t, "dev", nil).run("restore.sh", "dev", "--to", to)
		expectCode(t, r, 2)
		expectCalls(t, r, join(openCalls("dev", "data"), calls(describeLive("dev"), automatedBackups("dev")))...)
		if !strings.Contains(r.stderr, want) {
			t.Errorf("--to %s: want %q\n%s", to, want, r)
		}
	}
}

func TestRestoreNeverIntoTheLiveInstance(t *testing.T) {
	t.Parallel()
	h := restoreHarness(t, "dev", nil)
	h.env["RESTORE_TARGET"] = "h2o-dev-postgres"
	r := h.run("restore.sh", "dev", "--to", "latest")
	expectCode(t, r, 2)
	expectCalls(t, r, openCalls("dev", "data")...)
}

// Waiters that give up are looped; right after modify-db-instance the secret may not be there yet.
func TestRestoreWaitsForTheInstanceAndItsSecret(t *testing.T) {
	t.Parallel()
	r := restoreHarness(t, "dev", func(h *harness) {
		h.failTimes(1, []string{"db-instance-available"}, waiterError("DBInstanceAvailable", "Max attempts exceeded")).
			onTimes(1, "aws", []string{"describe-db-instances", restored}, restoredHost+"\t5432\tNone\n", 0)
	}).run("restore.sh", "dev", "--to", "latest")
	expectCode(t, r, 0)
	n := len(openCalls("dev", "data")) + 1 + len(guidanceReads("dev")) + 1
	expectCalls(t, result{calls: r.calls[n:]}, join(
		calls(waitTarget(restored), waitTarget(restored)), // the first waiter gave up after 30 minutes
		afterRestore(restored)[1:4],
		calls(waitTarget(restored), describeTarget(restored)), // no secret yet: again
	)...)
	expectLiveUntouched(t, r, "h2o-dev-postgres")
}

func TestRestoreFailedStartStopsThere(t *testing.T) {
	t.Parallel()
	r := restoreHarness(t, "prod", func(h *harness) {
		h.on("aws", []string{"restore-db-instance-from-db-snapshot"}, "", 254)
	}).run("restore.sh", "prod", "--to", backupSnapshot)
	expectCode(t, r, 1)
	if len(filter(r.calls, "rds")) != 2 || !strings.Contains(r.stderr, "the restore of "+backupSnapshot+" failed to start") {
		t.Fatalf("want a stop after the failed restore call\n%s", r)
	}
}
