package stacks

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"

	"h2o-infra/config"
)

// domainContext is what adding a domain to a stage sets (README, "Custom domain and the Amplify frontend").
func domainContext(stage string) map[string]string {
	return map[string]string{stage + ".domainName": "h2o.example.com", stage + ".hostedZoneId": "Z0123456789ABCDEFGHIJ"}
}

// buildStages synthesizes both stages with ctx in an App of their own (a stage's name is unique within an App), and
// fails the test on any error or warning annotation (cdk-nag runs in every stage).
func buildStages(t *testing.T, ctx map[string]string) map[string]*H2oStage {
	t.Helper()
	dir, err := os.MkdirTemp("", "h2o-domain-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	app := awscdk.NewApp(&awscdk.AppProps{Context: cdkJSONContext(), Outdir: jsii.String(dir), BuiltinCloudFormationValidation: jsii.Bool(false)})
	out := map[string]*H2oStage{}
	for _, stage := range config.Stages() {
		cfg, err := config.Load(stage, sources(ctx))
		if err != nil {
			t.Fatal(err)
		}
		out[stage] = NewH2oStage(app, cfg)
	}
	for _, stack := range *app.Synth(nil).StacksRecursively() {
		for _, msg := range *stack.Messages() {
			if msg.Level == cxapi.SynthesisMessageLevel_ERROR || msg.Level == cxapi.SynthesisMessageLevel_WARNING {
				t.Errorf("%s %s at %s: %v", *stack.StackName(), msg.Level, *msg.Id, msg.Entry.Data)
			}
		}
	}
	return out
}

// TestAddingADomainKeepsCloudFrontServed: a stage that runs without a domain gets one in two deploys (docs/runbook.md,
// "Adding a domain to a running stage"). A deploy updates compute, then edge, and CloudFront uses the old origin
// until edge has switched, so every compute template must serve the edge template deployed before it and the one
// deployed after it; the load balancer, the production rule ECS manages and the production listener keep their
// logical IDs; the VPC origin is replaced, never updated (newVpcOrigin); and no security group references CloudFront's
// prefix list twice while a deploy runs (checkPrefixListOncePerGroup).
func TestAddingADomainKeepsCloudFrontServed(t *testing.T) {
	// GIVEN each stage without a domain (as built), bridging (the first deploy: prod names the primary target group,
	// dev the alternate one) and with the domain alone (the second deploy)
	bridgeCtx := domainContext("prod")
	for k, v := range domainContext("dev") {
		bridgeCtx[k] = v
	}
	finalCtx := map[string]string{}
	for k, v := range bridgeCtx {
		finalCtx[k] = v
	}
	bridgeCtx["prod.httpOriginTargetGroup"], bridgeCtx["dev.httpOriginTargetGroup"] = config.TargetGroupPrimary, config.TargetGroupAlternate
	bridges, finals := buildStages(t, bridgeCtx), buildStages(t, finalCtx)
	for _, stage := range config.Stages() {
		t.Run(stage, func(t *testing.T) {
			from, bridge, to := built[stage], bridges[stage], finals[stage]
			prefixList := mustLoad(stage, nil).CloudFrontPrefixListID
			// WHEN the templates are compared in deploy order
			steps := []struct {
				name         string
				compute      *H2oStage
				before, next *H2oStage
			}{{"first deploy (bridge)", bridge, from, bridge}, {"second deploy", to, bridge, to}}
			for _, step := range steps {
				// THEN each deploy's compute serves CloudFront both before and after that deploy's edge update
				for _, edge := range []*H2oStage{step.before, step.next} {
					if err := serves(t, step.compute, edge, prefixList); err != nil {
						t.Errorf("%s: compute does not serve the edge it meets: %v", step.name, err)
					}
				}
			}
			// and skipping the bridge would cut CloudFront off until edge switched (why the runbook has two deploys)
			if serves(t, to, from, prefixList) == nil {
				t.Error("the domain's compute still serves the HTTP origin: the test no longer shows why the bridge exists")
			}
			// and the second deploy leaves edge alone
			if mustJSON(templateJSON(bridge.Edge.Stack)) != mustJSON(templateJSON(to.Edge.Stack)) {
				t.Error("edge differs between the bridge and the final templates: the second deploy would update it")
			}
			// and the HTTP VPC origin is replaced by a new HTTPS one, not updated
			fromOrigin, _ := only(t, from.Edge.Stack, "AWS::CloudFront::VpcOrigin")
			toOrigin, _ := only(t, to.Edge.Stack, "AWS::CloudFront::VpcOrigin")
			if !strings.HasPrefix(fromOrigin, "VpcOriginHttp") || !strings.HasPrefix(toOrigin, "VpcOriginHttps") {
				t.Errorf("VPC origins %s -> %s, want a new VpcOriginHttps resource", fromOrigin, toOrigin)
			}
			// and the load balancer, the production listener and the production rule keep their logical IDs, and the
			// service is not touched (no ECS deployment while the origin moves)
			albID, alb := only(t, from.Compute.Stack, "AWS::ElasticLoadBalancingV2::LoadBalancer")
			rule, _, _ := productionRule(t, from)
			serviceID, service := only(t, from.Compute.Stack, "AWS::ECS::Service")
			for _, s := range []*H2oStage{bridge, to} {
				if id, other := only(t, s.Compute.Stack, "AWS::ECS::Service"); id != serviceID || mustJSON(props(other)) != mustJSON(props(service)) {
					t.Errorf("the ECS service %s changes with the domain: an update of the service during the switch", id)
				}
				id, other := only(t, s.Compute.Stack, "AWS::ElasticLoadBalancingV2::LoadBalancer")
				if id != albID || mustJSON(withoutKey(props(other), "SecurityGroups")) != mustJSON(withoutKey(props(alb), "SecurityGroups")) {
					t.Errorf("load balancer %s changed beyond its security groups: %s", id, mustJSON(props(other)))
				}
				if got, _, _ := productionRule(t, s); mustJSON(got) != mustJSON(rule) {
					t.Errorf("the production rule changed (ECS's weights would be reset: aws/aws-cdk#36649): %s", mustJSON(got))
				}
			}
			// and no security group ever references CloudFront's list twice during a deploy (admitCloudFront)
			checkPrefixListOncePerGroup(t, from, bridge, to, prefixList)
			// and the bridge's port-80 listener forwards to the named target group, created after the production
			// listener has left port 80
			checkBridgeListener(t, bridge, stage)
		})
	}
}

// checkBridgeListener: the bridge's HTTP listener on 80 forwards to the target group the stage's setting names and
// depends on the production listener (which holds port 80 until it moves to 443).
func checkBridgeListener(t *testing.T, bridge *H2oStage, stage string) {
	t.Helper()
	want := logicalIDOf(t, bridge.Compute.Stack, bridge.Compute.BackendService.TargetGroup().Node().DefaultChild())
	if stage == "dev" { // dev bridges from the alternate target group (the context above)
		want = logicalIDOf(t, bridge.Compute.Stack, bridge.Compute.AlternateTargetGroup.Node().DefaultChild())
	}
	production := logicalIDOf(t, bridge.Compute.Stack, bridge.Compute.BackendService.Listener().Node().DefaultChild())
	found := 0
	for id, l := range resources(t, bridge.Compute.Stack, "AWS::ElasticLoadBalancingV2::Listener") {
		if props(l)["Port"] != float64(80) {
			continue
		}
		found++
		if got := mustJSON(at(t, l, "Properties.DefaultActions.0")); got != mustJSON(map[string]interface{}{"Type": "forward", "TargetGroupArn": map[string]interface{}{"Ref": want}}) {
			t.Errorf("%s: port-80 listener %s does %s, want a forward to %s", stage, id, got, want)
		}
		if !slices.Contains(atStrings(t, l, "DependsOn"), production) {
			t.Errorf("port-80 listener %s does not wait for the production listener %s to leave port 80", id, production)
		}
	}
	if found != 1 {
		t.Errorf("%d listeners on port 80 in the bridge, want 1", found)
	}
}

// withoutKey is a copy of m without k.
func withoutKey(m map[string]interface{}, k string) map[string]interface{} {
	out := map[string]interface{}{}
	for key, v := range m {
		if key != k {
			out[key] = v
		}
	}
	return out
}

// serves says whether compute's load balancer serves the origin edge's distribution uses: the VPC origin points at
// compute's load balancer; a listener on the origin's protocol and port forwards (with a certificate for the API
// name over HTTPS: CloudFront developer guide, "HTTP 502 status code (Bad Gateway)": the origin's certificate must
// match the origin domain or the Host header, which the distribution forwards); and one of the load balancer's
// security groups admits CloudFront's origin-facing prefix list on that port.
func serves(t *testing.T, compute, edge *H2oStage, prefixList string) error {
	t.Helper()
	_, origin := only(t, edge.Edge.Stack, "AWS::CloudFront::VpcOrigin")
	endpoint := atMap(t, origin, "Properties.VpcOriginEndpointConfig")
	protocol, port := "HTTP", float64(80)
	if endpoint["OriginProtocolPolicy"] == "https-only" {
		protocol, port = "HTTPS", 443
	}
	if p, ok := endpoint[map[string]string{"HTTP": "HTTPPort", "HTTPS": "HTTPSPort"}[protocol]]; ok {
		port = number(p)
	}
	ct := templateJSON(compute.Compute.Stack)
	albID, _ := only(t, compute.Compute.Stack, "AWS::ElasticLoadBalancingV2::LoadBalancer")
	imported := atString(t, endpoint, "Arn.Fn::ImportValue")
	exported := false
	for _, o := range atMap(t, ct, "Outputs") {
		if out, ok := o.(map[string]interface{}); ok && jsonEqual(out["Value"], map[string]interface{}{"Ref": albID}) {
			exported = exported || mustJSON(at(t, out, "Export.Name")) == mustJSON(imported)
		}
	}
	if !exported {
		return fmt.Errorf("the VPC origin imports %s, not compute's load balancer %s", imported, albID)
	}
	aliases := mustJSON(distributionConfig(t, edge)["Aliases"])
	listener := ""
	for id, l := range resources(t, compute.Compute.Stack, "AWS::ElasticLoadBalancingV2::Listener") {
		p := props(l)
		if !jsonEqual(p["LoadBalancerArn"], map[string]interface{}{"Ref": albID}) || p["Port"] != port || p["Protocol"] != protocol ||
			atString(t, l, "Properties.DefaultActions.0.Type") != "forward" {
			continue
		}
		if protocol == "HTTPS" {
			cert := atString(t, l, "Properties.Certificates.0.CertificateArn.Ref")
			if name := atString(t, ct, "Resources."+cert+".Properties.DomainName"); !strings.Contains(aliases, `"`+name+`"`) {
				continue
			}
		}
		listener = id
	}
	if listener == "" {
		return fmt.Errorf("no listener forwards %s on %v (with a certificate for %s)", protocol, port, aliases)
	}
	rules := ingressRules(t, compute.Compute.Stack)
	for _, group := range atList(t, ct, "Resources."+albID+".Properties.SecurityGroups") {
		sg, ok := lookup(group, "Fn::GetAtt.0")
		if !ok {
			continue
		}
		for _, r := range rules[fmt.Sprint(sg)] {
			if r["SourcePrefixListId"] == prefixList && number(r["FromPort"]) <= port && port <= number(r["ToPort"]) {
				return nil
			}
		}
	}
	return fmt.Errorf("listener %s serves %s on %v, but no security group of the load balancer admits CloudFront there", listener, protocol, port)
}
