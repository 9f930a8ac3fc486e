package scripts

// The fakes come from the app: the CDK app is synthesized once for the package, and the fake AWS answers
// describe-stacks with the outputs the synthesized templates define, their intrinsic functions resolved the way
// CloudFormation would (a name the template sets, or a deterministic fake id labelled with the logical ID).

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"h2o-infra/config"
	"h2o-infra/internal/cdkcontext"
	"h2o-infra/stacks"
)

// appStack is one synthesized stack of a stage: its template and its outputs as describe-stacks would answer them.
type appStack struct {
	name     string
	template map[string]interface{}
	outputs  map[string]string
	// terminationProtection is the stack's setting, which the CDK CLI applies before it executes a stack's first
	// change set: a failed first create keeps it.
	terminationProtection bool
}

// app holds the synthesized stacks by stage and layer (layers as scripts/common.sh's LAYERS names them).
var app = map[string]map[string]*appStack{}

// appLayers are the layers of a stage, in deploy order, as the app builds them.
var appLayers []string

// ciApp is the synthesized account-level stack, h2o-ci (scripts/drift.sh checks it too).
var ciApp *appStack

// appConfig is each stage's configuration, as the app was built with it.
var appConfig = map[string]*config.Config{}

// appTemplates are the synthesized templates by stack name.
var appTemplates map[string]map[string]interface{}

// synthApp builds every stage with its committed settings (no validation: the stacks' own tests run it), reads
// the templates and resolves their outputs.
func synthApp() error {
	defer jsii.Close()
	dir, err := os.MkdirTemp("", "h2o-scripts-cdk-out-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	flags, err := cdkcontext.Load(filepath.Join("..", "cdk.json"))
	if err != nil {
		return err
	}
	cdkApp := awscdk.NewApp(&awscdk.AppProps{Context: &flags, Outdir: jsii.String(dir),
		BuiltinCloudFormationValidation: jsii.Bool(false)})
	settings, err := config.Committed()
	if err != nil {
		return err
	}
	built := map[string]*stacks.H2oStage{}
	for _, stage := range config.Stages() {
		cfg, err := config.Load(stage, config.Sources{Settings: settings, Context: map[string]any{}})
		if err != nil {
			return err
		}
		built[stage] = stacks.NewH2oStage(cdkApp, cfg)
		appConfig[stage] = cfg
	}
	ciCfg, err := config.LoadCI(config.Sources{Settings: settings, Context: map[string]any{}})
	if err != nil {
		return err
	}
	ciStack := stacks.NewCiStack(cdkApp, ciCfg)
	assembly := cdkApp.Synth(nil)
	templates := map[string]map[string]interface{}{}
	for _, artifact := range *assembly.StacksRecursively() {
		raw, err := os.ReadFile(*artifact.TemplateFullPath())
		if err != nil {
			return err
		}
		var t map[string]interface{}
		if err := json.Unmarshal(raw, &t); err != nil {
			return err
		}
		templates[*artifact.StackName()] = t
	}
	appTemplates = templates
	for stage, s := range built {
		app[stage] = map[string]*appStack{}
		var layers []string
		for _, st := range s.Stacks() {
			name := *st.StackName()
			layer := strings.TrimPrefix(name, "h2o-"+stage+"-")
			layers = append(layers, layer)
			protected := st.TerminationProtection() != nil && *st.TerminationProtection()
			app[stage][layer] = &appStack{name: name, template: templates[name], terminationProtection: protected}
		}
		if appLayers != nil && !slices.Equal(appLayers, layers) {
			return fmt.Errorf("the stages have different layers: %v, %v", appLayers, layers)
		}
		appLayers = layers
	}
	ciApp = &appStack{name: *ciStack.StackName(), template: templates[*ciStack.StackName()]}
	for stage, layers := range app {
		r := resolver{stage: stage, templates: templates}
		for _, st := range layers {
			st.outputs = map[string]string{}
			outs, _ := st.template["Outputs"].(map[string]interface{})
			for key, o := range outs {
				v, err := r.value(st.name, o.(map[string]interface{})["Value"])
				if err != nil {
					return fmt.Errorf("%s output %s: %v", st.name, key, err)
				}
				st.outputs[key] = v
			}
		}
	}
	return nil
}

// out is the fake value of a stack output; a missing one comes back as a marker naming what was looked for, so
// the calls that use it differ visibly from what the scripts do.
func out(stage, layer, key string) string {
	if st, ok := app[stage][layer]; ok {
		if v, ok := st.outputs[key]; ok {
			return v
		}
	}
	return fmt.Sprintf("<no output %s of h2o-%s-%s in the synthesized app>", key, stage, layer)
}

// dbClassOf is the instance class the synthesized data stack gives the stage's database; a missing one comes back
// as a marker naming what was looked for (as out does).
func dbClassOf(stage string) string {
	resources, _ := app[stage]["data"].template["Resources"].(map[string]interface{})
	for _, id := range slices.Sorted(maps.Keys(resources)) {
		resource, _ := resources[id].(map[string]interface{})
		props, _ := resource["Properties"].(map[string]interface{})
		if class, ok := props["DBInstanceClass"].(string); ok && resource["Type"] == "AWS::RDS::DBInstance" {
			return class
		}
	}
	return fmt.Sprintf("<no DBInstanceClass of h2o-%s-data in the synthesized app>", stage)
}

// describeStacksAnswer is what `describe-stacks --query 'Stacks[0].Outputs[].[OutputKey,OutputValue]' --output
// text` prints for the stack: one "Key<TAB>Value" line per output.
func describeStacksAnswer(stage, layer string) string {
	st := app[stage][layer]
	var b strings.Builder
	for _, key := range slices.Sorted(maps.Keys(st.outputs)) {
		fmt.Fprintf(&b, "%s\t%s\n", key, st.outputs[key])
	}
	return b.String()
}

// without is an outputs answer with the named outputs left out (a stack deployed by an older app).
func without(answer string, keys ...string) string {
	var kept []string
	for _, line := range strings.SplitAfter(answer, "\n") {
		key, _, _ := strings.Cut(line, "\t")
		if line != "" && !slices.Contains(keys, key) {
			kept = append(kept, line)
		}
	}
	return strings.Join(kept, "")
}

// resolved is a template value of the stage's stack with every intrinsic function in it resolved (resolver).
func resolved(stage, stack string, v interface{}) (interface{}, error) {
	r := resolver{stage: stage, templates: appTemplates}
	switch v := v.(type) {
	case map[string]interface{}:
		for fn := range v {
			if len(v) == 1 && (fn == "Ref" || strings.HasPrefix(fn, "Fn::")) {
				return r.value(stack, v)
			}
		}
		out := map[string]interface{}{}
		for k, x := range v {
			var err error
			if out[k], err = resolved(stage, stack, x); err != nil {
				return nil, err
			}
		}
		return out, nil
	case []interface{}:
		out := make([]interface{}, len(v))
		for i, x := range v {
			var err error
			if out[i], err = resolved(stage, stack, x); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return v, nil
}

// resolver resolves the intrinsic functions of one stage's templates to fake values.
type resolver struct {
	stage     string
	templates map[string]map[string]interface{}
}

func (r resolver) value(stack string, v interface{}) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case float64:
		return fmt.Sprint(v), nil
	case map[string]interface{}:
		if len(v) != 1 {
			return "", fmt.Errorf("not an intrinsic function: %v", v)
		}
		for fn, arg := range v {
			return r.intrinsic(stack, fn, arg)
		}
	}
	return "", fmt.Errorf("cannot resolve %v", v)
}

func (r resolver) intrinsic(stack, fn string, arg interface{}) (string, error) {
	switch fn {
	case "Ref":
		name, _ := arg.(string)
		if pseudo, ok := pseudoParameters[name]; ok {
			return pseudo, nil
		}
		return r.returnValue(stack, name, "Ref")
	case "Fn::GetAtt":
		parts, _ := arg.([]interface{})
		if len(parts) != 2 {
			return "", fmt.Errorf("bad Fn::GetAtt %v", arg)
		}
		return r.returnValue(stack, fmt.Sprint(parts[0]), fmt.Sprint(parts[1]))
	case "Fn::Join":
		parts, _ := arg.([]interface{})
		if len(parts) != 2 {
			return "", fmt.Errorf("bad Fn::Join %v", arg)
		}
		items, _ := parts[1].([]interface{})
		var values []string
		for _, item := range items {
			s, err := r.value(stack, item)
			if err != nil {
				return "", err
			}
			values = append(values, s)
		}
		return strings.Join(values, fmt.Sprint(parts[0])), nil
	case "Fn::GetStackOutput":
		ref, _ := arg.(map[string]interface{})
		other := fmt.Sprint(ref["StackName"])
		o, ok := lookupOutput(r.templates[other], fmt.Sprint(ref["OutputName"]))
		if !ok {
			return "", fmt.Errorf("no output %v of %s", ref["OutputName"], other)
		}
		return r.value(other, o["Value"])
	case "Fn::ImportValue":
		for name, t := range r.templates {
			outs, _ := t["Outputs"].(map[string]interface{})
			for _, o := range outs {
				o := o.(map[string]interface{})
				if export, ok := o["Export"].(map[string]interface{}); ok && export["Name"] == arg {
					return r.value(name, o["Value"])
				}
			}
		}
		return "", fmt.Errorf("no export %v", arg)
	}
	return "", fmt.Errorf("intrinsic function %s is not modelled by the fake", fn)
}

func lookupOutput(t map[string]interface{}, key string) (map[string]interface{}, bool) {
	outs, _ := t["Outputs"].(map[string]interface{})
	o, ok := outs[key].(map[string]interface{})
	return o, ok
}

// The pseudo parameters (CloudFormation user guide, "Pseudo parameters reference") of the fake account.
var pseudoParameters = map[string]string{"AWS::AccountId": account, "AWS::Region": "us-east-1",
	"AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}

// returnValues are what Ref ("Ref") and Fn::GetAtt of a resource type answer, after the "Return values" section
// of each type's page in the CloudFormation resource reference, built from the resource's own properties (the
// physical name the app sets) and a fake id where AWS makes one up. A type or attribute not listed gets
// fake-<logical ID>[-<attribute>].
var returnValues = map[string]func(res fakeResource) string{
	"AWS::ECS::Cluster.Ref":                    func(r fakeResource) string { return r.name("ClusterName") },
	"AWS::ECS::Service.Name":                   func(r fakeResource) string { return r.name("ServiceName") },
	"AWS::ECS::TaskDefinition.Ref":             func(r fakeResource) string { return r.arn("ecs", "task-definition/"+r.name("Family")+":1") },
	"AWS::SNS::Topic.Ref":                      func(r fakeResource) string { return r.arn("sns", r.name("TopicName")) },
	"AWS::SNS::Topic.TopicName":                func(r fakeResource) string { return r.name("TopicName") },
	"AWS::CloudWatch::Alarm.Ref":               func(r fakeResource) string { return r.name("AlarmName") },
	"AWS::Backup::BackupVault.BackupVaultName": func(r fakeResource) string { return r.name("BackupVaultName") },
	"AWS::WAFv2::WebACL.Arn":                   func(r fakeResource) string { return r.arn("wafv2", "global/webacl/"+r.name("Name")+"/"+r.hex(36)) },
	"AWS::CloudFront::Distribution.Ref":        func(r fakeResource) string { return "E" + strings.ToUpper(r.hex(13)) },
	"AWS::CloudFront::Distribution.DomainName": func(r fakeResource) string { return "d" + r.hex(13) + ".cloudfront.net" },
	"AWS::EC2::Subnet.Ref":                     func(r fakeResource) string { return "subnet-" + r.hex(17) },
	"AWS::EC2::SecurityGroup.GroupId":          func(r fakeResource) string { return "sg-" + r.hex(17) },
	"AWS::ElasticLoadBalancingV2::TargetGroup.Ref": func(r fakeResource) string {
		return r.arn("elasticloadbalancing", targetGroupFullName(r))
	},
	// "targetgroup/my-target-group/cbf133c568e0d028": the ARN's resource part (CloudFormation resource reference,
	// AWS::ElasticLoadBalancingV2::TargetGroup, return values).
	"AWS::ElasticLoadBalancingV2::TargetGroup.TargetGroupFullName": targetGroupFullName,
	"AWS::ElasticLoadBalancingV2::LoadBalancer.LoadBalancerFullName": func(r fakeResource) string {
		return "app/" + r.name("Name") + "/" + r.hex(16)
	},
	"AWS::RDS::DBInstance.MasterUserSecret.SecretArn": func(r fakeResource) string { return r.arn("secretsmanager", "secret:rds!db-"+r.hex(36)+"-"+r.hex(6)) },
}

// targetGroupFullName is the same for a target group's Ref (inside its ARN) and its TargetGroupFullName.
func targetGroupFullName(r fakeResource) string {
	r.attribute = "Ref"
	return "targetgroup/" + r.name("Name") + "/" + r.hex(16)
}

// fakeResource is one resource of a template, as returnValues sees it.
type fakeResource struct {
	stage, logicalID, attribute string
	props                       map[string]interface{}
}

// name is the physical name the template sets in prop, or one labelled with the logical ID (CloudFormation makes
// one up when the template sets none).
func (r fakeResource) name(prop string) string {
	if s, ok := r.props[prop].(string); ok {
		return s
	}
	return "fake-" + r.logicalID
}

func (r fakeResource) arn(service, resource string) string {
	return "arn:aws:" + service + ":us-east-1:" + account + ":" + resource
}

// hex is a deterministic fake id of n hex digits for this resource and attribute.
func (r fakeResource) hex(n int) string {
	sum := sha256.Sum256([]byte(r.stage + "/" + r.logicalID + "/" + r.attribute))
	return strings.Repeat(hex.EncodeToString(sum[:]), 2)[:n]
}

func (r resolver) returnValue(stack, logicalID, attribute string) (string, error) {
	resources, _ := r.templates[stack]["Resources"].(map[string]interface{})
	res, ok := resources[logicalID].(map[string]interface{})
	if !ok {
		return "", fmt.Errorf("%s has no resource %s", stack, logicalID)
	}
	props, _ := res["Properties"].(map[string]interface{})
	fr := fakeResource{stage: r.stage, logicalID: logicalID, attribute: attribute, props: props}
	if f, ok := returnValues[fmt.Sprint(res["Type"])+"."+attribute]; ok {
		return f(fr), nil
	}
	if attribute == "Ref" {
		return "fake-" + logicalID, nil
	}
	return "fake-" + logicalID + "-" + attribute, nil
}
