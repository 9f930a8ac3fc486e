package stacks

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"h2o-infra/config"
	"h2o-infra/internal/cdkcontext"
	"h2o-infra/internal/cfnpath"
)

// The app is synthesized once for the whole package (one jsii process, one synth); tests share it.
var (
	built    = map[string]*H2oStage{} // by stage name, default config
	ci       *CiStack
	outdir   string
	template = map[awscdk.Stack]assertions.Template{}
	// templateJSONs caches templateJSON.
	templateJSONs = map[awscdk.Stack]map[string]interface{}{}
	// assemblies are what the two Synth calls returned: their stacks' messages are the annotations.
	assemblies []cxapi.CloudAssembly
	// ciImported is h2o-ci importing an existing GitHub OIDC provider (githubOidcProviderArn).
	ciImported *CiStack
	// withDomain is prod with every option on (custom domain, Amplify frontend, Slack, WAF in count mode):
	// the listener, certificate, DNS, frontend and WAF-mode variants.
	withDomain       *H2oStage
	withDomainConfig *config.Config
)

const importedOidcArn = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"

// variantOperatorPrincipal is an IAM Identity Center permission set's role, as the variant's h2o-ci trusts it
// for the operator roles (with operatorRequireMfa false: Identity Center enforces MFA at sign-in).
const variantOperatorPrincipal = "arn:aws:iam::*:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_H2OOperator_*"

// variantContext is what `-c domainName=... -c hostedZoneId=...` would pass.
var variantContext = map[string]string{"domainName": "h2o.example.com", "hostedZoneId": "Z0123456789ABCDEFGHIJ",
	"frontendRepository": "https://github.com/h2o-allegiant/frontend", "slackWorkspaceId": "T0123ABCD", "slackChannelId": "C0123ABCD",
	"wafMode": "count", "wafBodyLimitKiB": "12", "tracing": "true", "alarmEmail": "ops@h2o-allegiant.com",
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
		withDomainConfig = mustLoad("prod", variantContext)
		withDomain = NewH2oStage(variantApp, withDomainConfig)
		imported, err := config.LoadCI(sources(map[string]string{"ci.githubOidcProviderArn": importedOidcArn,
			"ci.backendRepository": "h2o-allegiant/backend", "ci.operatorPrincipalArns": variantOperatorPrincipal, "ci.operatorRequireMfa": "false"}))
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

// templateJSON is a stack's template as plain JSON values, read once through jsii and shared: read, never change it.
func templateJSON(stack awscdk.Stack) map[string]interface{} {
	if j, ok := templateJSONs[stack]; ok {
		return j
	}
	j := *tmpl(stack).ToJSON()
	templateJSONs[stack] = j
	return j
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

// forEachBuild runs f as a subtest per built stage: dev, prod and the all-options variant of prod.
func forEachBuild(t *testing.T, f func(t *testing.T, s *H2oStage, cfg *config.Config)) {
	forEachStage(t, f)
	t.Run("variant", func(t *testing.T) { f(t, withDomain, withDomainConfig) })
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

// resourceOf is the template resource of a construct (an L1, or an L2's default child); the test fails naming
// the logical ID when the stack has no such resource.
func resourceOf(t *testing.T, stack awscdk.Stack, c constructs.IConstruct) map[string]interface{} {
	t.Helper()
	if child := c.Node().DefaultChild(); child != nil {
		c = child
	}
	id := logicalIDOf(t, stack, c)
	r, ok := allResources(t, stack)[id]
	if !ok {
		t.Fatalf("%s has no resource %s", *stack.StackName(), id)
	}
	return r
}

// logicalIDOf is the logical ID of an L1 construct (an L2's Node().DefaultChild()).
func logicalIDOf(t *testing.T, stack awscdk.Stack, c constructs.IConstruct) string {
	t.Helper()
	element, ok := c.(awscdk.CfnElement)
	if !ok {
		t.Fatalf("%s is a %T, not an L1 construct (CfnElement)", *c.Node().Path(), c)
	}
	return *stack.GetLogicalId(element)
}

// Reading templates. Template data is plain JSON (maps, lists, strings, float64s); a helper that expects a shape
// fails the test with the path it was looking for rather than panicking, which would end the shared test binary
// and hide every other result.

// props is a resource's Properties (nil when it has none).
func props(r map[string]interface{}) map[string]interface{} {
	p, _ := r["Properties"].(map[string]interface{})
	return p
}

// lookup follows a dotted path through template data: each segment is a map key or, on a list, an index
// ("Properties.DistributionConfig.Origins.0.VpcOriginConfig"); the empty path is v itself. ok is false when a
// step is missing.
func lookup(v interface{}, path string) (found interface{}, ok bool) {
	found, err := cfnpath.Walk(v, path)
	return found, err == nil
}

// at is the value at path (see lookup); a missing step fails the test with the path.
func at(t *testing.T, v interface{}, path string) interface{} {
	t.Helper()
	found, err := cfnpath.Walk(v, path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return found
}

// atMap is the map at path; a missing step or another type fails the test with the path.
func atMap(t *testing.T, v interface{}, path string) map[string]interface{} {
	t.Helper()
	found := at(t, v, path)
	m, ok := found.(map[string]interface{})
	if !ok {
		t.Fatalf("%s: want a map, got %T (%s)", path, found, mustJSON(found))
	}
	return m
}

// atList is the list at path; a missing step or another type fails the test with the path.
func atList(t *testing.T, v interface{}, path string) []interface{} {
	t.Helper()
	found := at(t, v, path)
	l, ok := found.([]interface{})
	if !ok {
		t.Fatalf("%s: want a list, got %T (%s)", path, found, mustJSON(found))
	}
	return l
}

// atString is the string at path; a missing step or another type fails the test with the path.
func atString(t *testing.T, v interface{}, path string) string {
	t.Helper()
	found := at(t, v, path)
	s, ok := found.(string)
	if !ok {
		t.Fatalf("%s: want a string, got %T (%s)", path, found, mustJSON(found))
	}
	return s
}

// atStrings is the string or list of strings at path (a policy's Action or Resource) as a list; a missing step
// or another type fails the test with the path.
func atStrings(t *testing.T, v interface{}, path string) []string {
	t.Helper()
	switch found := at(t, v, path).(type) {
	case string:
		return []string{found}
	case []interface{}:
		var out []string
		for i, x := range found {
			s, ok := x.(string)
			if !ok {
				t.Fatalf("%s.%d: want a string, got %T (%s)", path, i, x, mustJSON(x))
			}
			out = append(out, s)
		}
		return out
	default:
		t.Fatalf("%s: want a string or a list of strings, got %T (%s)", path, found, mustJSON(found))
		return nil
	}
}

// atMaps is the list of maps at path; a missing step, another type or an element that is not a map fails the
// test with the path.
func atMaps(t *testing.T, v interface{}, path string) []map[string]interface{} {
	t.Helper()
	return mapsOf(t, atList(t, v, path), path)
}

// optMaps reads the maps at path as list reads a policy element: a missing last key is no maps, a single map is
// one. A missing step before the last, or an element that is not a map, fails the test with the path.
func optMaps(t *testing.T, v interface{}, path string) []map[string]interface{} {
	t.Helper()
	parent, key := "", path
	if i := strings.LastIndex(path, "."); i >= 0 {
		parent, key = path[:i], path[i+1:]
	}
	return mapsOf(t, list(atMap(t, v, parent)[key]), path)
}

// mapsOf asserts that every element of l (read from path) is a map.
func mapsOf(t *testing.T, l []interface{}, path string) []map[string]interface{} {
	t.Helper()
	out := make([]map[string]interface{}, 0, len(l))
	for i, x := range l {
		m, ok := x.(map[string]interface{})
		if !ok {
			t.Fatalf("%s.%d: want a map, got %T (%s)", path, i, x, mustJSON(x))
		}
		out = append(out, m)
	}
	return out
}

// list is a policy element that may be one value or a list of them.
func list(v interface{}) []interface{} {
	if l, ok := v.([]interface{}); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []interface{}{v}
}

// jsonEqual compares two values as their JSON (so float64(1) in a template equals a literal 1).
func jsonEqual(a, b interface{}) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// mustJSON is v as compact JSON, for substring checks and messages.
func mustJSON(v interface{}) string {
	raw, _ := json.Marshal(v)
	return string(raw)
}

// number reads a template number, or a number written as a string (attributes are strings).
func number(v interface{}) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case string:
		var f float64
		if _, err := fmt.Sscan(x, &f); err == nil {
			return f
		}
	}
	return -1
}

// keyValue finds Key in a [{Key, Value}] list (load balancer and target group attributes).
func keyValue(attrs interface{}, key string) interface{} {
	for _, a := range list(attrs) {
		if kv, _ := a.(map[string]interface{}); kv["Key"] == key {
			return kv["Value"]
		}
	}
	return nil
}

// appStacks is every stack the tests synthesize: both stages, h2o-ci and the all-options variant.
func appStacks() []awscdk.Stack {
	var out []awscdk.Stack
	for _, name := range config.Stages() {
		out = append(out, built[name].Stacks()...)
	}
	return append(append(out, withDomain.Stacks()...), ci.Stack)
}

// allResources returns every resource of a stack's template by logical ID.
func allResources(t *testing.T, stack awscdk.Stack) map[string]map[string]interface{} {
	t.Helper()
	all := atMap(t, templateJSON(stack), "Resources")
	out := map[string]map[string]interface{}{}
	for id := range all {
		out[id] = atMap(t, all, id)
	}
	return out
}

// only returns the single resource of a type in a stack.
func only(t *testing.T, stack awscdk.Stack, typ string) (string, map[string]interface{}) {
	t.Helper()
	found := resources(t, stack, typ)
	if len(found) != 1 {
		t.Fatalf("want one %s, got %d", typ, len(found))
	}
	for id, r := range found {
		return id, r
	}
	return "", nil
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

// taskDefinition is the Properties of the stack's task definition of that family.
func taskDefinition(t *testing.T, stack awscdk.Stack, family string) map[string]interface{} {
	t.Helper()
	for _, task := range resources(t, stack, "AWS::ECS::TaskDefinition") {
		if props(task)["Family"] == family {
			return props(task)
		}
	}
	t.Fatalf("%s has no task definition of family %s", *stack.StackName(), family)
	return nil
}

// containerOf is the named container definition of a task definition's Properties.
func containerOf(t *testing.T, task map[string]interface{}, name string) map[string]interface{} {
	t.Helper()
	for _, c := range optMaps(t, task, "ContainerDefinitions") {
		if c["Name"] == name {
			return c
		}
	}
	t.Fatalf("no container %s in task definition %v", name, task["Family"])
	return nil
}

// envOf is a container definition's environment, by name.
func envOf(t *testing.T, container map[string]interface{}) map[string]interface{} {
	t.Helper()
	env := map[string]interface{}{}
	for _, e := range optMaps(t, container, "Environment") {
		env[fmt.Sprint(e["Name"])] = e["Value"]
	}
	return env
}

// ingressRules lists the ingress rules of every security group of a stack, inline or as separate resources, by
// the group's logical ID ("import:<expression>" for a group of another stack).
func ingressRules(t *testing.T, stack awscdk.Stack) map[string][]map[string]interface{} {
	t.Helper()
	out := map[string][]map[string]interface{}{}
	for id, r := range allResources(t, stack) {
		p := props(r)
		switch r["Type"] {
		case "AWS::EC2::SecurityGroup":
			out[id] = append(out[id], optMaps(t, r, "Properties.SecurityGroupIngress")...)
		case "AWS::EC2::SecurityGroupIngress":
			group := "import:" + mustJSON(p["GroupId"])
			if _, ok := lookup(p, "GroupId.Fn::GetAtt.0"); ok {
				group = atString(t, p, "GroupId.Fn::GetAtt.0")
			}
			out[group] = append(out[group], p)
		}
	}
	return out
}

// roleStatements are the statements of every AWS::IAM::Policy of the stack attached to the role with that logical ID.
// The managed policies count too: past 10,000 characters of inline policy the CDK moves statements into
// "OverflowPolicy<n>" managed policies attached to the role (aws-cdk-lib 2.276 aws-iam/lib/role.js,
// splitLargePolicy, MAX_INLINE_SIZE).
func roleStatements(t *testing.T, stack awscdk.Stack, roleID string) []map[string]interface{} {
	t.Helper()
	var out []map[string]interface{}
	for _, typ := range []string{"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"} {
		found := resources(t, stack, typ)
		for _, id := range sortedKeys(found) {
			pol := found[id]
			for _, r := range list(props(pol)["Roles"]) {
				if jsonEqual(r, map[string]interface{}{"Ref": roleID}) {
					out = append(out, optMaps(t, pol, "Properties.PolicyDocument.Statement")...)
				}
			}
		}
	}
	return out
}

// securityGroupID is the logical ID of the one security group of a construct's connections.
func securityGroupID(t *testing.T, stack awscdk.Stack, c awsec2.Connections) string {
	t.Helper()
	groups := *c.SecurityGroups()
	if len(groups) != 1 {
		t.Fatalf("%d security groups, want 1", len(groups))
	}
	return logicalIDOf(t, stack, groups[0].Node().DefaultChild())
}

// distributionConfig is the DistributionConfig of the stage's CloudFront distribution.
func distributionConfig(t *testing.T, s *H2oStage) map[string]interface{} {
	t.Helper()
	_, dist := only(t, s.Edge.Stack, "AWS::CloudFront::Distribution")
	return atMap(t, dist, "Properties.DistributionConfig")
}

func TestStacksAreNamedPerStageAndLayer(t *testing.T) {
	// GIVEN each stage WHEN its stacks are built THEN each is named h2o-<stage>-<layer> and termination-protected as
	// the stage's deletion protection says
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
			// GIVEN the AwsSolutions and NIST 800-53 rev 5 packs on every stage and stack WHEN synthesized THEN nothing
			// is left unsuppressed, and no rule went unevaluated (a warning)
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
	// GIVEN both apps synthesized with @aws-cdk/core:validateAgainstDefaultRules (cdk.json) WHEN their validation
	// reports are read THEN every plugin succeeded without a violation, warnings included
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
	t.Helper()
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
	if len(report.PluginReports) == 0 {
		t.Errorf("%s: the validation report has no plugin report", dir)
	}
	for _, p := range report.PluginReports {
		// Warnings count too: each is fixed rather than left in the report.
		if p.Conclusion != "success" || len(p.Violations) > 0 {
			t.Errorf("%s: conclusion %s, %d violations: %v", p.PluginName, p.Conclusion, len(p.Violations), p.Violations)
		}
	}
}

func TestCostAllocationTagsReachEveryStack(t *testing.T) {
	// GIVEN every stack of each build WHEN its taggable resources are read THEN each carries Project, Stage, Layer and
	// ManagedBy
	forEachBuild(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		for _, stack := range s.Stacks() {
			want := map[string]string{"Project": "h2o", "Stage": cfg.Stage, "Layer": *stack.Node().Id(), "ManagedBy": "cdk"}
			tagged := 0
			for id, r := range allResources(t, stack) {
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
