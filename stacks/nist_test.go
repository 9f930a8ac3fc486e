package stacks

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/jsii-runtime-go"

	"h2o-infra/config"
	"h2o-infra/internal/docsection"
	"h2o-infra/internal/nagreport"
)

// reportBuilds are the synthesized builds' cdk-nag reports (TestMain's two apps), each stage with its config.
func reportBuilds(t *testing.T) []struct {
	name  string
	rows  []nagreport.Row
	cfgOf map[string]*config.Config // by the reports' stage ("" is h2o-ci: nil)
} {
	t.Helper()
	main, err := nagreport.Load(outdir)
	if err != nil {
		t.Fatal(err)
	}
	variant, err := nagreport.Load(filepath.Join(outdir, "variant"))
	if err != nil {
		t.Fatal(err)
	}
	return []struct {
		name  string
		rows  []nagreport.Row
		cfgOf map[string]*config.Config
	}{
		{"default", main.Of(nistPack, "*"), map[string]*config.Config{"dev": mustLoad("dev", nil), "prod": mustLoad("prod", nil), "": nil}},
		{"variant", variant.Of(nistPack, "*"), map[string]*config.Config{"dev": mustLoad("dev", nil), "prod": withDomainConfig, "": nil}},
	}
}

// TestNistExceptionsAreExactlyWhatTheReportsSuppress holds the one table of NIST exceptions to the reports cdk-nag
// wrote for every stack of both test apps: nothing fails, nothing is suppressed that the table does not give for
// that stage (with the table's reason), and every exception a build's stage takes suppresses something there (a
// dead exception would hide the next resource it happens to cover).
func TestNistExceptionsAreExactlyWhatTheReportsSuppress(t *testing.T) {
	reasons := map[string]string{}
	for _, e := range nistExceptions {
		for _, rule := range append([]string{e.Rule}, e.Of...) {
			if _, dup := reasons[rule]; dup && e.Rule != "CdkNagValidationFailure" {
				t.Errorf("rule %s has two exceptions: one place per rule", rule)
			}
			reasons[rule] = e.Reason
		}
		if len(e.Reason) < 60 || e.Covers == "" || e.When == "" || e.covers == nil {
			t.Errorf("exception %s: a reason that names the trade-off, what it covers and when, and its covers function", e.Rule)
		}
	}
	for _, b := range reportBuilds(t) {
		if len(b.rows) < 300 {
			t.Fatalf("%s: only %d NIST report lines", b.name, len(b.rows))
		}
		suppressed := map[string]map[string]int{} // stage -> rule -> resources
		for _, r := range b.rows {
			if r.Failing() {
				t.Errorf("%s %s: %s on %s is %s", b.name, nagreport.StageName(r.Stage), r.Rule, r.Resource, r.Compliance)
			}
			if r.Compliance != nagreport.Suppressed {
				continue
			}
			if suppressed[r.Stage] == nil {
				suppressed[r.Stage] = map[string]int{}
			}
			suppressed[r.Stage][r.Rule]++
			want, ok := reasons[r.Rule]
			if !ok || !strings.HasSuffix(r.Reason, want) {
				t.Errorf("%s %s: %s on %s suppressed with %q, not by the table", b.name, nagreport.StageName(r.Stage), r.Rule, r.Resource, r.Reason)
			}
		}
		for stage, cfg := range b.cfgOf {
			for _, e := range nistExceptions {
				rules := e.Of
				if len(rules) == 0 {
					rules = []string{e.Rule}
				}
				for _, rule := range rules {
					n := suppressed[stage][rule]
					if e.appliesIn(cfg) && n == 0 {
						t.Errorf("%s %s takes exception %s but it suppresses nothing there", b.name, nagreport.StageName(stage), rule)
					}
					if !e.appliesIn(cfg) && n > 0 {
						t.Errorf("%s %s: %s suppressed %d times without taking the exception", b.name, nagreport.StageName(stage), rule, n)
					}
				}
			}
		}
	}
}

func TestAProtectedStageTradesNoControlForCost(t *testing.T) {
	// GIVEN prod as configured and prod with every cost lever turned the cheap way (dbMultiAz, enhancedMonitoring,
	// backupPlan, wafLogging off, WAF counting) WHEN the exceptions it takes are listed THEN they are the same:
	// such a prod fails synth until someone adds an exception with its own reason
	prod := mustLoad("prod", nil)
	cheap := *prod
	cheap.DBMultiAZ, cheap.EnhancedMonitoring, cheap.BackupPlan, cheap.WAFLogging, cheap.WAFMode = false, false, false, false, config.WAFCount
	dev := mustLoad("dev", map[string]string{"wafMode": "count", "wafLogging": "false"})
	for _, e := range nistExceptions {
		if e.appliesIn(&cheap) != e.appliesIn(prod) {
			t.Errorf("exception %s applies to prod once a cost setting is turned down", e.Rule)
		}
		if e.when != nil && strings.Contains(e.When, "disposable") && !e.appliesIn(dev) {
			t.Errorf("exception %s (%s) does not apply to dev with the same settings", e.Rule, e.When)
		}
	}
}

func TestANewUnsuppressedFindingFailsSynth(t *testing.T) {
	// GIVEN dev as configured plus an unencrypted log group and a bare bucket in compute, built with cdk.json's
	// flags as `cdk synth` builds it
	dir := t.TempDir()
	app := awscdk.NewApp(&awscdk.AppProps{Context: cdkJSONContext(), Outdir: jsii.String(dir)})
	s := NewH2oStage(app, mustLoad("dev", nil))
	awslogs.NewLogGroup(s.Compute.Stack, jsii.String("UnencryptedLogs"), &awslogs.LogGroupProps{Retention: awslogs.RetentionDays_ONE_WEEK})
	awss3.NewBucket(s.Compute.Stack, jsii.String("BareBucket"), &awss3.BucketProps{RemovalPolicy: awscdk.RemovalPolicy_DESTROY})
	// WHEN it is synthesized
	failed := func() (failure interface{}) {
		defer func() { failure = recover() }()
		app.Synth(nil)
		return nil
	}()
	// THEN synth fails, and both packs name the new resources (the rest stays clean)
	if failed == nil || !strings.Contains(fmt.Sprint(failed), "ValidationFailed") {
		t.Fatalf("synth did not fail on the findings: %v", failed)
	}
	report, err := os.ReadFile(filepath.Join(dir, "validation-report.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"NIST.800.53.R5-CloudWatchLogGroupEncrypted", "dev/compute/UnencryptedLogs/Resource",
		"NIST.800.53.R5-S3BucketVersioningEnabled", "AwsSolutions-S10", "dev/compute/BareBucket/Resource"} {
		if !strings.Contains(string(report), want) {
			t.Errorf("the validation report does not name %s", want)
		}
	}
	reports, err := nagreport.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var failing []string
	for _, r := range reports.Rows {
		if r.Failing() {
			failing = append(failing, r.Resource)
		}
	}
	sort.Strings(failing)
	for _, path := range failing {
		if !strings.HasPrefix(path, "dev/compute/UnencryptedLogs/") && !strings.HasPrefix(path, "dev/compute/BareBucket/") {
			t.Errorf("%s fails too: the stage itself is not clean", path)
		}
	}
	if len(failing) < 5 {
		t.Errorf("only %d failing lines: %v", len(failing), failing)
	}
}

func TestReadmeListsEveryNistException(t *testing.T) {
	// GIVEN README.md WHEN its NIST section is regenerated from nistExceptions and the committed settings THEN
	// nothing changes (`make readme` rewrites it)
	raw, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	configs := map[string]*config.Config{}
	for _, stage := range config.Stages() {
		configs[stage] = mustLoad(stage, nil)
	}
	want := NistExceptionsMarkdown(configs)
	updated, err := docsection.Replace(string(raw), NistReadmeBegin, NistReadmeEnd, want)
	if err != nil {
		t.Fatal(err)
	}
	if updated != string(raw) {
		t.Errorf("README.md's NIST exceptions are out of date: run `make readme`\n--- generated\n%s", want)
	}
	for _, e := range nistExceptions {
		if !strings.Contains(want, "`"+e.Rule+"`") && len(e.Of) == 0 {
			t.Errorf("%s is not in the generated list", e.Rule)
		}
	}
}
