package main

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"h2o-infra/internal/cdkcontext"
)

// newApp is an App with cdk.json's feature flags plus ctx, as `cdk synth -c key=value` would build it.
func newApp(t *testing.T, ctx map[string]interface{}) awscdk.App {
	return awscdk.NewApp(appProps(t, ctx))
}

// appProps are an app's props with cdk.json's context plus ctx, as `cdk synth -c` gives them.
func appProps(t *testing.T, ctx map[string]interface{}) *awscdk.AppProps {
	t.Helper()
	flags, err := cdkcontext.Load("cdk.json")
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(flags, ctx)
	return &awscdk.AppProps{Context: &flags}
}

func TestBadContextFailsBeforeAnyConstructNamingStageAndKey(t *testing.T) {
	// GIVEN `cdk synth -c alarmEmail=not-an-email -c account=42`
	app := newApp(t, map[string]interface{}{"alarmEmail": "not-an-email", "account": "42"})
	// WHEN the app is built
	stages, err := buildApp(app)
	// THEN it fails naming both stages and both keys, and no stage was created
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{`stage "dev"`, `stage "prod"`, "alarmEmail", `"not-an-email"`, "account", `"42"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %s:\n%v", want, err)
		}
	}
	if len(stages) != 0 || len(*app.Node().Children()) != 0 {
		t.Errorf("constructs were created despite invalid config: %d stages", len(stages))
	}
}

func TestStageAndCIProblemsAreReportedTogether(t *testing.T) {
	_, err := buildApp(newApp(t, map[string]interface{}{"workers": "0", "githubRepository": "nope"}))
	for _, want := range []string{`stage "dev": workers`, `stage "ci": githubRepository`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
}

func TestStageContextBuildsOnlyThatStage(t *testing.T) {
	// GIVEN -c stage=prod WHEN built THEN only prod exists (not dev, not the account-level h2o-ci)
	app := newApp(t, map[string]interface{}{"stage": "prod"})
	stages, err := buildApp(app)
	if err != nil || len(stages) != 1 || *stages[0].StageName() != "prod" || len(*app.Node().Children()) != 1 {
		t.Fatalf("stage=prod built %d stages and %d children, err %v", len(stages), len(*app.Node().Children()), err)
	}
	if _, err := buildApp(newApp(t, map[string]interface{}{"stage": "staging"})); err == nil ||
		!strings.Contains(err.Error(), `"staging"`) {
		t.Errorf("unknown stage: want an error naming it, got %v", err)
	}
}

func TestErrorAnnotationsAreFound(t *testing.T) {
	// GIVEN a stack inside a Stage carrying an error annotation (as cdk-nag adds them); without cdk.json's
	// validation flags, which would abort Synth on it before errorMessages could look
	app := awscdk.NewApp(&awscdk.AppProps{BuiltinCloudFormationValidation: jsii.Bool(false)}) // ~1.2 s saved
	stack := awscdk.NewStack(awscdk.NewStage(app, jsii.String("s"), nil), jsii.String("x"), nil)
	awscdk.NewCfnWaitConditionHandle(stack, jsii.String("H"), nil)
	awscdk.Annotations_Of(stack).AddError(jsii.String("boom"))
	// WHEN synthesized THEN errorMessages reports it (main exits 1 on it)
	msgs := errorMessages(app.Synth(nil))
	if len(msgs) != 1 || !strings.Contains(msgs[0], "boom") {
		t.Errorf("errorMessages = %v, want the one error", msgs)
	}
}

// deployContexts returns the `-c key=value` pairs of every `cdk deploy` a command prints.
func deployContexts(t *testing.T, name string, cmd *exec.Cmd) []string {
	t.Helper()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", name, err, out)
	}
	var pairs []string
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.Contains(line, "cdk deploy") {
			continue
		}
		fields := strings.Fields(line)
		for i, f := range fields[:len(fields)-1] {
			if f == "-c" {
				pairs = append(pairs, strings.Trim(fields[i+1], `'"`))
			}
		}
	}
	if len(pairs) == 0 {
		t.Fatalf("%s prints no cdk deploy with context:\n%s", name, out)
	}
	return pairs
}

// TestLaptopAndCIDeploysBuildTheSameTemplates: settings live in the repository (config/settings), so no way of
// deploying passes any: `make deploy` on a laptop runs scripts/deploy.sh, the deploy workflow runs it too, and it
// gives the CLI only the stage selector, and a stage-scoped synth builds exactly the templates of the full synth that
// `make synth`, the review guard and `cdk diff` look at.
func TestLaptopAndCIDeploysBuildTheSameTemplates(t *testing.T) {
	// `make deploy` is scripts/deploy.sh (with or without an image), the script the deploy workflow runs.
	for _, args := range [][]string{{"IMAGE_TAG=abc123"}, nil} {
		out, err := exec.Command("make", append([]string{"-n", "deploy", "STAGE=dev"}, args...)...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "scripts/deploy.sh") || strings.Contains(string(out), " -c ") {
			t.Errorf("make deploy %v does not run scripts/deploy.sh without context (%v):\n%s", args, err, out)
		}
	}
	script := exec.Command("scripts/deploy.sh", "dev")
	script.Env = append(os.Environ(), "DRY_RUN=1", "IMAGE_TAG=abc123", "AWS_ACCOUNT_ID=123456789012")
	for _, p := range deployContexts(t, "scripts/deploy.sh", script) {
		if p != "stage=dev" {
			t.Errorf("scripts/deploy.sh passes -c %s: a setting on the command line would differ between a laptop and CI", p)
		}
	}
	workflows, err := filepath.Glob(".github/workflows/*.y*ml")
	if err != nil || len(workflows) == 0 {
		t.Fatalf("no workflow found (%v)", err)
	}
	for _, wf := range workflows {
		raw, err := os.ReadFile(wf)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(raw), "\n") {
			if code, _, _ := strings.Cut(line, "#"); strings.Contains(code, "cdk deploy") {
				t.Errorf("%s runs cdk deploy itself instead of scripts/deploy.sh or rollback.sh: %s", wf, line)
			}
		}
	}
	scoped, full := synthTemplates(t, map[string]interface{}{"stage": "dev"}), synthTemplates(t, nil)
	if len(scoped) != 5 {
		t.Fatalf("%d dev templates", len(scoped))
	}
	for file, body := range scoped {
		if full[file] != body {
			t.Errorf("%s differs between the stage-scoped synth of a deploy and the full synth", file)
		}
	}
}

// synthTemplates builds the app with ctx and returns dev's templates by file name.
func synthTemplates(t *testing.T, ctx map[string]interface{}) map[string]string {
	t.Helper()
	dir := t.TempDir()
	props := appProps(t, ctx)
	// The validator checks templates, it does not change them: off, to save a second of each synth.
	props.Outdir, props.BuiltinCloudFormationValidation = jsii.String(dir), jsii.Bool(false)
	app := awscdk.NewApp(props)
	if _, err := buildApp(app); err != nil {
		t.Fatal(err)
	}
	app.Synth(nil)
	files, _ := filepath.Glob(filepath.Join(dir, "assembly-dev", "*.template.json"))
	out := map[string]string{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = string(raw)
	}
	return out
}
