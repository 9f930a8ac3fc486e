package stacks

import (
	"fmt"
	"os"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"h2o-infra/config"
)

// productionRule is the listener rule whose weights ECS moves in a canary deploy, with the logical IDs of the
// service's two target groups.
func productionRule(t *testing.T, s *H2oStage) (rule map[string]interface{}, primary, alternate string) {
	t.Helper()
	_, svc := only(t, s.Compute.Stack, "AWS::ECS::Service")
	lb := atMap(t, svc, "Properties.LoadBalancers.0")
	primary, alternate = atString(t, lb, "TargetGroupArn.Ref"), atString(t, lb, "AdvancedConfiguration.AlternateTargetGroupArn.Ref")
	rules := resources(t, s.Compute.Stack, "AWS::ElasticLoadBalancingV2::ListenerRule")
	rule = rules[atString(t, lb, "AdvancedConfiguration.ProductionListenerRule.Ref")]
	if rule == nil || len(rules) != 1 {
		t.Fatalf("want the service's production rule as the one listener rule, got %v", rules)
	}
	return rule, primary, alternate
}

func TestServiceDeploysAsACanary(t *testing.T) {
	// GIVEN dev, prod and the variant WHEN the service is read THEN it deploys with ECS's canary strategy at the
	// stage's share and bakes, starting the new tasks in an alternate target group behind the production rule,
	// and ECS may move that rule's traffic through a role only ECS can assume
	forEachBuild(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		_, svc := only(t, s.Compute.Stack, "AWS::ECS::Service")
		deploy := atMap(t, svc, "Properties.DeploymentConfiguration")
		want := map[string]interface{}{"Strategy": "CANARY", "BakeTimeInMinutes": float64(cfg.DeployBakeMinutes),
			"CanaryConfiguration": map[string]interface{}{"CanaryPercent": float64(cfg.CanaryPercent), "CanaryBakeTimeInMinutes": float64(cfg.CanaryBakeMinutes)}}
		for k, v := range want {
			if !jsonEqual(deploy[k], v) {
				t.Errorf("deployment %s = %v, want %v", k, deploy[k], v)
			}
		}
		rule, primary, alternate := productionRule(t, s)
		if primary == alternate || resources(t, s.Compute.Stack, "AWS::ElasticLoadBalancingV2::TargetGroup")[alternate] == nil {
			t.Errorf("the alternate target group %q is not a second group of the stack (primary %q)", alternate, primary)
		}
		// The rule decides every request (any path), so the listener's default action never does.
		if !jsonEqual(at(t, rule, "Properties.Conditions"), []interface{}{map[string]interface{}{"Field": "path-pattern",
			"PathPatternConfig": map[string]interface{}{"Values": []interface{}{"/*"}}}}) || number(at(t, rule, "Properties.Priority")) != 1 {
			t.Errorf("production rule %v", rule)
		}
		_, service := only(t, s.Compute.Stack, "AWS::ECS::Service")
		roleID := atString(t, service, "Properties.LoadBalancers.0.AdvancedConfiguration.RoleArn.Fn::GetAtt.0")
		role := props(allResources(t, s.Compute.Stack)[roleID])
		trust := mustJSON(role["AssumeRolePolicyDocument"])
		if !jsonEqual(at(t, role, "AssumeRolePolicyDocument.Statement.0.Principal"), map[string]interface{}{"Service": "ecs.amazonaws.com"}) ||
			len(atList(t, role, "AssumeRolePolicyDocument.Statement")) != 1 ||
			!jsonEqual(role["ManagedPolicyArns"], []interface{}{map[string]interface{}{"Fn::Join": []interface{}{"", []interface{}{"arn:",
				map[string]interface{}{"Ref": "AWS::Partition"}, ":iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"}}}}) {
			t.Errorf("traffic role: trust %s, policies %v", trust, role["ManagedPolicyArns"])
		}
	})
}

// TestProductionRuleSurvivesInfrastructureChanges: after a canary deploy the live tasks may be in either target
// group, and only ECS knows which (it rewrites the rule's weights). If CloudFormation ever updated the rule it
// would put back the template's weights, sending every request to the primary group, with or without tasks
// (aws/aws-cdk#36649). CloudFormation "compares the changes you submit with the current state of your stack and
// updates only the changed resources" (CloudFormation user guide, "AWS CloudFormation stack updates"), so the
// rule must be byte-identical whatever the settings: it may name the listener and the two groups and nothing
// else, not even the stage's tags.
func TestProductionRuleSurvivesInfrastructureChanges(t *testing.T) {
	// GIVEN prod built as usual, and prod with every setting changed at once (an infrastructure-only deploy after a
	// canary deploy: settingEffects' values, a domain included)
	ctx := map[string]string{}
	for k, v := range settingCompanions {
		ctx[k] = v
	}
	changed := 0
	for key, e := range settingEffects {
		// A new VPC CIDR replaces the VPC and with it the load balancer, its listener and both target groups: not
		// an infrastructure change ECS's weights can survive (the review guard's diff shows the replacements); the
		// VPC is checked unchanged below.
		if e.base == "prod" && key != "account" && key != "vpcCidr" {
			ctx["prod."+key] = e.value
			changed++
		}
	}
	dir, err := os.MkdirTemp("", "h2o-rule-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	app := awscdk.NewApp(&awscdk.AppProps{Context: cdkJSONContext(), Outdir: jsii.String(dir), BuiltinCloudFormationValidation: jsii.Bool(false)})
	changedProd := NewH2oStage(app, mustLoad("prod", ctx))
	app.Synth(nil)
	// WHEN the production rule is read in both
	before, primary, alternate := productionRule(t, built["prod"])
	after, _, _ := productionRule(t, changedProd)
	// THEN it is the same resource, and holds only the listener and the two groups at their first weights
	if !jsonEqual(before, after) {
		t.Errorf("%d changed settings change the production rule, so a deploy would reset ECS's weights:\n%s\n%s", changed, mustJSON(before), mustJSON(after))
	}
	listener, _ := only(t, built["prod"].Compute.Stack, "AWS::ElasticLoadBalancingV2::Listener")
	want := map[string]interface{}{"Priority": float64(1), "ListenerArn": map[string]interface{}{"Ref": listener},
		"Conditions": []interface{}{map[string]interface{}{"Field": "path-pattern", "PathPatternConfig": map[string]interface{}{"Values": []interface{}{"/*"}}}},
		"Actions": []interface{}{map[string]interface{}{"Type": "forward", "ForwardConfig": map[string]interface{}{"TargetGroups": []interface{}{
			map[string]interface{}{"TargetGroupArn": map[string]interface{}{"Ref": primary}, "Weight": float64(100)},
			map[string]interface{}{"TargetGroupArn": map[string]interface{}{"Ref": alternate}, "Weight": float64(0)}}}}}}
	if !jsonEqual(props(before), want) {
		t.Errorf("production rule properties %s, want only %s", mustJSON(props(before)), mustJSON(want))
	}
	if changed < 40 {
		t.Errorf("only %d settings changed: the variant does not stand for an infrastructure change", changed)
	}
	// AND nothing the rule names is replaced: a new listener or target group keeps its logical ID but not its ARN,
	// so CloudFormation would update the rule with it and reset the weights. These properties' changes require
	// replacement (CloudFormation resource reference, "Update requires: Replacement", of each type); a load balancer
	// replaced would replace its listener through LoadBalancerArn.
	lbID, _ := only(t, built["prod"].Compute.Stack, "AWS::ElasticLoadBalancingV2::LoadBalancer")
	replacing := map[string][]string{
		listener:  {"LoadBalancerArn"},
		primary:   {"Name", "Port", "Protocol", "ProtocolVersion", "TargetType", "VpcId", "IpAddressType"},
		alternate: {"Name", "Port", "Protocol", "ProtocolVersion", "TargetType", "VpcId", "IpAddressType"},
		lbID:      {"Name", "Scheme", "Type"},
	}
	// The target groups' VpcId is a reference to the network stack's VPC: it must be the same VPC.
	vpcBefore, _ := only(t, built["prod"].Network.Stack, "AWS::EC2::VPC")
	vpcAfter, _ := only(t, changedProd.Network.Stack, "AWS::EC2::VPC")
	if b, a := allResources(t, built["prod"].Network.Stack)[vpcBefore], allResources(t, changedProd.Network.Stack)[vpcAfter]; vpcBefore != vpcAfter || !jsonEqual(props(b)["CidrBlock"], props(a)["CidrBlock"]) {
		t.Errorf("the VPC changes (%s %v → %s %v): every target group would be replaced", vpcBefore, props(b)["CidrBlock"], vpcAfter, props(a)["CidrBlock"])
	}
	beforeRes, afterRes := allResources(t, built["prod"].Compute.Stack), allResources(t, changedProd.Compute.Stack)
	for id, keys := range replacing {
		b, a := beforeRes[id], afterRes[id]
		if b == nil || a == nil {
			t.Errorf("%s is not in both builds' compute templates: the production rule would name a new resource", id)
			continue
		}
		for _, key := range keys {
			if !jsonEqual(props(b)[key], props(a)[key]) {
				t.Errorf("%s.%s changes (%s → %s): CloudFormation replaces it, and updating the production rule with the new "+
					"ARN resets ECS's weights", id, key, mustJSON(props(b)[key]), mustJSON(props(a)[key]))
			}
		}
	}
}

func TestComputeOutputsWhatECSWatchesADeployWith(t *testing.T) {
	// GIVEN dev, prod and the variant WHEN the compute stack's outputs are read THEN DeploymentAlarmNames lists
	// exactly the alarms the service's deployments are watched by (scripts/deploy.sh refuses while one is in ALARM
	// and judges them itself with --hotfix), CanaryBakeMinutes and DeployBakeMinutes are the service's bakes (when
	// ECS stops watching), and CloudFrontPrefixListId is the one source the load balancer admits (verify.sh)
	forEachBuild(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		_, svc := only(t, s.Compute.Stack, "AWS::ECS::Service")
		deploy := atMap(t, svc, "Properties.DeploymentConfiguration")
		outs := outputsOf(t, s.Compute.Stack)
		names := atList(t, deploy, "Alarms.AlarmNames")
		if len(names) < 2 || !jsonEqual(outs["DeploymentAlarmNames"]["Value"], map[string]interface{}{"Fn::Join": []interface{}{",", names}}) {
			t.Errorf("output DeploymentAlarmNames %v, the service watches %v", outs["DeploymentAlarmNames"]["Value"], names)
		}
		for output, path := range map[string]string{"CanaryBakeMinutes": "CanaryConfiguration.CanaryBakeTimeInMinutes",
			"DeployBakeMinutes": "BakeTimeInMinutes"} {
			if got, want := outs[output]["Value"], fmt.Sprint(number(at(t, deploy, path))); got != want {
				t.Errorf("output %s %v, the service's %s %s", output, got, path, want)
			}
		}
		sources := 0
		for _, rule := range ingressRules(t, s.Compute.Stack) {
			for _, r := range rule {
				if pl, ok := r["SourcePrefixListId"]; ok {
					sources++
					if pl != outs["CloudFrontPrefixListId"]["Value"] {
						t.Errorf("a rule admits %v, output CloudFrontPrefixListId is %v", pl, outs["CloudFrontPrefixListId"]["Value"])
					}
				}
			}
		}
		if sources == 0 {
			t.Error("no rule admits a prefix list: the test checks nothing")
		}
	})
}
