package stacks

// Contracts on the way of a request: CloudFront → the load balancer's listener → the target group → the container,
// and the image the tasks pull (contracts_test.go has the helpers).

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"

	"h2o-infra/config"
)

// servedContainer is a container an ECS service registers behind a target group.
type servedContainer struct {
	container
	service     stageResource
	port        float64
	targetGroup refTarget
}

// servedContainers are the containers the stage's ECS services put behind a load balancer (Service.LoadBalancers),
// with the port and target group each is registered with: the primary group and, for a canary or blue/green
// service, the alternate one (AdvancedConfiguration.AlternateTargetGroupArn), which holds the live tasks after every
// other deploy.
func servedContainers(t *testing.T, s *H2oStage) []servedContainer {
	t.Helper()
	all := containers(t, s)
	var out []servedContainer
	for _, svc := range stageResources(t, s, "AWS::ECS::Service") {
		task, ok := resolveRef(t, s, svc.stack, props(svc.r)["TaskDefinition"])
		if !ok {
			t.Fatalf("service %s runs no task definition of the stage", svc.id)
		}
		for _, lb := range optMaps(t, svc.r, "Properties.LoadBalancers") {
			i := slices.IndexFunc(all, func(c container) bool {
				return c.task.target("").same(task) && c.def["Name"] == lb["ContainerName"]
			})
			tg, tgOK := resolveRef(t, s, svc.stack, lb["TargetGroupArn"])
			if i < 0 || !tgOK {
				t.Fatalf("service %s registers container %v (target group %v), which its task definition does not have", svc.id, lb["ContainerName"], lb["TargetGroupArn"])
			}
			out = append(out, servedContainer{all[i], svc, number(lb["ContainerPort"]), tg})
			if advanced, ok := lb["AdvancedConfiguration"].(map[string]interface{}); ok {
				alternate, ok := resolveRef(t, s, svc.stack, advanced["AlternateTargetGroupArn"])
				if !ok {
					t.Fatalf("service %s: AdvancedConfiguration names no alternate target group of the stage: %v", svc.id, advanced)
				}
				out = append(out, servedContainer{all[i], svc, number(lb["ContainerPort"]), alternate})
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no service puts a container behind a load balancer: the contract checks nothing")
	}
	return out
}

// TestLoadBalancerChecksWhatTheContainerServes: the port an ECS service registers a container on is a port the
// container maps and the one it is told to listen on (PORT); the target group checks health on that port
// (traffic-port: ELB API reference, "CreateTargetGroup", HealthCheckPort), with the scheme and path the container's
// own health check requests of itself; and the tasks' security group admits the load balancer on that port. A target
// group checking a path the app does not serve marks every target unhealthy and every deploy rolls back.
func TestLoadBalancerChecksWhatTheContainerServes(t *testing.T) {
	forEachContractBuild(t, func(t *testing.T, s *H2oStage, _ *config.Config) {
		for _, c := range servedContainers(t, s) {
			// GIVEN a served container, its target group and its health check
			tg := props(c.targetGroup.resource(t))
			mapped := false
			for _, m := range optMaps(t, c.def, "PortMappings") {
				mapped = mapped || number(m["ContainerPort"]) == c.port
			}
			// WHEN they are compared THEN port, scheme and path agree
			if !mapped || number(c.env["PORT"]) != c.port {
				t.Errorf("%s: registered on %v, maps it: %v, told PORT=%v", c, c.port, mapped, c.env["PORT"])
			}
			if hc := tg["HealthCheckPort"]; hc != nil && hc != "traffic-port" && number(hc) != c.port {
				t.Errorf("%s: the target group checks port %v, the container serves %v", c, hc, c.port)
			}
			command := strings.Join(atStrings(t, c.def, "HealthCheck.Command"), " ")
			url := healthURLRe.FindStringSubmatch(command)
			if url == nil {
				t.Fatalf("%s: its health check %q requests no http://localhost URL", c, command)
			}
			protocol := tg["HealthCheckProtocol"]
			if protocol == nil {
				protocol = tg["Protocol"]
			}
			if !strings.HasPrefix(url[0], strings.ToLower(fmt.Sprint(protocol))+"://") || number(url[1]) != c.port {
				t.Errorf("%s: its health check requests %s, the target group checks %v on port %v", c, url[0], protocol, c.port)
			}
			if path := tg["HealthCheckPath"]; path != url[2] {
				t.Errorf("%s: the target group checks path %v, the container's health check serves %s", c, path, url[2])
			}
			var lbGroups []interface{}
			for _, lb := range loadBalancersOf(t, s, c.targetGroup) {
				lbGroups = append(lbGroups, optList(t, lb.resource(t), "Properties.SecurityGroups")...)
			}
			var sources []refTarget
			for _, g := range lbGroups {
				if target, ok := resolveRef(t, s, c.targetGroup.stack, g); ok {
					sources = append(sources, target)
				}
			}
			if len(sources) == 0 || !anyAdmits(t, s, c.service.stack, optList(t, c.service.r,
				"Properties.NetworkConfiguration.AwsvpcConfiguration.SecurityGroups"), sources, c.port) {
				t.Errorf("%s: the tasks' security group does not admit the load balancer on %v", c, c.port)
			}
		}
	})
}

// listener is a load balancer listener with what it forwards to.
type listener struct {
	stageResource
	lb refTarget
	// forwardsTo are the target groups its forward actions name: default actions and its rules' (the canary's
	// production rule forwards to both of the service's groups).
	forwardsTo []refTarget
}

// forwardTargets are the target groups of forward actions, single (TargetGroupArn) or weighted
// (ForwardConfig.TargetGroups).
func forwardTargets(t *testing.T, s *H2oStage, stack awscdk.Stack, actions []map[string]interface{}) []refTarget {
	t.Helper()
	var out []refTarget
	for _, action := range actions {
		if action["Type"] != "forward" {
			continue
		}
		arns := []interface{}{action["TargetGroupArn"]}
		if cfg, ok := action["ForwardConfig"].(map[string]interface{}); ok {
			groups, _ := cfg["TargetGroups"].([]interface{})
			for _, g := range groups {
				if g, ok := g.(map[string]interface{}); ok {
					arns = append(arns, g["TargetGroupArn"])
				}
			}
		}
		for _, arn := range arns {
			if tg, ok := resolveRef(t, s, stack, arn); ok {
				out = append(out, tg)
			}
		}
	}
	return out
}

func listeners(t *testing.T, s *H2oStage) []listener {
	t.Helper()
	var out []listener
	for _, l := range stageResources(t, s, "AWS::ElasticLoadBalancingV2::Listener") {
		lb, _ := resolveRef(t, s, l.stack, props(l.r)["LoadBalancerArn"])
		item := listener{stageResource: l, lb: lb}
		item.forwardsTo = forwardTargets(t, s, l.stack, optMaps(t, l.r, "Properties.DefaultActions"))
		for _, rule := range stageResources(t, s, "AWS::ElasticLoadBalancingV2::ListenerRule") {
			if of, ok := resolveRef(t, s, rule.stack, props(rule.r)["ListenerArn"]); ok && of.same(l.target("")) {
				item.forwardsTo = append(item.forwardsTo, forwardTargets(t, s, rule.stack, optMaps(t, rule.r, "Properties.Actions"))...)
			}
		}
		out = append(out, item)
	}
	return out
}

// loadBalancersOf are the load balancers whose listeners forward to a target group.
func loadBalancersOf(t *testing.T, s *H2oStage, tg refTarget) []refTarget {
	t.Helper()
	var out []refTarget
	for _, l := range listeners(t, s) {
		if slices.ContainsFunc(l.forwardsTo, tg.same) {
			out = append(out, l.lb)
		}
	}
	return out
}

// TestCloudFrontReachesTheServiceThroughAListener: each VPC origin of the distribution names the stage's load
// balancer, which has a listener on the port and protocol the origin's policy uses (http-only: HTTPPort, default
// 80; https-only: HTTPSPort, default 443: CloudFront API reference, "VpcOriginEndpointConfig") that forwards to a
// target group a service registers its containers in; the load balancer admits CloudFront's origin-facing prefix
// list on that port; and over HTTPS the listener's certificate names every alias of the distribution (CloudFront
// forwards the viewer's Host and matches the origin certificate against it: CloudFront developer guide, "Require
// HTTPS for communication between CloudFront and your custom origin").
func TestCloudFrontReachesTheServiceThroughAListener(t *testing.T) {
	forEachContractBuild(t, func(t *testing.T, s *H2oStage, _ *config.Config) {
		dist := onlyOf(t, s, "AWS::CloudFront::Distribution")
		served := map[string]bool{}
		for _, c := range servedContainers(t, s) {
			served[c.targetGroup.String()] = true
		}
		origins := 0
		for _, origin := range optMaps(t, dist.r, "Properties.DistributionConfig.Origins") {
			if origin["VpcOriginConfig"] == nil {
				continue
			}
			origins++
			// GIVEN the VPC origin and the load balancer it names
			vo, ok := resolveRef(t, s, dist.stack, at(t, origin, "VpcOriginConfig.VpcOriginId"))
			if !ok {
				t.Fatalf("origin %v names no VPC origin of the stage", origin["Id"])
			}
			endpoint := atMap(t, vo.resource(t), "Properties.VpcOriginEndpointConfig")
			lb, _ := resolveRef(t, s, vo.stack, endpoint["Arn"])
			protocol, port := originProtocol(t, endpoint)
			// WHEN the listeners of that load balancer are read THEN one serves that port and protocol to the service
			var found *listener
			for _, l := range listeners(t, s) {
				if l.lb.same(lb) && number(props(l.r)["Port"]) == port {
					found = &l
				}
			}
			if found == nil {
				t.Fatalf("CloudFront connects to %s on %v (%s); it has no listener there", lb, port, protocol)
			}
			if props(found.r)["Protocol"] != protocol || !slices.ContainsFunc(found.forwardsTo, func(tg refTarget) bool { return served[tg.String()] }) {
				t.Errorf("listener %s on %v: protocol %v, forwards to %v; CloudFront speaks %s and needs the service",
					found.id, port, props(found.r)["Protocol"], found.forwardsTo, protocol)
			}
			admitted := false
			for _, g := range optList(t, lb.resource(t), "Properties.SecurityGroups") {
				group, _ := resolveRef(t, s, lb.stack, g)
				for _, rule := range ingressOf(t, s, group) {
					admitted = admitted || (rule["SourcePrefixListId"] != nil && number(rule["FromPort"]) <= port && port <= number(rule["ToPort"]))
				}
			}
			if !admitted {
				t.Errorf("the load balancer's security groups do not admit CloudFront's prefix list on %v", port)
			}
			if protocol == "HTTPS" {
				certificateCoversAliases(t, s, *found, optList(t, dist.r, "Properties.DistributionConfig.Aliases"))
			}
		}
		if origins == 0 {
			t.Error("the distribution has no VPC origin: the contract checks nothing")
		}
	})
}

// originProtocol is the protocol and port CloudFront uses towards a VPC origin.
func originProtocol(t *testing.T, endpoint map[string]interface{}) (string, float64) {
	t.Helper()
	switch endpoint["OriginProtocolPolicy"] {
	case "http-only":
		if p := endpoint["HTTPPort"]; p != nil {
			return "HTTP", number(p)
		}
		return "HTTP", 80
	case "https-only":
		if p := endpoint["HTTPSPort"]; p != nil {
			return "HTTPS", number(p)
		}
		return "HTTPS", 443
	}
	t.Fatalf("origin protocol policy %v: the test knows http-only and https-only", endpoint["OriginProtocolPolicy"])
	return "", 0
}

// ingressOf lists the ingress rules of a security group: inline, and separate ingress resources of any stack.
func ingressOf(t *testing.T, s *H2oStage, group refTarget) []map[string]interface{} {
	t.Helper()
	if group.stack == nil {
		return nil
	}
	out := optMaps(t, group.resource(t), "Properties.SecurityGroupIngress")
	for _, in := range stageResources(t, s, "AWS::EC2::SecurityGroupIngress") {
		if target, _ := resolveRef(t, s, in.stack, props(in.r)["GroupId"]); target.same(group) {
			out = append(out, props(in.r))
		}
	}
	return out
}

// certificateCoversAliases: the listener's certificate (an ACM certificate of the stage) names every alias.
func certificateCoversAliases(t *testing.T, s *H2oStage, l listener, aliases []interface{}) {
	t.Helper()
	certs := optMaps(t, l.r, "Properties.Certificates")
	if len(certs) == 0 || len(aliases) == 0 {
		t.Errorf("an HTTPS listener (%d certificates) behind a distribution with aliases %v", len(certs), aliases)
		return
	}
	cert, ok := resolveRef(t, s, l.stack, certs[0]["CertificateArn"])
	if !ok {
		t.Fatalf("listener %s: its certificate is not one of the stage", l.id)
	}
	p := props(cert.resource(t))
	names := append([]interface{}{p["DomainName"]}, list(p["SubjectAlternativeNames"])...)
	for _, alias := range aliases {
		if !slices.Contains(names, alias) {
			t.Errorf("the listener's certificate names %v, not the distribution's alias %v", names, alias)
		}
	}
}

// TestServedContainersAreToldTheTimeoutsInFrontOfThem: a served container's REQUEST_TIMEOUT_SECONDS is the
// distribution's origin read timeout towards its load balancer (CloudFront answers 504 after it), its
// KEEPALIVE_SECONDS outlives the load balancer's idle timeout (ALB user guide, "Connection idle timeout": otherwise
// the app may close a connection the ALB reuses, a 502), and its target group drains a leaving task at least as long
// as a request may take.
func TestServedContainersAreToldTheTimeoutsInFrontOfThem(t *testing.T) {
	forEachContractBuild(t, func(t *testing.T, s *H2oStage, _ *config.Config) {
		dist := onlyOf(t, s, "AWS::CloudFront::Distribution")
		for _, c := range servedContainers(t, s) {
			lbs := loadBalancersOf(t, s, c.targetGroup)
			if len(lbs) == 0 {
				t.Errorf("%s: no load balancer forwards to its target group", c)
			}
			for _, lb := range lbs {
				// GIVEN the origin whose VPC origin names the container's load balancer
				read := -1.0
				for _, origin := range optMaps(t, dist.r, "Properties.DistributionConfig.Origins") {
					vo, ok := resolveRef(t, s, dist.stack, cfnGet(origin, "VpcOriginConfig.VpcOriginId"))
					if !ok {
						continue // not a VPC origin
					}
					if target, _ := resolveRef(t, s, vo.stack, cfnGet(vo.resource(t), "Properties.VpcOriginEndpointConfig.Arn")); target.same(lb) {
						read = number(at(t, origin, "VpcOriginConfig.OriginReadTimeout"))
					}
				}
				idle := number(keyValue(props(lb.resource(t))["LoadBalancerAttributes"], "idle_timeout.timeout_seconds"))
				drain := number(keyValue(props(c.targetGroup.resource(t))["TargetGroupAttributes"], "deregistration_delay.timeout_seconds"))
				// WHEN compared with what the container is told THEN each outlives the hop in front of it
				told, keepalive := number(c.env["REQUEST_TIMEOUT_SECONDS"]), number(c.env["KEEPALIVE_SECONDS"])
				if read <= 0 || told != read {
					t.Errorf("%s: REQUEST_TIMEOUT_SECONDS %v, CloudFront's read timeout towards its load balancer %v", c, c.env["REQUEST_TIMEOUT_SECONDS"], read)
				}
				if idle <= 0 || keepalive <= idle {
					t.Errorf("%s: KEEPALIVE_SECONDS %v does not outlive the load balancer's idle timeout %v", c, c.env["KEEPALIVE_SECONDS"], idle)
				}
				if drain < told {
					t.Errorf("%s: drained %v s, a request may take %v s", c, drain, told)
				}
			}
		}
	})
}

// cfnGet is the value at a path, nil when a step is missing.
func cfnGet(v interface{}, path string) interface{} {
	found, _ := lookup(v, path)
	return found
}

// ecrImageRe reads the repository of an ECR image URI's literal part: ".../<repository>:" before the tag.
var ecrImageRe = regexp.MustCompile(`^/([a-z0-9._/-]+):$`)

// TestEveryStagePullsTheRepositoryCiCreates: every container image from ECR names a repository h2o-ci creates
// (stacks in a stage cannot reference h2o-ci, so compute finds it by name), and the task's execution role may pull
// from exactly that repository.
func TestEveryStagePullsTheRepositoryCiCreates(t *testing.T) {
	var repositories []string
	for _, repo := range resources(t, ci.Stack, "AWS::ECR::Repository") {
		repositories = append(repositories, fmt.Sprint(props(repo)["RepositoryName"]))
	}
	forEachContractBuild(t, func(t *testing.T, s *H2oStage, _ *config.Config) {
		pulled := 0
		for _, c := range containers(t, s) {
			parts, isJoin := lookup(c.def["Image"], "Fn::Join.1")
			if !isJoin || !strings.Contains(mustJSON(parts), ".dkr.ecr.") {
				continue // a public image (busybox, the X-Ray daemon)
			}
			pulled++
			var repo string
			for _, part := range list(parts) {
				if m := ecrImageRe.FindStringSubmatch(fmt.Sprint(part)); m != nil {
					repo = m[1]
				}
			}
			if !slices.Contains(repositories, repo) {
				t.Errorf("%s pulls from repository %q; h2o-ci creates %v", c, repo, repositories)
			}
			role, _ := resolveRef(t, s, c.task.stack, props(c.task.r)["ExecutionRoleArn"])
			if !roleMayPull(t, role, repo) {
				t.Errorf("%s: its execution role %s may not pull from %q", c, role, repo)
			}
		}
		if pulled == 0 {
			t.Error("no container pulls from ECR: the contract checks nothing")
		}
	})
}

// roleMayPull: a policy attached to the role allows ecr:BatchGetImage on the repository's ARN.
func roleMayPull(t *testing.T, role refTarget, repo string) bool {
	t.Helper()
	if role.stack == nil {
		return false
	}
	for _, st := range roleStatements(t, role.stack, role.id) {
		if st["Effect"] == "Allow" && slices.Contains(atStrings(t, st, "Action"), "ecr:BatchGetImage") &&
			strings.Contains(mustJSON(st["Resource"]), `:repository/`+repo+`"`) {
			return true
		}
	}
	return false
}
