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
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"h2o-infra/config"
	"h2o-infra/internal/cdkcontext"
)

// The app is synthesized once for the whole package (one jsii process, one synth); tests share it.
var (
	built    = map[string]*H2oStage{} // by stage name, default config
	ci       *CiStack
	outdir   string
	template = map[awscdk.Stack]assertions.Template{}
	// assemblies are what the two Synth calls returned: their stacks' messages are the annotations.
	assemblies []cxapi.CloudAssembly
	// ciImported is h2o-ci importing an existing GitHub OIDC provider (githubOidcProviderArn).
	ciImported *CiStack
	// withDomain is prod with every option on (custom domain, Amplify frontend, Slack, WAF in count mode):
	// the listener, certificate, DNS, frontend and WAF-mode variants.
	withDomain *H2oStage
)

const importedOidcArn = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"

// variantContext is what `-c domainName=... -c hostedZoneId=...` would pass.
var variantContext = map[string]string{"domainName": "h2o.example.com", "hostedZoneId": "Z0123456789ABCDEFGHIJ",
	"frontendRepository": "https://github.com/h2o-allegiant/frontend", "slackWorkspaceId": "T0123ABCD", "slackChannelId": "C0123ABCD",
	"wafMode": "count", "wafBodyLimitKiB": "12", "enableXRay": "true", "alarmEmail": "ops@h2o-allegiant.com",
	"backupVaultLock": "governance", "backupCopyVaultArn": "arn:aws:backup:us-west-2:123456789012:backup-vault:h2o-copy",
	"pdfReplicationBucketArn": "arn:aws:s3:::h2o-prod-pdf-replica",
	"pdfReplicationKmsKeyArn": "arn:aws:kms:us-west-2:123456789012:key/0123abcd-0123-4567-89ab-0123456789ab"}

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
			built[name] = NewH2oStage(app, mustLoad(name, nil))
		}
		ciCfg, err := config.LoadCI(sources(nil))
		if err != nil {
			panic(err)
		}
		ci = NewCiStack(app, ciCfg)
		assemblies = append(assemblies, app.Synth(nil))
		// The variant is its own App: stage names must be unique within one.
		variantApp := awscdk.NewApp(&awscdk.AppProps{Context: cdkJSONContext(), Outdir: jsii.String(filepath.Join(dir, "variant"))})
		variant := mustLoad("prod", variantContext)
		withDomain = NewH2oStage(variantApp, variant)
		imported, err := config.LoadCI(sources(map[string]string{"ci.githubOidcProviderArn": importedOidcArn,
			"ci.backendRepository": "h2o-allegiant/backend"}))
		if err != nil {
			panic(err)
		}
		ciImported = NewCiStack(variantApp, imported)
		// dev once more, in the other App: two builds of the same config must give the same bytes.
		NewH2oStage(variantApp, mustLoad("dev", nil))
		assemblies = append(assemblies, variantApp.Synth(nil))
		return m.Run()
	}()
	os.Exit(code)
}

// sources are the committed settings plus ctx as `-c key=value` passes it.
func sources(ctx map[string]string) config.Sources {
	settings, err := config.Committed()
	if err != nil {
		panic(err)
	}
	context := map[string]any{}
	for k, v := range ctx {
		context[k] = v
	}
	return config.Sources{Settings: settings, Context: context}
}

func mustLoad(stage string, ctx map[string]string) *config.Config {
	cfg, err := config.Load(stage, sources(ctx))
	if err != nil {
		panic(err)
	}
	return cfg
}

// cdkJSONContext returns cdk.json's context, so tests run with the same feature flags as `cdk synth`.
func cdkJSONContext() *map[string]interface{} {
	ctx, err := cdkcontext.Load(filepath.Join("..", "cdk.json"))
	if err != nil {
		panic(err)
	}
	return &ctx
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
			f(t, built[name], mustLoad(name, nil))
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

// logicalIDOf is the logical ID of an L1 construct (an L2's Node().DefaultChild()).
func logicalIDOf(stack awscdk.Stack, c constructs.IConstruct) string {
	return *stack.GetLogicalId(c.(awscdk.CfnElement))
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

// TestCdkNagHasNoUnsuppressedFindings reads the annotations from the synthesized assemblies (every stack of
// both apps); assertions.Annotations_FromStack would re-synthesize the whole app for each stack.
func TestCdkNagHasNoUnsuppressedFindings(t *testing.T) {
	stacks := 0
	for _, asm := range assemblies {
		for _, stack := range *asm.StacksRecursively() {
			stacks++
			// GIVEN the AwsSolutions pack on every stage and stack WHEN synthesized THEN nothing is left unsuppressed
			for _, msg := range *stack.Messages() {
				if msg.Level == cxapi.SynthesisMessageLevel_ERROR || msg.Level == cxapi.SynthesisMessageLevel_WARNING {
					t.Errorf("%s %s at %s: %v", *stack.StackName(), msg.Level, *msg.Id, msg.Entry.Data)
				}
			}
		}
	}
	if want := 2*5 + 1 + 2*5 + 1; stacks != want { // dev, prod, h2o-ci; the variant, dev again and h2o-ci importing OIDC
		t.Errorf("checked %d stacks, want %d", stacks, want)
	}
}

func TestCloudFormationValidateReportsNoErrors(t *testing.T) {
	for _, dir := range []string{outdir, filepath.Join(outdir, "variant")} {
		checkValidationReport(t, dir)
	}
}

func TestSynthIsDeterministic(t *testing.T) {
	// GIVEN dev built twice (one per App) WHEN both are synthesized THEN every template is byte-identical, so
	// `cdk diff` and `make review` show only real changes
	files, _ := filepath.Glob(filepath.Join(outdir, "assembly-dev", "*.template.json"))
	if len(files) != 5 {
		t.Fatalf("%d dev templates, want 5", len(files))
	}
	for _, first := range files {
		second := filepath.Join(outdir, "variant", "assembly-dev", filepath.Base(first))
		a, errA := os.ReadFile(first)
		b, errB := os.ReadFile(second)
		if errA != nil || errB != nil || string(a) != string(b) {
			t.Errorf("%s differs between two synths of the same config (%v, %v)", filepath.Base(first), errA, errB)
		}
	}
}

func checkValidationReport(t *testing.T, dir string) {
	raw, err := os.ReadFile(filepath.Join(dir, "validation-report.json"))
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

func TestCostAllocationTagsReachEveryStack(t *testing.T) {
	forEachStage(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		for _, stack := range s.Stacks() {
			want := map[string]string{"Project": "h2o", "Stage": cfg.Stage, "Layer": *stack.Node().Id(), "ManagedBy": "cdk"}
			tagged := 0
			for id, r := range allResources(stack) {
				got := tagsOf(props(r)["Tags"])
				if got == nil {
					continue
				}
				tagged++
				for k, v := range want {
					if got[k] != v {
						t.Errorf("%s %s (%s): tag %s=%q, want %q", *stack.StackName(), id, r["Type"], k, got[k], v)
					}
				}
			}
			if tagged == 0 {
				t.Errorf("%s: no tagged resource", *stack.StackName())
			}
		}
	})
}

// allResources returns every resource of a stack's template by logical ID.
func allResources(stack awscdk.Stack) map[string]map[string]interface{} {
	out := map[string]map[string]interface{}{}
	for id, r := range (*tmpl(stack).ToJSON())["Resources"].(map[string]interface{}) {
		out[id] = r.(map[string]interface{})
	}
	return out
}

// tagsOf reads CloudFormation's two tag shapes ([{Key, Value}] and {key: value}); nil when there are none.
func tagsOf(raw interface{}) map[string]string {
	out := map[string]string{}
	switch tags := raw.(type) {
	case []interface{}:
		for _, tag := range tags {
			if kv, ok := tag.(map[string]interface{}); ok {
				out[fmt.Sprint(kv["Key"])] = fmt.Sprint(kv["Value"])
			}
		}
	case map[string]interface{}:
		for k, v := range tags {
			out[k] = fmt.Sprint(v)
		}
	default:
		return nil
	}
	return out
}
