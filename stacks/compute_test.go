package stacks

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"h2o-infra/config"
	"h2o-infra/cost"
	"h2o-infra/internal/timing"
)

func TestClusterHasInsightsAndBothFargateCapacityProviders(t *testing.T) {
	// GIVEN each stage WHEN compute is synthesized THEN the cluster has enhanced Container Insights and both Fargate
	// capacity providers
	forEachStage(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		tm := tmpl(s.Compute.Stack)
		expect(t, "cluster", func() {
			tm.HasResourceProperties(jsii.String("AWS::ECS::Cluster"), &map[string]interface{}{
				"ClusterName":     "h2o-" + cfg.Stage,
				"ClusterSettings": []interface{}{map[string]interface{}{"Name": "containerInsights", "Value": "enhanced"}},
			})
		})
		expect(t, "capacity providers", func() {
			tm.HasResourceProperties(jsii.String("AWS::ECS::ClusterCapacityProviderAssociations"), &map[string]interface{}{
				"CapacityProviders": []interface{}{"FARGATE", "FARGATE_SPOT"},
			})
		})
	})
}

func TestBackendServiceDeploysWithoutDowntimeAndRollsBack(t *testing.T) {
	// GIVEN each stage WHEN compute is synthesized THEN the service rolls out at 100/200 %, rolls back on the circuit
	// breaker or its alarms, and runs in the stage's subnets behind the ALB
	forEachStage(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		_, svc := only(t, s.Compute.Stack, "AWS::ECS::Service")
		p := props(svc)
		deploy := atMap(t, p, "DeploymentConfiguration")
		wantAlarms := []interface{}{
			map[string]interface{}{"Ref": logicalIDOf(t, s.Compute.Stack, s.Compute.ErrorRateAlarm.Node().DefaultChild())},
			map[string]interface{}{"Ref": logicalIDOf(t, s.Compute.Stack, s.Compute.UnhealthyHostsAlarm.Node().DefaultChild())},
		}
		for k, v := range map[string]interface{}{
			"MinimumHealthyPercent": float64(100), "MaximumPercent": float64(200),
			// CloudFormation's shape, capitalized (CloudFormation template reference, "AWS::ECS::Service
			// DeploymentCircuitBreaker" and "ThresholdConfiguration"): a crash loop fails after the stage's count.
			"DeploymentCircuitBreaker": map[string]interface{}{"Enable": true, "Rollback": true, "ResetOnHealthyTask": false,
				"ThresholdConfiguration": map[string]interface{}{"Type": "COUNT", "Value": float64(cfg.DeployFailureThreshold)}},
			"Alarms": map[string]interface{}{"AlarmNames": wantAlarms, "Enable": true, "Rollback": true},
		} {
			if !jsonEqual(deploy[k], v) {
				t.Errorf("deployment %s = %v, want %v", k, deploy[k], v)
			}
		}
		if p["ServiceName"] != "h2o-backend-service" || p["DesiredCount"] != float64(cfg.MinTasks) || p["EnableExecuteCommand"] != true {
			t.Errorf("service name %v, desired %v, exec %v", p["ServiceName"], p["DesiredCount"], p["EnableExecuteCommand"])
		}
		// prod: private app subnets behind NAT; dev (no NAT): public subnets with a public IP, the tasks' route to
		// ECR (ECS developer guide, "Amazon ECS task networking options for Fargate").
		vpc := atMap(t, p, "NetworkConfiguration.AwsvpcConfiguration")
		wantIP, wantSubnet := "DISABLED", "appSubnet"
		if cfg.NatGateways == 0 {
			wantIP, wantSubnet = "ENABLED", "publicSubnet"
		}
		if vpc["AssignPublicIp"] != wantIP || !strings.Contains(mustJSON(vpc["Subnets"]), wantSubnet) {
			t.Errorf("tasks: want %s with public IP %s, got %v", wantSubnet, wantIP, vpc)
		}
		// Either way the tasks admit only the load balancer.
		taskRules := ingressRules(t, s.Compute.Stack)[securityGroupID(t, s.Compute.Stack, s.Compute.BackendService.Service().Connections())]
		lb := securityGroupID(t, s.Compute.Stack, s.Compute.BackendService.LoadBalancer().Connections())
		if len(taskRules) == 0 {
			t.Error("the tasks admit nothing, not even the load balancer")
		}
		for _, rule := range taskRules {
			if !jsonEqual(rule["SourceSecurityGroupId"], map[string]interface{}{"Fn::GetAtt": []interface{}{lb, "GroupId"}}) {
				t.Errorf("task ingress from something other than the ALB: %v", rule)
			}
		}
		// dev: every task on Spot; prod: one task always on regular Fargate, the rest on Spot.
		wantBase := map[string]float64{"dev": 0, "prod": 1}[cfg.Stage]
		want := []interface{}{map[string]interface{}{"Base": wantBase, "CapacityProvider": "FARGATE", "Weight": float64(0)},
			map[string]interface{}{"CapacityProvider": "FARGATE_SPOT", "Weight": float64(1)}}
		if !jsonEqual(p["CapacityProviderStrategy"], want) {
			t.Errorf("capacity strategy %v, want %v", p["CapacityProviderStrategy"], want)
		}
		if p["HealthCheckGracePeriodSeconds"] != float64(cfg.HealthCheckGraceSeconds) {
			t.Errorf("grace period %v", p["HealthCheckGracePeriodSeconds"])
		}
	})
}

func TestDeploymentAlarmsWatchErrorRateAndUnhealthyHosts(t *testing.T) {
	// GIVEN each stage WHEN compute is synthesized THEN the deployment alarms watch the 5xx rate (each target group's,
	// and the ALB's own, above a minimum of traffic) and unhealthy hosts every minute
	forEachStage(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		errorRate := props(resourceOf(t, s.Compute.Stack, s.Compute.ErrorRateAlarm))
		if errorRate["AlarmName"] != "h2o-"+cfg.Stage+"-error-rate" || errorRate["Threshold"] != float64(1) ||
			errorRate["ComparisonOperator"] != "GreaterThanThreshold" || errorRate["TreatMissingData"] != "notBreaching" {
			t.Errorf("error-rate alarm %v", errorRate)
		}
		// Each target group's target 5xx over its own requests, and the load balancer's own 5xx over the requests of
		// both groups (its RequestCount is their sum); below the floor a rate is 0.
		expr := mustJSON(errorRate["Metrics"])
		floor := cfg.ErrorRateMinRequests
		all := `(FILL(requests0, 0) + FILL(requests1, 0) + FILL(elb5xx, 0))`
		for _, want := range []string{
			fmt.Sprintf(`IF(FILL(requests0, 0) \u003e= %d, 100 * FILL(target5xx0, 0) / FILL(requests0, 0), 0)`, floor),
			fmt.Sprintf(`IF(FILL(requests1, 0) \u003e= %d, 100 * FILL(target5xx1, 0) / FILL(requests1, 0), 0)`, floor),
			fmt.Sprintf(`IF(%s \u003e= %d, 100 * FILL(elb5xx, 0) / %s, 0)`, all, floor, all),
			`"MetricName":"HTTPCode_Target_5XX_Count"`, `"MetricName":"HTTPCode_ELB_5XX_Count"`, `"Period":60`} {
			if !strings.Contains(expr, want) {
				t.Errorf("error-rate metrics lack %s: %s", want, expr)
			}
		}
		// An alarm's expression may reference at most 10 metrics (CloudWatch user guide, "Limits that apply to alarms
		// based on metric math expressions").
		inputs := 0
		for _, m := range optMaps(t, errorRate, "Metrics") {
			if _, ok := m["MetricStat"]; ok {
				inputs++
			}
		}
		if inputs != 5 {
			t.Errorf("error-rate alarm has %d metrics, want 5 (2 groups × 2, and the load balancer's 5xx; billed per metric, at most 10)", inputs)
		}
		// Unhealthy targets in either target group: a canary deploy starts the new tasks in the one without traffic.
		unhealthy := props(resourceOf(t, s.Compute.Stack, s.Compute.UnhealthyHostsAlarm))
		if unhealthy["Threshold"] != float64(1) || unhealthy["ComparisonOperator"] != "GreaterThanOrEqualToThreshold" ||
			!strings.Contains(mustJSON(unhealthy["Metrics"]), `"Expression":"MAX([FILL(primary, 0), FILL(alternate, 0)])"`) {
			t.Errorf("unhealthy-host alarm %v", unhealthy)
		}
		groups := map[string]bool{}
		for _, m := range optMaps(t, unhealthy, "Metrics") {
			if stat, ok := m["MetricStat"].(map[string]interface{}); ok {
				if stat["Stat"] != "Minimum" || stat["Period"] != float64(60) || at(t, stat, "Metric.MetricName") != "UnHealthyHostCount" {
					t.Errorf("unhealthy-host input %v", stat)
				}
				groups[atString(t, stat, "Metric.Dimensions.1.Value.Fn::GetAtt.0")] = true
			}
		}
		for id := range resources(t, s.Compute.Stack, "AWS::ElasticLoadBalancingV2::TargetGroup") {
			if !groups[id] {
				t.Errorf("the unhealthy-host alarm does not watch target group %s (it watches %v)", id, groups)
			}
		}
		// One 1-minute datapoint each: detection within the canary bake (make timing).
		for _, alarm := range []map[string]interface{}{errorRate, unhealthy} {
			if alarm["EvaluationPeriods"] != float64(1) || alarm["DatapointsToAlarm"] != float64(1) {
				t.Errorf("%v: %v of %v datapoints", alarm["AlarmName"], alarm["DatapointsToAlarm"], alarm["EvaluationPeriods"])
			}
		}
	})
}

// TestRolloutMeetsTheTimingTargets runs the deploy timing model (make timing) on every stage's synthesized
// compute template: a healthy deploy is done within 5 minutes of its tasks starting; every deployment alarm
// detects within 3 minutes and at least 30 s before ECS stops watching (metric lag assumed 60 s:
// timing.MetricLagSeconds); a release answering 5xx has a blast radius of at most 1.0 (share of requests ×
// minutes until the old release is back); a normal start is never marked unhealthy; a crash loop is rolled back by
// the circuit breaker within 3 minutes. A later edit of any of these values cannot break it silently.
func TestRolloutMeetsTheTimingTargets(t *testing.T) {
	// GIVEN each compute template WHEN the timing model runs on it THEN it reports no problem
	forEachBuild(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		rollout, err := timing.Read(templateJSON(s.Compute.Stack))
		if err != nil {
			t.Fatal(err)
		}
		report := timing.Model(rollout, cost.UsageFor(cfg.Stage).RequestsPerMinute())
		for _, problem := range report.Problems() {
			t.Error(problem)
		}
		if len(rollout.Alarms) != 2 {
			t.Errorf("%d deployment alarms, want error rate and unhealthy hosts", len(rollout.Alarms))
		}
	})
}

// TestREADMEStatesTheModelledTimings: README's sentence of prod's figures is the model's for the default config
// (make timing writes it), so a change that moves a figure fails here until README says so.
func TestREADMEStatesTheModelledTimings(t *testing.T) {
	// GIVEN prod's compute template and README's timing-summary section
	prod, ok := built["prod"]
	if !ok {
		t.Fatal("no prod stage built")
	}
	rollout, err := timing.Read(templateJSON(prod.Compute.Stack))
	if err != nil {
		t.Fatal(err)
	}
	want := timing.Model(rollout, cost.UsageFor("prod").RequestsPerMinute()).Summary()
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, found := strings.Cut(string(readme), "<!-- timing-summary:begin")
	section, _, closed := strings.Cut(section, "<!-- timing-summary:end -->")
	if !found || !closed {
		t.Fatal("README.md has no timing-summary:begin ... timing-summary:end section")
	}
	_, section, _ = strings.Cut(section, "-->")
	// WHEN compared word for word THEN they agree
	if got := strings.Join(strings.Fields(section), " "); got != want {
		t.Errorf("README.md says:\n  %s\nthe model says:\n  %s\nrun make timing", got, want)
	}
}

// TestCanaryErrorRateJudgesEachTargetGroup: during a canary only CanaryPercent of the requests reach the new tasks;
// an error rate over the whole load balancer would dilute their errors with the old tasks' good answers (a 10 %
// canary would have to fail 10 times the threshold). The timing model reads the alarm as the template states it.
func TestCanaryErrorRateJudgesEachTargetGroup(t *testing.T) {
	// GIVEN each build WHEN its deployment alarms are read as the timing model reads them THEN while the canary gets
	// less than every request, the alarm watching 5xx judges each of the service's target groups by itself, and the
	// canary's share of the stage's assumed traffic clears its floor
	forEachBuild(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		rollout, err := timing.Read(templateJSON(s.Compute.Stack))
		if err != nil {
			t.Fatal(err)
		}
		if rollout.CanaryPercent >= 100 {
			t.Fatalf("canary %g %%: the test needs a canary share", rollout.CanaryPercent)
		}
		judged := 0
		for _, a := range rollout.Alarms {
			if !a.Watches5xx {
				continue
			}
			judged++
			if !a.PerTargetGroup {
				t.Errorf("%s judges the whole load balancer while the canary gets %g %% of the requests: %s", a.Name, rollout.CanaryPercent, a.Expression)
			}
			canary := cost.UsageFor(cfg.Stage).RequestsPerMinute() * rollout.CanaryPercent / 100
			if a.MinRequestsPerMinute != float64(cfg.ErrorRateMinRequests) || canary < a.MinRequestsPerMinute {
				t.Errorf("%s: floor %g a minute (setting %d), the canary gets %.1f", a.Name, a.MinRequestsPerMinute, cfg.ErrorRateMinRequests, canary)
			}
		}
		if judged != 1 {
			t.Errorf("%d deployment alarms watch 5xx, want the error rate", judged)
		}
	})
}

func TestBackendTasksShareTheContainerContract(t *testing.T) {
	forEachStage(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		var roles []string
		for family, param := range map[string]string{"h2o-backend-" + cfg.Stage: "ImageTag", "h2o-backend-migrate-" + cfg.Stage: "MigrationImageTag"} {
			// GIVEN each task definition of the backend image WHEN read THEN it is the design's task, hardened,
			// with every credential from Secrets Manager and the image from its own tag parameter
			p := taskDefinition(t, s.Compute.Stack, family)
			if p["Cpu"] != "2048" || p["Memory"] != "4096" || !jsonEqual(p["RuntimePlatform"],
				map[string]interface{}{"CpuArchitecture": "ARM64", "OperatingSystemFamily": "LINUX"}) {
				t.Errorf("%s: size/platform %v %v %v", family, p["Cpu"], p["Memory"], p["RuntimePlatform"])
			}
			roles = append(roles, mustJSON([]interface{}{p["TaskRoleArn"], p["ExecutionRoleArn"]}))
			c := containerOf(t, p, "backend")
			env := envOf(t, c)
			if env["WORKERS"] != "6" || env["PORT"] != "8000" || env["STAGE"] != cfg.Stage {
				t.Errorf("%s: environment %v", family, env)
			}
			for name := range env {
				if strings.Contains(name, "PASSWORD") || strings.Contains(name, "TOKEN") || strings.Contains(name, "KEY") {
					t.Errorf("%s: secret-looking %s is a plain environment variable", family, name)
				}
			}
			secrets := map[string]string{}
			for _, sec := range optMaps(t, c, "Secrets") {
				secrets[atString(t, sec, "Name")] = mustJSON(sec["ValueFrom"])
			}
			for name, from := range map[string]string{"DB_USERNAME": "MasterUserSecret", "DB_PASSWORD": "MasterUserSecret",
				"REDIS_AUTH_TOKEN": "CacheAuthToken", "AI_API_KEY": "AppSecret"} {
				if !strings.Contains(secrets[name], from) {
					t.Errorf("%s: secret %s comes from %q, want the %s secret", family, name, secrets[name], from)
				}
			}
			if c["User"] != "1000" { // the rest of the hardening: TestEveryContainerIsHardened
				t.Errorf("%s: runs as user %v, want 1000", family, c["User"])
			}
			// The image tag is a parameter, never a literal: no `latest`, and no template change per image.
			if img := mustJSON(c["Image"]); !strings.Contains(img, `/h2o-backend:",{"Ref":"`+param+`"}`) {
				t.Errorf("%s: image %s, want h2o-backend:<%s parameter>", family, img, param)
			}
		}
		if len(roles) != 2 || roles[0] != roles[1] {
			t.Errorf("the service and migration tasks do not share their task and execution roles: %v", roles)
		}
		service := containerOf(t, taskDefinition(t, s.Compute.Stack, "h2o-backend-"+cfg.Stage), "backend")
		if hc := mustJSON(service["HealthCheck"]); !strings.Contains(hc, "localhost:8000/health") || service["PortMappings"] == nil {
			t.Errorf("service container: health check %s, ports %v", hc, service["PortMappings"])
		}
		migrate := containerOf(t, taskDefinition(t, s.Compute.Stack, "h2o-backend-migrate-"+cfg.Stage), "backend")
		if !jsonEqual(migrate["Command"], []interface{}{"alembic", "upgrade", "head"}) || migrate["PortMappings"] != nil {
			t.Errorf("migration container: command %v, ports %v", migrate["Command"], migrate["PortMappings"])
		}
		expect(t, "log group", func() {
			tmpl(s.Compute.Stack).HasResourceProperties(jsii.String("AWS::Logs::LogGroup"), &map[string]interface{}{
				"LogGroupName": "/aws/ecs/h2o-backend-" + cfg.Stage, "RetentionInDays": cfg.LogRetentionDays})
		})
	})
}

func TestEveryContainerIsHardened(t *testing.T) {
	// GIVEN every container of every task definition of the app WHEN read THEN none is privileged, only a
	// non-essential init container runs as root, and each has a read-only root filesystem (Security Hub ECS.5)
	containers := 0
	for _, stack := range appStacks() {
		for id, task := range resources(t, stack, "AWS::ECS::TaskDefinition") {
			for _, c := range optMaps(t, task, "Properties.ContainerDefinitions") {
				containers++
				name := fmt.Sprint(c["Name"])
				root := c["User"] == nil || c["User"] == "0" || c["User"] == "root"
				if c["Privileged"] == true || (root && c["Essential"] != false) {
					t.Errorf("%s %s %s: privileged %v, user %v, essential %v", *stack.StackName(), id, name, c["Privileged"], c["User"], c["Essential"])
				}
				if c["ReadonlyRootFilesystem"] != true {
					t.Errorf("%s %s %s: writable root filesystem", *stack.StackName(), id, name)
				}
			}
		}
	}
	if containers == 0 {
		t.Error("no container found")
	}
}

// TestEveryNonRootContainerCanWriteItsScratchVolumes: ECS creates bind-mount volumes owned by root with mode
// 0755 (ECS developer guide, "Bind mounts"), so for every container of the app that runs as a user other than
// root on a read-only root filesystem, each writable mount must be opened first by a root init container that
// mounts the same volume and that the container waits on (dependsOn SUCCESS).
func TestEveryNonRootContainerCanWriteItsScratchVolumes(t *testing.T) {
	// GIVEN every task definition of the app WHEN its non-root containers with a read-only root are read THEN each
	// writable mount is opened by a root init container they wait on
	checked := 0
	for _, stack := range appStacks() {
		for id, task := range resources(t, stack, "AWS::ECS::TaskDefinition") {
			containers := map[string]map[string]interface{}{}
			for _, c := range optMaps(t, task, "Properties.ContainerDefinitions") {
				containers[fmt.Sprint(c["Name"])] = c
			}
			for name, c := range containers {
				if c["ReadonlyRootFilesystem"] != true || c["User"] == "0" || c["User"] == "root" {
					continue
				}
				for _, m := range optMaps(t, c, "MountPoints") {
					if m["ReadOnly"] == true {
						continue
					}
					checked++
					if !preparedBy(t, c, containers, m) {
						t.Errorf("%s %s: container %s (user %v) cannot write %v: no root init container it waits on opens it",
							*stack.StackName(), id, name, c["User"], m["ContainerPath"])
					}
				}
			}
		}
	}
	if checked == 0 {
		t.Error("no writable mount found: the test checks nothing")
	}
}

// preparedBy: one of c's SUCCESS dependencies runs as root, mounts m's volume at the same path and chmods it.
func preparedBy(t *testing.T, c map[string]interface{}, containers map[string]map[string]interface{}, m map[string]interface{}) bool {
	t.Helper()
	for _, dep := range optMaps(t, c, "DependsOn") {
		init := containers[fmt.Sprint(dep["ContainerName"])]
		if dep["Condition"] != "SUCCESS" || init == nil || init["User"] != "0" {
			continue
		}
		command := list(init["Command"])
		mounted := strings.Contains(mustJSON(init["MountPoints"]), mustJSON(m["ContainerPath"])) &&
			strings.Contains(mustJSON(init["MountPoints"]), mustJSON(m["SourceVolume"]))
		if mounted && len(command) > 2 && command[0] == "chmod" && command[1] == "1777" && strings.Contains(mustJSON(command), mustJSON(m["ContainerPath"])) {
			return true
		}
	}
	return false
}

func TestAutoscalingBoundsAndTargets(t *testing.T) {
	// GIVEN each stage WHEN compute is synthesized THEN the service scales between the stage's bounds on CPU 70 % and
	// memory 80 %
	forEachStage(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		tm := tmpl(s.Compute.Stack)
		expect(t, "scalable target", func() {
			tm.HasResourceProperties(jsii.String("AWS::ApplicationAutoScaling::ScalableTarget"), &map[string]interface{}{
				"MinCapacity": cfg.MinTasks, "MaxCapacity": cfg.MaxTasks})
		})
		for metric, target := range map[string]int{"ECSServiceAverageCPUUtilization": 70, "ECSServiceAverageMemoryUtilization": 80} {
			expect(t, metric, func() {
				tm.HasResourceProperties(jsii.String("AWS::ApplicationAutoScaling::ScalingPolicy"), &map[string]interface{}{
					"TargetTrackingScalingPolicyConfiguration": map[string]interface{}{
						"PredefinedMetricSpecification": map[string]interface{}{"PredefinedMetricType": metric},
						"TargetValue":                   target, "ScaleOutCooldown": 60, "ScaleInCooldown": 300,
					}})
			})
		}
	})
}

func TestDevScalesToZeroOffHours(t *testing.T) {
	// GIVEN each stage WHEN its scalable target is read THEN dev scales to zero off hours and back for working hours;
	// prod has no schedule
	forEachStage(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		_, target := only(t, s.Compute.Stack, "AWS::ApplicationAutoScaling::ScalableTarget")
		actions := props(target)["ScheduledActions"]
		if cfg.Stage == "prod" {
			if actions != nil {
				t.Errorf("prod must run around the clock: %v", actions)
			}
			return
		}
		want := []interface{}{
			map[string]interface{}{"ScalableTargetAction": map[string]interface{}{"MaxCapacity": float64(0), "MinCapacity": float64(0)},
				"Schedule": "cron(0 20 ? * MON-FRI *)", "ScheduledActionName": "OffHours", "Timezone": "UTC"},
			map[string]interface{}{"ScalableTargetAction": map[string]interface{}{"MaxCapacity": float64(3), "MinCapacity": float64(1)},
				"Schedule": "cron(0 8 ? * MON-FRI *)", "ScheduledActionName": "WorkingHours", "Timezone": "UTC"},
		}
		if !jsonEqual(actions, want) {
			t.Errorf("scheduled actions %s, want %s", mustJSON(actions), mustJSON(want))
		}
	})
}

func TestIamIsScopedToTheStagesResources(t *testing.T) {
	// GIVEN every stack of each build WHEN every policy statement (managed, attached or inline) is read THEN none
	// grants all actions, "*" resources only for actions without resource-level permissions, and compute's S3
	// access only on the PDF bucket
	forEachBuild(t, func(t *testing.T, s *H2oStage, _ *config.Config) {
		statements := 0
		for _, stack := range s.Stacks() {
			for id, sts := range policyStatements(t, stack) {
				for _, st := range sts {
					statements++
					actions, resource := mustJSON(st["Action"]), mustJSON(st["Resource"])
					if resource == `"*"` {
						// Only actions AWS offers no resource-level permission for may use "*" (the log-delivery ones:
						// Step Functions developer guide, "IAM policies for logging to CloudWatch Logs").
						for _, a := range list(st["Action"]) {
							if !wildcardOnly(fmt.Sprint(a)) {
								t.Errorf("%s %s grants %s on *", *stack.StackName(), id, a)
							}
						}
					}
					if stack == s.Compute.Stack && strings.Contains(actions, "s3:") && !strings.Contains(resource, "PdfBucket") {
						t.Errorf("%s grants S3 beyond the PDF bucket: %s on %s", id, actions, resource)
					}
					if strings.Contains(actions, `:*"`) || strings.Contains(actions, `"*"`) {
						t.Errorf("%s %s grants all actions: %s", *stack.StackName(), id, actions)
					}
				}
			}
		}
		if statements == 0 {
			t.Error("no policy statement found")
		}
	})
}

// wildcardOnly: the actions of the app that have no resource-level permissions, so "*" is their only resource.
func wildcardOnly(action string) bool {
	return action == "ecr:GetAuthorizationToken" || logDeliveryActions[action] ||
		strings.HasPrefix(action, "ssmmessages:") || strings.HasPrefix(action, "xray:")
}

// policyStatements are the statements of every policy of a stack: AWS::IAM::Policy, AWS::IAM::ManagedPolicy and
// a role's inline Policies, by resource logical ID.
func policyStatements(t *testing.T, stack awscdk.Stack) map[string][]map[string]interface{} {
	t.Helper()
	out := map[string][]map[string]interface{}{}
	for id, r := range allResources(t, stack) {
		switch r["Type"] {
		case "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy":
			out[id] = atMaps(t, r, "Properties.PolicyDocument.Statement")
		case "AWS::IAM::Role":
			for _, inline := range optMaps(t, r, "Properties.Policies") {
				out[id] = append(out[id], atMaps(t, inline, "PolicyDocument.Statement")...)
			}
		}
	}
	return out
}

func TestLoadBalancerIsInternal(t *testing.T) {
	// GIVEN each stage WHEN compute is synthesized THEN the ALB is internal, drops invalid headers, logs, has the
	// stage's deletion protection and listens on plain HTTP 80
	forEachStage(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		_, lb := only(t, s.Compute.Stack, "AWS::ElasticLoadBalancingV2::LoadBalancer")
		p := props(lb)
		attrs := mustJSON(p["LoadBalancerAttributes"])
		if p["Scheme"] != "internal" {
			t.Errorf("ALB scheme %v: the internet must not reach it around CloudFront", p["Scheme"])
		}
		for _, want := range []string{`{"Key":"routing.http.drop_invalid_header_fields.enabled","Value":"true"}`,
			`{"Key":"access_logs.s3.enabled","Value":"true"}`,
			`{"Key":"deletion_protection.enabled","Value":"` + strconv.FormatBool(cfg.DeletionProtection) + `"}`} {
			if !strings.Contains(attrs, want) {
				t.Errorf("ALB attributes lack %s: %s", want, attrs)
			}
		}
		expect(t, "listener: plain HTTP on 80 inside the VPC without a domain", func() {
			tmpl(s.Compute.Stack).ResourcePropertiesCountIs(jsii.String("AWS::ElasticLoadBalancingV2::Listener"),
				&map[string]interface{}{"Port": 80, "Protocol": "HTTP"}, jsii.Number(1))
		})
	})
}

// TestLoadBalancerAdmitsOnlyCloudFront: a CloudFront VPC origin reaches the internal ALB through CloudFront's
// origin-facing managed prefix list (aws-cdk-lib aws-cloudfront-origins README, "Restrict traffic coming to the
// VPC origin"); nothing else may reach it, on any port but the origins' (80 while the HTTP origin exists, 443 with a
// domain), and each port has a group of its own (admitCloudFront).
func TestLoadBalancerAdmitsOnlyCloudFront(t *testing.T) {
	// GIVEN dev, prod and the variant WHEN the rules of every security group of the ALB are read
	forEachBuild(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		var want []float64
		if plainHTTPOrigin(cfg) {
			want = append(want, 80)
		}
		if s.Compute.OriginHTTPS {
			want = append(want, 443)
		}
		albID, alb := only(t, s.Compute.Stack, "AWS::ElasticLoadBalancingV2::LoadBalancer")
		rules := ingressRules(t, s.Compute.Stack)
		var got []float64
		for _, ref := range atList(t, alb, "Properties.SecurityGroups") {
			group, ok := lookup(ref, "Fn::GetAtt.0")
			if !ok {
				t.Fatalf("%s: security group %v is not one of the stack's", albID, ref)
			}
			// THEN each group holds at most one rule, CloudFront's prefix list on one port
			groupRules := rules[fmt.Sprint(group)]
			if len(groupRules) > 1 {
				t.Errorf("group %v has %d ingress rules, want at most 1: %v", group, len(groupRules), groupRules)
			}
			for _, r := range groupRules {
				if r["SourcePrefixListId"] != cfg.CloudFrontPrefixListID || r["IpProtocol"] != "tcp" || !jsonEqual(r["FromPort"], r["ToPort"]) {
					t.Errorf("group %v admits %v, want CloudFront's prefix list %s on one TCP port", group, r, cfg.CloudFrontPrefixListID)
				}
				got = append(got, number(r["FromPort"]))
			}
		}
		// and together they admit exactly the origins' ports
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("the load balancer's groups admit CloudFront on %v, want %v", got, want)
		}
	})
}

// TestSecurityGroupsFitTheRuleQuota: a security group holds 60 inbound rules, and a rule naming a managed prefix
// list counts as the list's weight (VPC user guide, "AWS-managed prefix list weights": CloudFront's is 55).
// Rules added to another stack's group are counted per consuming stack.
func TestSecurityGroupsFitTheRuleQuota(t *testing.T) {
	// GIVEN every stack of the app WHEN each security group's inbound rules are weighed THEN none is over 60
	weights := map[string]int{mustLoad("prod", nil).CloudFrontPrefixListID: 55}
	groups := 0
	for _, stack := range appStacks() {
		for group, rules := range ingressRules(t, stack) {
			groups++
			total := 0
			for _, rule := range rules {
				if pl, ok := rule["SourcePrefixListId"].(string); ok {
					w, known := weights[pl]
					if !known {
						t.Errorf("%s %s: prefix list %s has no known weight", *stack.StackName(), group, pl)
					}
					total += w
					continue
				}
				total++
			}
			if total > 60 {
				t.Errorf("%s %s: %d inbound rule entries, over the quota of 60", *stack.StackName(), group, total)
			}
		}
	}
	if groups < 10 {
		t.Errorf("only %d security groups with ingress rules found: the test is not looking where the rules are", groups)
	}
}

func TestWithADomainTheListenerIsHttpsOnly(t *testing.T) {
	// GIVEN the variant with a domain WHEN compute is synthesized THEN the ALB serves api.<domain> over TLS 1.3/1.2 on
	// 443 and nothing listens on 80: only CloudFront reaches the ALB, on 443 (TestLoadBalancerAdmitsOnlyCloudFront)
	tm := tmpl(withDomain.Compute.Stack)
	expect(t, "certificate for api.<domain>, DNS-validated in the zone", func() {
		tm.HasResourceProperties(jsii.String("AWS::CertificateManager::Certificate"), &map[string]interface{}{
			"DomainName": "api.h2o.example.com", "ValidationMethod": "DNS",
			"DomainValidationOptions": []interface{}{map[string]interface{}{"DomainName": "api.h2o.example.com",
				"HostedZoneId": "Z0123456789ABCDEFGHIJ"}}})
	})
	listeners := resources(t, withDomain.Compute.Stack, "AWS::ElasticLoadBalancingV2::Listener")
	if len(listeners) != 1 {
		t.Fatalf("%d listeners, want the HTTPS one only", len(listeners))
	}
	for id, l := range listeners {
		p := props(l)
		if p["Port"] != float64(443) || p["Protocol"] != "HTTPS" || p["SslPolicy"] != "ELBSecurityPolicy-TLS13-1-2-2021-06" {
			t.Errorf("listener %s: %v %v %v, want HTTPS 443 with the TLS 1.3/1.2 policy", id, p["Port"], p["Protocol"], p["SslPolicy"])
		}
	}
}

// TestTracingRunsTheCollectorWhenEnabled: with tracing on, the service's task runs the AWS Distro for
// OpenTelemetry collector on its traces-only configuration, hardened and non-essential, logging to the backend's
// log group, and the backend is told where to send OTLP; the task role may then put trace segments and nothing
// more. With tracing off (and always in the migration task) nothing collects and the backend's SDK is off.
func TestTracingRunsTheCollectorWhenEnabled(t *testing.T) {
	// GIVEN tracing off (both stages) and on (the variant) WHEN the task definitions and the task role are read
	forEachBuild(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		service := taskDefinition(t, s.Compute.Stack, "h2o-backend-"+cfg.Stage)
		migrate := taskDefinition(t, s.Compute.Stack, "h2o-backend-migrate-"+cfg.Stage)
		// THEN the migration task never traces
		if env := envOf(t, containerOf(t, migrate, "backend")); env["OTEL_SDK_DISABLED"] != "true" || strings.Contains(mustJSON(migrate), collectorImage) {
			t.Errorf("migration task: environment %v, collector %v", env, strings.Contains(mustJSON(migrate), collectorImage))
		}
		xray := []string{}
		for _, st := range roleStatements(t, s.Compute.Stack, logicalIDOf(t, s.Compute.Stack, s.Compute.MigrationTask.TaskRole().Node().DefaultChild())) {
			for _, a := range atStrings(t, st, "Action") {
				if strings.HasPrefix(a, "xray:") {
					xray = append(xray, a)
				}
			}
		}
		env := envOf(t, containerOf(t, service, "backend"))
		if !cfg.Tracing {
			// and without tracing the service has no collector, no X-Ray permission and its SDK off
			if strings.Contains(mustJSON(service), collectorName) || len(xray) > 0 || env["OTEL_SDK_DISABLED"] != "true" {
				t.Errorf("tracing off: collector %v, X-Ray actions %v, OTEL_SDK_DISABLED %v", strings.Contains(mustJSON(service), collectorName), xray, env["OTEL_SDK_DISABLED"])
			}
			return
		}
		// and with it the collector runs the traces-only configuration, hardened, beside a backend that sends it OTLP
		c := containerOf(t, service, collectorName)
		for k, want := range map[string]interface{}{"Image": collectorImage, "Command": []interface{}{"--config=/etc/ecs/ecs-xray.yaml"},
			"Essential": false, "User": "4317", "ReadonlyRootFilesystem": true, "Privileged": false, "MemoryReservation": float64(128), "Memory": float64(512)} {
			if !jsonEqual(c[k], want) {
				t.Errorf("collector %s = %v, want %v", k, c[k], want)
			}
		}
		backendLogs := logGroupID(t, s.Compute.Stack, Names{cfg.Stage}.BackendLogs())
		if group := mustJSON(at(t, c, "LogConfiguration.Options.awslogs-group")); group != mustJSON(map[string]interface{}{"Ref": backendLogs}) {
			t.Errorf("collector logs to %s, want the backend log group %s", group, backendLogs)
		}
		for k, want := range map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
			"OTEL_SERVICE_NAME": "h2o-backend", "OTEL_TRACES_EXPORTER": "otlp", "OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none",
			"OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=" + cfg.Stage} {
			if env[k] != want {
				t.Errorf("backend %s = %v, want %s", k, env[k], want)
			}
		}
		if env["OTEL_SDK_DISABLED"] != nil {
			t.Errorf("tracing on, but the backend's SDK is disabled")
		}
		if !slices.Equal(xray, []string{"xray:PutTraceSegments"}) {
			t.Errorf("X-Ray actions %v, want exactly xray:PutTraceSegments", xray)
		}
	})
}

// logGroupID is the logical ID of the stack's log group with that name.
func logGroupID(t *testing.T, stack awscdk.Stack, name string) string {
	t.Helper()
	for id, r := range resources(t, stack, "AWS::Logs::LogGroup") {
		if props(r)["LogGroupName"] == name {
			return id
		}
	}
	t.Fatalf("%s has no log group %s", *stack.StackName(), name)
	return ""
}

// pinnedImageRe is an image besides the backend: from ECR Public, pinned to a release tag or a digest.
var pinnedImageRe = regexp.MustCompile(`^public\.ecr\.aws/[a-z0-9._/-]+(:v?[0-9]+\.[0-9]+(\.[0-9]+)?|@sha256:[0-9a-f]{64})$`)

// TestEveryImageBesidesTheBackendIsPinned: an image that moves under its tag changes what a redeploy runs without a
// template change; ECS resolves a tag to a digest per deployment only (ECS API reference, "ContainerImage"). The
// backend's image is its ImageTag/MigrationImageTag parameter (TestBackendTasksShareTheContainerContract); every
// other image is a literal pinned to a version tag or a digest (README, "Images besides the backend").
func TestEveryImageBesidesTheBackendIsPinned(t *testing.T) {
	// GIVEN every container of every task definition of every build WHEN its image is read THEN the backend's
	// comes from a tag parameter and every other one is pinned, never latest
	seen := map[string]bool{}
	for _, stack := range appStacks() {
		for id, task := range resources(t, stack, "AWS::ECS::TaskDefinition") {
			for _, c := range optMaps(t, task, "Properties.ContainerDefinitions") {
				image := mustJSON(c["Image"])
				if c["Name"] == containerName {
					if !strings.Contains(image, `{"Ref":"ImageTag"}`) && !strings.Contains(image, `{"Ref":"MigrationImageTag"}`) {
						t.Errorf("%s %s: backend image %s is not from a tag parameter", *stack.StackName(), id, image)
					}
					continue
				}
				literal, ok := c["Image"].(string)
				if !ok || !pinnedImageRe.MatchString(literal) || strings.Contains(literal, "latest") {
					t.Errorf("%s %s %v: image %s is not pinned to a version tag or digest", *stack.StackName(), id, c["Name"], image)
				}
				seen[literal] = true
			}
		}
	}
	for _, want := range []string{initImage, collectorImage} {
		if !seen[want] {
			t.Errorf("%s runs in no build: the test does not see every image", want)
		}
	}
}

func TestComputeOutputsWhatRunTaskNeeds(t *testing.T) {
	// GIVEN each stage WHEN compute is synthesized THEN it outputs every value the scripts pass to run-task (migrate.sh,
	// restore.sh)
	forEachStage(t, func(t *testing.T, s *H2oStage, _ *config.Config) {
		for _, key := range []string{"ClusterName", "ServiceName", "TaskDefinitionFamily", "ContainerName",
			"TaskSubnetIds", "TaskSecurityGroupId", "AssignPublicIp", "LogGroupName"} {
			expect(t, "output "+key, func() { tmpl(s.Compute.Stack).HasOutput(jsii.String(key), &map[string]interface{}{}) })
		}
	})
}

// TestTimeoutsFormOneChain: CloudFront gives up first (its origin response timeout is the request limit), the
// ALB's idle timeout outlives both that and CloudFront's keep-alive (so the ALB never closes a connection
// CloudFront is waiting on or reusing), a deploy drains a task for at least as long as a request may take, and
// the app's keep-alive outlives the ALB's idle timeout (ALB user guide, "Connection idle timeout").
func TestTimeoutsFormOneChain(t *testing.T) {
	// GIVEN dev, prod and the variant WHEN the timeouts of CloudFront, the ALB, the target group and the app are read
	// THEN each outlives the one before it
	forEachBuild(t, func(t *testing.T, s *H2oStage, _ *config.Config) {
		origin := atMap(t, distributionConfig(t, s), "Origins.0")
		vpcOrigin := atMap(t, origin, "VpcOriginConfig")
		read, keepalive := number(vpcOrigin["OriginReadTimeout"]), number(vpcOrigin["OriginKeepaliveTimeout"])
		_, lb := only(t, s.Compute.Stack, "AWS::ElasticLoadBalancingV2::LoadBalancer")
		idle := number(keyValue(props(lb)["LoadBalancerAttributes"], "idle_timeout.timeout_seconds"))
		drain := -1.0 // the shorter drain of the service's two target groups
		for _, tg := range resources(t, s.Compute.Stack, "AWS::ElasticLoadBalancingV2::TargetGroup") {
			if d := number(keyValue(props(tg)["TargetGroupAttributes"], "deregistration_delay.timeout_seconds")); drain < 0 || d < drain {
				drain = d
			}
		}
		service := taskDefinition(t, s.Compute.Stack, Names{*s.StageName()}.TaskFamily())
		env := envOf(t, containerOf(t, service, "backend"))
		if read != 60 || read != number(env["REQUEST_TIMEOUT_SECONDS"]) {
			t.Errorf("origin read timeout %v, REQUEST_TIMEOUT_SECONDS %v: want both requestTimeoutSeconds (60)", read, env["REQUEST_TIMEOUT_SECONDS"])
		}
		if !(idle > read && idle > keepalive && drain >= read && number(env["KEEPALIVE_SECONDS"]) > idle && keepalive > 0) {
			t.Errorf("chain broken: read %v, keep-alive %v, ALB idle %v, drain %v, app keep-alive %v", read, keepalive, idle, drain, env["KEEPALIVE_SECONDS"])
		}
	})
}

var logDeliveryActions = map[string]bool{"logs:DescribeLogGroups": true, "logs:CreateLogDelivery": true, "logs:GetLogDelivery": true,
	"logs:UpdateLogDelivery": true, "logs:DeleteLogDelivery": true, "logs:ListLogDeliveries": true,
	"logs:PutResourcePolicy": true, "logs:DescribeResourcePolicies": true}

// TestEverySecretChangeRedeploysTheService: for every secret any backend container reads, a new AWSCURRENT version
// ("Secret Label Updated") starts a new deployment of the service through the Step Functions SDK integration.
func TestEverySecretChangeRedeploysTheService(t *testing.T) {
	// GIVEN dev, prod and the variant WHEN the secret-change rule is read THEN it watches every secret any container
	// reads and starts the redeploying state machine
	forEachBuild(t, func(t *testing.T, s *H2oStage, _ *config.Config) {
		_, rule := only(t, s.Compute.Stack, "AWS::Events::Rule")
		pattern := atMap(t, rule, "Properties.EventPattern")
		if !jsonEqual(pattern["source"], []interface{}{"aws.secretsmanager"}) || !jsonEqual(pattern["detail-type"], []interface{}{"Secret Label Updated"}) ||
			!jsonEqual(pattern["detail"], map[string]interface{}{"labelUpdated": []interface{}{"AWSCURRENT"}}) {
			t.Errorf("rule pattern %v", pattern)
		}
		watched := mustJSON(pattern["resources"])
		read := 0
		for _, task := range resources(t, s.Compute.Stack, "AWS::ECS::TaskDefinition") {
			for _, c := range optMaps(t, task, "Properties.ContainerDefinitions") {
				for _, sec := range optMaps(t, c, "Secrets") {
					read++
					// ValueFrom is the secret's ARN, or Fn::Join of it and ":<json key>::".
					from := sec["ValueFrom"]
					if _, ok := lookup(sec, "ValueFrom.Fn::Join"); ok {
						from = at(t, sec, "ValueFrom.Fn::Join.1.0")
					}
					if !strings.Contains(watched, mustJSON(from)) {
						t.Errorf("%v reads %s, which the rule does not watch", sec["Name"], mustJSON(from))
					}
				}
			}
		}
		if read == 0 {
			t.Error("no secret read: the test checks nothing")
		}
		_, machine := only(t, s.Compute.Stack, "AWS::StepFunctions::StateMachine")
		definition := mustJSON(props(machine)["DefinitionString"])
		for _, want := range []string{`:states:::aws-sdk:ecs:updateService`, `ForceNewDeployment\":true`, `BackendService`} {
			if !strings.Contains(definition, want) {
				t.Errorf("state machine lacks %s: %s", want, definition)
			}
		}
		if !strings.Contains(mustJSON(props(rule)["Targets"]), "RedeployOnSecretChange") {
			t.Errorf("the rule does not start the state machine: %v", props(rule)["Targets"])
		}
	})
}
