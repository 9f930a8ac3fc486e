package main

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"h2o-infra/internal/cdkcontext"
)

// newApp is an App with cdk.json's feature flags plus ctx, as `cdk synth -c key=value` would build it.
func newApp(t *testing.T, ctx map[string]interface{}) awscdk.App {
	flags, err := cdkcontext.Load("cdk.json")
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range ctx {
		flags[k] = v
	}
	return awscdk.NewApp(&awscdk.AppProps{Context: &flags})
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
