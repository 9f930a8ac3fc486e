package cost

import (
	"strings"
	"testing"
)

func TestStepFunctionsStandardTransitions(t *testing.T) {
	u := usage730()
	u.StateMachineRuns, u.FreeShare = 100_000, 0.5 // half of 4,000 free transitions
	// Three states, two of them in a Parallel branch: 4 transitions a run (the Parallel state counts too).
	def := `{"Fn::Join": ["", ["{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Parallel\",\"Next\":\"Done\",\"Branches\":[{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Task\",\"Resource\":\"arn:", {"Ref": "AWS::Partition"}, ":states:::aws-sdk:ecs:updateService\",\"End\":true}}},{\"StartAt\":\"B\",\"States\":{\"B\":{\"Type\":\"Pass\",\"End\":true}}}]},\"Done\":{\"Type\":\"Succeed\"}}}"]]}`
	r := estimate(t, u, `{"Sm": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {"DefinitionString": `+def+`, "TracingConfiguration": {"Enabled": true}}},
		"Fast": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {"StateMachineType": "EXPRESS", "DefinitionString": "{}"}}}`)
	it := item(t, r, "Step Functions ×1")
	approx(t, "transitions", it.USDMonth, (100_000*4-2_000)/1000.0*0.025) // 9.95
	// 100,000 traces at the price table's $5/M: named, not added.
	if !strings.Contains(it.Detail, "4 states") || !strings.Contains(it.Detail, "X-Ray tracing (100000 traces × $5/M = $0.5: not added)") {
		t.Errorf("detail: %s", it.Detail)
	}
	if it := item(t, r, "Step Functions test-stack/Fast"); !it.Unpriced {
		t.Errorf("Express workflows have no price: %+v", it)
	}
}

func TestOneOffTaskDefinitionRunsPerDeploy(t *testing.T) {
	u := usage730()
	u.OneOffTaskRuns, u.OneOffTaskMinutes = 30, 2
	migration := strings.Replace(taskDefARM, `"TaskDef"`, `"Migration"`, 1)
	net := `, "LaunchType": "FARGATE", "DesiredCount": 1, "NetworkConfiguration": {"AwsvpcConfiguration": {"AssignPublicIp": "ENABLED"}}`
	r := estimate(t, u, `{`+taskDefARM+`, `+migration+`, `+service(net)+`}`)
	// 30 runs × 2 minutes = 1 task-hour, on-demand, with a public IPv4 beside the service's tasks.
	approx(t, "migration", item(t, r, "Fargate one-off task test-stack/Migration").USDMonth, armTaskHour+0.005)
	if r.FreeResources["AWS::ECS::TaskDefinition"] != 1 {
		t.Errorf("the service's task definition is billed through the service: %v", r.FreeResources)
	}
}

func TestWAFLogsFindTheirGroupByName(t *testing.T) {
	u := usage730()
	u.WafRequests, u.WafLogGBPerMillion, u.LogsStorageCompression, u.LogsNoRetentionMonths = 2_000_000, 1.5, 0.15, 12
	r := estimate(t, u, `{"Group": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "aws-waf-logs-x", "RetentionInDays": 90}},
		"Logging": {"Type": "AWS::WAFv2::LoggingConfiguration", "Properties": {"ResourceArn": {"Fn::GetAtt": ["Acl", "Arn"]},
			"LogDestinationConfigs": [{"Fn::Join": ["", ["arn:aws:logs:us-east-1:", {"Ref": "AWS::AccountId"}, ":log-group:aws-waf-logs-x"]]}]}}}`)
	it := item(t, r, "CloudWatch Logs (1 source)")
	// 3 GB of WAF logs kept 90 days (not priced a second time as an "other" group, nor as never expiring).
	approx(t, "waf logs", it.USDMonth, 3*0.5+3*(90/(730.0/24))*0.15*0.03)
	if !strings.Contains(it.Detail, "WAF logs 3 GB") {
		t.Errorf("detail should name the WAF logs: %s", it.Detail)
	}
}

func TestTracesArePricedWhenTheCollectorRuns(t *testing.T) {
	// GIVEN a service whose task runs the OpenTelemetry collector (stacks/task.go, tracing=true) and one without
	u := usage730()
	u.XRayTraces, u.FreeShare = 300_000, 0.5 // half of 100,000 free traces
	collector := strings.Replace(taskDefARM, `"RuntimePlatform"`, `"ContainerDefinitions": [{"Name": "otel-collector",
		"Image": "public.ecr.aws/aws-observability/aws-otel-collector:v0.49.0"}], "RuntimePlatform"`, 1)
	net := `, "LaunchType": "FARGATE", "DesiredCount": 1, "NetworkConfiguration": {"AwsvpcConfiguration": {"AssignPublicIp": "ENABLED"}}`
	// WHEN both are priced THEN only the collector's gets the X-Ray traces line: (300,000 − 50,000) × $5/M
	approx(t, "traces", item(t, estimate(t, u, `{`+collector+`, `+service(net)+`}`), "X-Ray traces").USDMonth, 250_000/1e6*5)
	for _, it := range estimate(t, u, `{`+taskDefARM+`, `+service(net)+`}`).Items {
		if strings.HasPrefix(it.Item, "X-Ray traces") {
			t.Errorf("traces priced without a collector: %+v", it)
		}
	}
}
