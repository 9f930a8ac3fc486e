package nagreport

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// testdata/base is an assembly that ran the AwsSolutions pack only; testdata/head runs NIST 800-53 rev 5 beside it,
// rewords one AwsSolutions reason, and has a finding and a rule cdk-nag could not evaluate.

func load(t *testing.T, name string) *Assembly {
	t.Helper()
	a, err := Load(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestLoadReadsEveryReportWithItsPackStageAndStack(t *testing.T) {
	// GIVEN the head assembly WHEN loaded THEN every line carries its pack, stage ("" for h2o-ci) and stack, and
	// the rule without its pack prefix
	a := load(t, "head")
	if len(a.Rows) != 8 {
		t.Fatalf("%d rows, want 8", len(a.Rows))
	}
	nist := a.Of("NIST.800.53.R5", "")
	if len(nist) != 1 || nist[0].Stack != "h2o-ci" || nist[0].Rule != "IAMNoInlinePolicy" || nist[0].Compliance != Suppressed {
		t.Errorf("h2o-ci's NIST rows %+v", nist)
	}
	dev := Count(a.Of("NIST.800.53.R5", "dev"))
	if want := (Counts{Rules: 4, Compliant: 1, Suppressed: 1, NonCompliant: 1, Unknown: 1}); dev != want || dev.Failing() != 2 {
		t.Errorf("dev counts %+v, want %+v", dev, want)
	}
	if got := Stages(a.Rows); strings.Join(got, ",") != "dev," {
		t.Errorf("stages %q, want dev then the account's", got)
	}
}

func TestLoadRefusesWhatIsNotASynthesizedAssembly(t *testing.T) {
	for dir, want := range map[string]string{"testdata/missing": "not a directory", "testdata": "no cdk-nag reports",
		"testdata/notreport": "not a cdk-nag CSV report", "testdata/nomanifest": "has a manifest.json"} {
		if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load(%s) = %v, want an error saying %q", dir, err, want)
		}
	}
	for _, name := range []string{"AwsSolutions-NagReport.csv", "AwsSolutions-dev-NagReport.csv", "-dev-x-NagReport.csv", "x.csv"} {
		if _, _, _, ok := parseName(name); ok {
			t.Errorf("%s parsed as a report name", name)
		}
	}
}

func TestLoadReadsOnlyTheStacksTheManifestNames(t *testing.T) {
	// GIVEN an assembly that still holds the report of a stack an earlier synth had (h2o-dev-cache)
	// WHEN loaded THEN that report is listed as stale, not read, and the summary says so
	a := load(t, "stale")
	if strings.Join(a.Stale, ",") != "AwsSolutions-dev-h2o-dev-cache-NagReport.csv" {
		t.Errorf("stale reports %q, want the h2o-dev-cache one only", a.Stale)
	}
	if want := len(load(t, "head").Rows); len(a.Rows) != want {
		t.Errorf("%d rows read, want the %d of the stacks the manifest names", len(a.Rows), want)
	}
	for _, r := range a.Rows {
		if r.Stack == "h2o-dev-cache" {
			t.Errorf("read a row of the stale stack: %+v", r)
		}
	}
	var buf bytes.Buffer
	WriteSummary(&buf, a)
	if !strings.Contains(buf.String(), "Not read: 1 report(s)") {
		t.Errorf("the summary does not name the stale report:\n%s", buf.String())
	}
}

func TestDiffShowsANewPackItsSuppressionsAndWhatFailsSynth(t *testing.T) {
	// GIVEN base (AwsSolutions only) and head (NIST beside it) WHEN compared
	var buf bytes.Buffer
	WriteDiff(&buf, load(t, "base"), load(t, "head"), "base `abc`", "head `def`")
	md := buf.String()
	nist, aws, _ := strings.Cut(md[strings.Index(md, "### NIST"):], "### AWS Solutions")
	// THEN the NIST section says the base did not run it, counts each stage, and lists the new suppressions with
	// their reasons (a | escaped for the table) and both failing lines
	for _, want := range []string{
		"The base did not run the NIST.800.53.R5 pack",
		"| dev | 0 → 4 (+4) | 0 → 1 (+1) | 0 → 2 (+2) |",
		"| account (h2o-ci) | 0 → 1 (+1) | 0 → 1 (+1) | 0 |",
		"| SecretsManagerRotationEnabled | 0 → 1 (+1) | · |",
		"Suppressions added: 2 rule(s), 2 resource(s)",
		"| SecretsManagerRotationEnabled | dev: `dev/data/CacheAuthToken/Resource` | No rotation function exists for these values \\| not even one. |",
		"**2 finding(s) fail synth in this build:**",
		"| dev | S3BucketVersioningEnabled | `dev/data/AccessLogBucket/Resource` | Non-Compliant |",
		"| dev | EC2RestrictedSSH | `dev/data/Ingress` | UNKNOWN |",
	} {
		if !strings.Contains(nist, want) {
			t.Errorf("NIST section lacks %q:\n%s", want, nist)
		}
	}
	// ...and the AwsSolutions section shows the reworded reason as one suppression removed and one added, the
	// unchanged h2o-ci suppression as neither, and no failure
	for _, want := range []string{"| dev | 2 | 1 | 0 |", "Suppressions added: 1 rule(s), 1 resource(s)",
		"reworded", "Suppressions removed: 1 rule(s), 1 resource(s)", "No rotation function for AUTH tokens."} {
		if !strings.Contains(aws, want) {
			t.Errorf("AwsSolutions section lacks %q:\n%s", want, aws)
		}
	}
	if strings.Contains(aws, "DiffRole") || strings.Contains(aws, "fail synth") {
		t.Errorf("AwsSolutions section lists an unchanged suppression or a failure:\n%s", aws)
	}
	if !strings.HasPrefix(md, "## Compliance (cdk-nag)\n\nbase `abc` → head `def`.") {
		t.Errorf("header %q", md[:80])
	}
}

func TestDiffOfABuildWithItselfChangesNothing(t *testing.T) {
	var buf bytes.Buffer
	WriteDiff(&buf, load(t, "head"), load(t, "head"), "a", "b")
	_, md, _ := strings.Cut(buf.String(), "###") // after the header's "a → b"
	if strings.Contains(md, "Suppressions added") || strings.Contains(md, "Suppressions removed") || strings.Contains(md, "→") {
		t.Errorf("a build compared with itself shows changes:\n%s", md)
	}
	if !strings.Contains(md, "| dev | 4 | 1 | 2 |") { // its own failures stay listed: synth fails on them either way
		t.Errorf("unchanged counts not shown:\n%s", md)
	}
}

func TestSummaryCountsEachPackAndStage(t *testing.T) {
	var buf bytes.Buffer
	WriteSummary(&buf, load(t, "base"))
	md := buf.String()
	for _, want := range []string{"No NIST.800.53.R5 reports in testdata/base.", "| dev | 2 | 1 | 1 | 0 |",
		"| SMG4 | 1 | · |", "| IAM5 | · | 1 |"} {
		if !strings.Contains(md, want) {
			t.Errorf("summary lacks %q:\n%s", want, md)
		}
	}
}

func TestAGranularSuppressionGroupsItsFindingsUnderOneReason(t *testing.T) {
	// GIVEN two IAM5 findings of one role suppressed with one reason (cdk-nag prefixes each with its finding)
	row := func(finding string) Row {
		return Row{Pack: "AwsSolutions", Stage: "", Rule: "IAM5", Resource: "h2o-ci/Role/DefaultPolicy/Resource",
			Compliance: Suppressed, Reason: "[" + finding + "] Names the stage's resources."}
	}
	base := &Assembly{Rows: nil}
	head := &Assembly{Rows: []Row{row("Resource::*"), row("Action::s3:*")}}
	// WHEN compared THEN one suppression lists both findings
	added, removed := suppressionChanges(base.Rows, head.Rows)
	if len(removed) != 0 || len(added) != 1 || added[0].reason != "Names the stage's resources." || len(added[0].resources) != 2 ||
		!strings.Contains(strings.Join(added[0].resources, " "), "(`Resource::*`)") {
		t.Errorf("added %+v, removed %+v", added, removed)
	}
}
