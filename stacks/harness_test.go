package stacks

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"

	"h2o-infra/config"
)

// The app is synthesized once for the whole package (one jsii process, one synth); tests share it.
var (
	built    = map[string]*H2oStage{} // by stage name
	outdir   string
	template = map[awscdk.Stack]assertions.Template{}
)

func TestMain(m *testing.M) {
	code := func() int {
		defer jsii.Close()
		dir, err := os.MkdirTemp("", "h2o-cdk-out-")
		if err != nil {
			panic(err)
		}
		defer os.RemoveAll(dir)
		outdir = dir
		app := awscdk.NewApp(&awscdk.AppProps{Context: cdkJSONContext(), Outdir: jsii.String(dir)})
		for _, name := range config.Stages() {
			cfg, err := config.Load(name, func(string) (string, bool) { return "", false })
			if err != nil {
				panic(err)
			}
			built[name] = NewH2oStage(app, cfg)
		}
		app.Synth(nil)
		return m.Run()
	}()
	os.Exit(code)
}

// cdkJSONContext returns cdk.json's context, so tests run with the same feature flags as `cdk synth`.
func cdkJSONContext() *map[string]interface{} {
	raw, err := os.ReadFile(filepath.Join("..", "cdk.json"))
	if err != nil {
		panic(err)
	}
	var file struct {
		Context map[string]interface{} `json:"context"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		panic(err)
	}
	return &file.Context
}

// tmpl returns the (cached) assertions template of a stack.
func tmpl(stack awscdk.Stack) assertions.Template {
	if t, ok := template[stack]; ok {
		return t
	}
	t := assertions.Template_FromStack(stack, nil)
	template[stack] = t
	return t
}

// expect runs one assertions call; a failed assertion panics in Go, so the panic becomes t.Errorf and the
// other assertions of the test still run.
func expect(t *testing.T, what string, assert func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", what, r)
		}
	}()
	assert()
}

// forEachStage runs f as a subtest per stage.
func forEachStage(t *testing.T, f func(t *testing.T, s *H2oStage, cfg *config.Config)) {
	for _, name := range config.Stages() {
		t.Run(name, func(t *testing.T) {
			cfg, _ := config.Load(name, func(string) (string, bool) { return "", false })
			f(t, built[name], cfg)
		})
	}
}

// resources returns the template's resources of one type, by logical ID, as plain Go maps.
func resources(t *testing.T, stack awscdk.Stack, typ string) map[string]map[string]interface{} {
	t.Helper()
	found := tmpl(stack).FindResources(jsii.String(typ), nil)
	out := map[string]map[string]interface{}{}
	for id, r := range *found {
		out[id] = *r
	}
	return out
}

func props(r map[string]interface{}) map[string]interface{} {
	p, _ := r["Properties"].(map[string]interface{})
	return p
}

func TestStacksAreNamedPerStageAndLayer(t *testing.T) {
	forEachStage(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		for _, stack := range s.Stacks() {
			layer := *stack.Node().Id()
			if got, want := *stack.StackName(), fmt.Sprintf("h2o-%s-%s", cfg.Stage, layer); got != want {
				t.Errorf("stack name %s, want %s", got, want)
			}
			if *stack.TerminationProtection() != cfg.DeletionProtection {
				t.Errorf("%s: termination protection %v, want %v", layer, *stack.TerminationProtection(), cfg.DeletionProtection)
			}
		}
	})
}

func TestCdkNagHasNoUnsuppressedFindings(t *testing.T) {
	forEachStage(t, func(t *testing.T, s *H2oStage, _ *config.Config) {
		for _, stack := range s.Stacks() {
			// GIVEN the AwsSolutions pack on the stage WHEN synthesized THEN no stack carries an error or warning
			for level, find := range map[string]func(*string, interface{}) *[]*cxapi.SynthesisMessage{
				"error":   assertions.Annotations_FromStack(stack).FindError,
				"warning": assertions.Annotations_FromStack(stack).FindWarning,
			} {
				for _, msg := range *find(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))) {
					t.Errorf("%s %s at %s: %v", *stack.StackName(), level, *msg.Id, msg.Entry.Data)
				}
			}
		}
	})
}

func TestCloudFormationValidateReportsNoErrors(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(outdir, "validation-report.json"))
	if err != nil {
		t.Fatalf("no validation report (is @aws-cdk/core:validateAgainstDefaultRules on in cdk.json?): %v", err)
	}
	var report struct {
		PluginReports []struct {
			PluginName string        `json:"pluginName"`
			Conclusion string        `json:"conclusion"`
			Violations []interface{} `json:"violations"`
		} `json:"pluginReports"`
	}
	if err := json.Unmarshal(raw, &report); err != nil {
		t.Fatal(err)
	}
	for _, p := range report.PluginReports {
		// Warnings count too: each is fixed rather than left in the report.
		if p.Conclusion != "success" || len(p.Violations) > 0 {
			t.Errorf("%s: conclusion %s, %d violations: %v", p.PluginName, p.Conclusion, len(p.Violations), p.Violations)
		}
	}
}
