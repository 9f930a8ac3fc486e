package stacks

import (
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

var (
	weakRefRe   = regexp.MustCompile(`"Fn::GetStackOutput":\{"OutputName":"([^"]+)"[^}]*"StackName":"([^"]+)"`)
	strongRefRe = regexp.MustCompile(`"Fn::ImportValue":"([^":]+):([^"]*)"`)
)

// TestCrossStackReferencesAreStrongExceptTheNetworks: every reference between the stacks of a stage is an
// export/import, which CloudFormation will not let a producer change or delete while it is imported; only the
// network's VPC and subnets (weakRefs says why) and the API keys' secrets (newAppSecrets: a removed key's secret
// goes before compute stops reading it) are read weakly. The network's one strong export is the stage key's ARN:
// no setting changes it, every stage has readers of it in data and compute (so its export never goes while
// another stack would still import it), and CloudFormation must refuse to replace the key that encrypts every log
// group and secret of the stage.
func TestCrossStackReferencesAreStrongExceptTheNetworks(t *testing.T) {
	// GIVEN every stack of the app WHEN its cross-stack references are read THEN only those to the network and to
	// the API keys' secrets are weak
	strong, weakSecrets := 0, 0
	for _, stack := range appStacks() {
		text := mustJSON(templateJSON(stack))
		for _, m := range weakRefRe.FindAllStringSubmatch(text, -1) {
			output, producer := m[1], m[2]
			if strings.HasSuffix(producer, "-data") && strings.HasPrefix(output, "PublishOutputRefAppSecret") {
				weakSecrets++
				continue
			}
			if !strings.HasSuffix(producer, "-network") {
				t.Errorf("%s reads %s's %s weakly (Fn::GetStackOutput): it would keep a replaced resource's old value",
					*stack.StackName(), producer, output)
			}
		}
		for _, m := range strongRefRe.FindAllStringSubmatch(text, -1) {
			strong++
			if strings.HasSuffix(m[1], "-network") && !strings.HasPrefix(m[2], "ExportsOutputFnGetAttStageKey") {
				t.Errorf("%s imports from %s: the network's references are weak (a natGateways change would deadlock)", *stack.StackName(), m[1])
			}
		}
	}
	if strong < 20 || weakSecrets == 0 {
		t.Errorf("only %d strong references and %d weak ones to API key secrets in the app", strong, weakSecrets)
	}
}

// TestReplacingTheLoadBalancerIsRefusedWhileEdgeUsesIt replaces prod's load balancer in place (a new name forces
// a replacement under the same logical ID). The edge stack's template does not change, so `cdk deploy` would skip
// it: with a weak reference CloudFront would keep the old, deleted ALB as its origin. Edge imports the ALB
// instead, so CloudFormation refuses compute's update while edge uses the export (the second lock next to the
// review guard).
func TestReplacingTheLoadBalancerIsRefusedWhileEdgeUsesIt(t *testing.T) {
	// GIVEN prod with its load balancer replaced (the validator off: TestMain's synth validates this code)
	app := awscdk.NewApp(&awscdk.AppProps{Context: cdkJSONContext(), Outdir: jsii.String(t.TempDir()),
		BuiltinCloudFormationValidation: jsii.Bool(false)})
	replaced := NewH2oStage(app, mustLoad("prod", nil))
	alb, ok := replaced.Compute.BackendService.LoadBalancer().Node().DefaultChild().(awscdk.CfnResource)
	if !ok {
		t.Fatal("the load balancer's default child is not a CfnResource")
	}
	alb.AddPropertyOverride(jsii.String("Name"), jsii.String("h2o-prod-api-v2"))
	// WHEN both are synthesized
	before, after := mustJSON(templateJSON(built["prod"].Edge.Stack)), mustJSON(templateJSON(replaced.Edge.Stack))
	// THEN compute changes, edge does not (the CDK skips it), and edge reads the ALB through compute's exports
	if mustJSON(templateJSON(built["prod"].Compute.Stack)) == mustJSON(templateJSON(replaced.Compute.Stack)) {
		t.Fatal("the variant did not change the load balancer")
	}
	if before != after {
		t.Errorf("edge's template changed with the ALB: the test no longer shows the skipped-consumer case")
	}
	for _, attr := range []string{"ExportsOutputRefLoadBalancer", "ExportsOutputFnGetAttLoadBalancer"} {
		if !strings.Contains(after, `"Fn::ImportValue":"h2o-prod-compute:`+attr) {
			t.Errorf("edge does not import the load balancer (%s...): a replaced ALB would go unnoticed", attr)
		}
	}
}
