// Package stacks holds one file per layer of h2o-infra. Each layer is a struct embedding awscdk.Stack that
// exports the typed fields the next layer needs; H2oStage wires them together for one environment.
package stacks

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"h2o-infra/config"
)

// H2oStage is one environment (dev, prod): the same stacks built from that stage's Config.
type H2oStage struct {
	awscdk.Stage
	Network *NetworkStack
	Data    *DataStack
	Compute *ComputeStack
	Edge    *EdgeStack
	// Observability watches every layer above it.
	Observability *ObservabilityStack
}

// NewH2oStage builds every layer of one stage. Stack names are h2o-<stage>-<layer>, so
// `cdk deploy 'dev/*'` selects one stage and stacks of both stages can share an account.
func NewH2oStage(scope constructs.Construct, cfg *config.Config) *H2oStage {
	stage := awscdk.NewStage(scope, jsii.String(cfg.Stage), &awscdk.StageProps{Env: env(cfg)})
	// Applied once here, so every taggable resource of every stack carries them (cost allocation tags).
	for k, v := range map[string]string{"Project": "h2o", "Stage": cfg.Stage, "ManagedBy": "cdk"} {
		awscdk.Tags_Of(stage).Add(jsii.String(k), jsii.String(v), untaggedTypes)
	}
	addNagChecks(stage)

	s := &H2oStage{Stage: stage}
	s.Network = NewNetworkStack(stage, cfg)
	s.Data = NewDataStack(stage, cfg, s.Network)
	s.Compute = NewComputeStack(stage, cfg, s.Network, s.Data)
	s.Edge = NewEdgeStack(stage, cfg, s.Compute)
	s.Observability = NewObservabilityStack(stage, cfg, s.Data, s.Compute, s.Edge)
	return s
}

// Stacks lists the stage's stacks in deploy order.
func (s *H2oStage) Stacks() []awscdk.Stack {
	return []awscdk.Stack{s.Network.Stack, s.Data.Stack, s.Compute.Stack, s.Edge.Stack, s.Observability.Stack}
}

func env(cfg *config.Config) *awscdk.Environment {
	e := &awscdk.Environment{Region: jsii.String(cfg.Region)}
	if cfg.Account != "" {
		e.Account = jsii.String(cfg.Account)
	}
	return e
}

// untaggedTypes: CDK 2.276 tags these, but cfn-lint 1.51's schemas reject Tags on them (E3002). Listeners
// and scalable targets are free, and dashboard charges are not split by tag, so cost allocation loses nothing.
var untaggedTypes = &awscdk.TagProps{ExcludeResourceTypes: jsii.Strings(
	"AWS::ElasticLoadBalancingV2::Listener", "AWS::ApplicationAutoScaling::ScalableTarget", "AWS::CloudWatch::Dashboard")}

// newLayerStack creates the stack of one layer, named h2o-<stage>-<layer> and tagged Layer=<layer>.
func newLayerStack(scope constructs.Construct, cfg *config.Config, layer, description string) awscdk.Stack {
	stack := awscdk.NewStack(scope, jsii.String(layer), &awscdk.StackProps{
		StackName:   jsii.String(Names{cfg.Stage}.Stack(layer)),
		Description: jsii.String(fmt.Sprintf("h2o %s: %s", cfg.Stage, description)),
		// prod stacks refuse `cdk destroy`/DeleteStack until someone turns this off on purpose.
		TerminationProtection: jsii.Bool(cfg.DeletionProtection),
	})
	awscdk.Tags_Of(stack).Add(jsii.String("Layer"), jsii.String(layer), untaggedTypes)
	// Every reference this stack consumes is strong (an export): CloudFormation then refuses to replace or change
	// a producer's resource while this stack uses it ("you can't ... modify the exported output value": Fn::ImportValue
	// reference), where a weak Fn::GetStackOutput would leave this stack on the old resource (it is resolved only when
	// the consumer is created or updated: Fn::GetStackOutput reference) and the CDK skips an unchanged stack. Set
	// before the stack has children, as construct context must be. The network's VPC and subnets opt out (weakRefs).
	awscdk.CrossStackReferences_Of(stack).Consume(awscdk.ReferenceStrength_STRONG)
	if problems := cfg.DeployProblems(); len(problems) > 0 {
		refuseDeploy(stack, problems)
	}
	return stack
}

// refuseDeploy makes CloudFormation refuse to create or update the stack while the stage's settings hold a
// placeholder: CloudFormation evaluates a template's rules before it creates or updates any resource
// (CloudFormation user guide, "Rules"), and this one cannot hold. Rule assertions compare parameter values, so it
// reads BootstrapVersion, the parameter the CDK gives every stack, as the CDK's own CheckBootstrapVersion rule
// does. Synth and `cdk diff` are unaffected; every stack carries it, so `cdk deploy 'dev/*'` stops at the first.
func refuseDeploy(stack awscdk.Stack, problems []string) {
	awscdk.NewCfnRule(stack, jsii.String("RefusePlaceholderSettings"), &awscdk.CfnRuleProps{
		Assertions: &[]*awscdk.CfnRuleAssertion{{
			Assert:            awscdk.Fn_ConditionContains(jsii.Strings("placeholder settings"), awscdk.Fn_Ref(jsii.String("BootstrapVersion"))),
			AssertDescription: jsii.String(strings.Join(problems, "; ")),
		}},
	})
}

// addNagChecks runs cdk-nag's AwsSolutions pack over scope. Aspects added to the App stop at Stage
// boundaries, so each Stage and each top-level stack gets its own.
func addNagChecks(scope constructs.IConstruct) {
	awscdk.Aspects_Of(scope).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
}

// sortedKeys ranges a map in a fixed order: Go's map order is random, and constructs created (or metadata
// written) in a different order each run would change the templates and make every `cdk diff` noisy.
func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// suppress records cdk-nag suppressions on a construct; every reason must say why the rule does not apply.
func suppress(c constructs.IConstruct, reasons map[string]string) {
	var list []*cdknag.NagPackSuppression
	for _, id := range sortedKeys(reasons) {
		list = append(list, &cdknag.NagPackSuppression{Id: jsii.String(id), Reason: jsii.String(reasons[id])})
	}
	cdknag.NagSuppressions_AddResourceSuppressions(c, &list, jsii.Bool(true))
}

// suppressWildcards suppresses only the listed IAM5 findings (each a literal like "Resource::*" or, between
// slashes, a regular expression), so a new wildcard added later is still reported.
func suppressWildcards(c constructs.IConstruct, reason string, findings ...string) {
	var appliesTo []interface{}
	for _, f := range findings {
		if len(f) > 1 && f[0] == '/' {
			appliesTo = append(appliesTo, &cdknag.RegexAppliesTo{Regex: jsii.String(f)})
		} else {
			appliesTo = append(appliesTo, f)
		}
	}
	list := []*cdknag.NagPackSuppression{{Id: jsii.String("AwsSolutions-IAM5"), Reason: jsii.String(reason), AppliesTo: &appliesTo}}
	cdknag.NagSuppressions_AddResourceSuppressions(c, &list, jsii.Bool(true))
}
