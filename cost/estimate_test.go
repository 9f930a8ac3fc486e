package cost

import (
	"math"
	"strings"
	"sync"
	"testing"
)

// The figures below are computed by hand from pricing/prices-us-east-1.json (as of 2026-11-26):
// Fargate ARM $0.03238/vCPU-h + $0.00356/GB-h, x86 $0.04048 + $0.004445, Spot -65 %; RDS PostgreSQL
// db.t4g.micro $0.016/h single-AZ, db.t4g.small $0.064/h Multi-AZ, gp3 $0.115 (single) / $0.23 (Multi-AZ)
// per GB-month, backup $0.095/GB-month; Valkey cache.t4g.small $0.0256/h, Redis cache.t4g.micro $0.016/h;
// NAT $0.045/h + $0.045/GB; ALB $0.0225/h + $0.008/LCU-h; public IPv4 $0.005/h; CloudFront $0.01/10k HTTPS
// requests + $0.085/GB; WAF $5/ACL + $1/rule + $0.60/M requests; Route 53 $0.50/zone; Secrets Manager
// $0.40/secret + $0.05/10k calls; KMS $1/key + $0.03/10k; alarms $0.10/metric ($0.30 high resolution);
// dashboards $3; custom metrics $0.30; logs $0.50/GB ingested + $0.03/GB-month stored; S3 $0.023/GB-month;
// ECR $0.10/GB-month; Budgets $0.02/day; Step Functions $0.025/1k state transitions.

var (
	pricesOnce sync.Once
	prices     *Prices
	pricesErr  error
)

func testPrices(t *testing.T) *Prices {
	t.Helper()
	pricesOnce.Do(func() { prices, pricesErr = LoadPrices("../" + DefaultPriceFile) })
	if pricesErr != nil {
		t.Fatal(pricesErr)
	}
	return prices
}

// usage730 is an empty usage month: only what each test sets is non-zero.
func usage730() Usage { return Usage{Stage: "test", HoursPerMonth: 730} }

func stackOf(t *testing.T, name, resources string) *Stack {
	t.Helper()
	st := &Stack{Name: name, DisplayName: name}
	if err := ParseTemplate([]byte(`{"Resources":`+resources+`}`), st); err != nil {
		t.Fatalf("template %s: %v", name, err)
	}
	return st
}

func estimate(t *testing.T, u Usage, resources string) *StageReport {
	t.Helper()
	return EstimateStage("test", []*Stack{stackOf(t, "test-stack", resources)}, u, testPrices(t))
}

// item returns the one item whose name starts with prefix.
func item(t *testing.T, r *StageReport, prefix string) Item {
	t.Helper()
	var found []Item
	for _, it := range r.Items {
		if strings.HasPrefix(it.Item, prefix) {
			found = append(found, it)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want 1 item starting %q, got %d in %+v", prefix, len(found), r.Items)
	}
	return found[0]
}

func approx(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 0.0001 {
		t.Errorf("%s = %.6f, want %.6f", what, got, want)
	}
}

func noUnpriced(t *testing.T, r *StageReport) {
	t.Helper()
	for _, it := range r.Items {
		if it.Unpriced {
			t.Errorf("unexpected unpriced item %s: %s", it.Item, it.Detail)
		}
	}
}

const taskDefARM = `"TaskDef": {"Type": "AWS::ECS::TaskDefinition", "Properties": {"Cpu": "2048", "Memory": "4096",
	"RequiresCompatibilities": ["FARGATE"], "RuntimePlatform": {"CpuArchitecture": "ARM64", "OperatingSystemFamily": "LINUX"}}}`

func service(props string) string {
	return `"Service": {"Type": "AWS::ECS::Service", "Properties": {"TaskDefinition": {"Ref": "TaskDef"}, "Cluster": {"Ref": "Cluster"}` + props + `}}`
}

func target(min, max, extra string) string {
	return `"Target": {"Type": "AWS::ApplicationAutoScaling::ScalableTarget", "Properties": {"MinCapacity": ` + min +
		`, "MaxCapacity": ` + max + `, "ScalableDimension": "ecs:service:DesiredCount", "ServiceNamespace": "ecs",
		"ResourceId": {"Fn::Join": ["", ["service/", {"Ref": "Cluster"}, "/", {"Fn::GetAtt": ["Service", "Name"]}]]}` + extra + `}}`
}

const armTaskHour = 2*0.03238 + 4*0.00356 // 2 vCPU + 4 GB ARM64

func TestFargateARM64OneTaskFromScalingMinimum(t *testing.T) {
	r := estimate(t, usage730(), `{`+taskDefARM+`, `+service(`, "LaunchType": "FARGATE", "DesiredCount": 2`)+`, `+target("1", "3", "")+`}`)
	noUnpriced(t, r)
	// MinCapacity 1 wins over DesiredCount 2.
	approx(t, "fargate", item(t, r, "Fargate service").USDMonth, 2*0.03238*730+4*0.00356*730) // 57.67
	approx(t, "total", r.TotalUSDMonth, 57.67)
}

func TestFargateX86FromDesiredCount(t *testing.T) {
	for _, size := range []string{`"Cpu": 1024, "Memory": "2048"`, `"Cpu": "1 vCPU", "Memory": "2 GB"`} {
		r := estimate(t, usage730(), `{"TaskDef": {"Type": "AWS::ECS::TaskDefinition", "Properties": {`+size+`}},
		`+service(`, "LaunchType": "FARGATE", "DesiredCount": 2`)+`}`)
		// No RuntimePlatform: X86_64. 2 tasks × (1 vCPU × 0.04048 + 2 GB × 0.004445) × 730 h.
		approx(t, "fargate "+size, item(t, r, "Fargate service").USDMonth, 2*(0.04048+2*0.004445)*730) // 72.08
	}
}

func TestFargateSpotShareFromCapacityProviderStrategy(t *testing.T) {
	strategy := `, "CapacityProviderStrategy": [{"CapacityProvider": "FARGATE", "Base": 1, "Weight": 1},
		{"CapacityProvider": "FARGATE_SPOT", "Weight": 3}]`
	r := estimate(t, usage730(), `{`+taskDefARM+`, `+service(strategy)+`, `+target("3", "5", "")+`}`)
	// 3 tasks: the base puts 1 on FARGATE, the other 2 split 1:3 → 1.5 on-demand, 1.5 Spot at 35 % of the price.
	want := 1.5*armTaskHour*730 + 1.5*armTaskHour*730*(1-0.65)
	approx(t, "fargate", item(t, r, "Fargate service").USDMonth, want) // 116.78
	// The strategy itself names FARGATE_SPOT; the detail must say how many task-hours went to Spot and at what discount.
	if d := item(t, r, "Fargate service").Detail; !strings.Contains(d, "1095 task-h on-demand + 1095 task-h Spot (-65%)") {
		t.Errorf("detail does not split the task-hours 1095 on-demand + 1095 Spot: %s", d)
	}
}

func TestFargateScaleOutHoursUseMarginalProvider(t *testing.T) {
	strategy := `, "CapacityProviderStrategy": [{"CapacityProvider": "FARGATE", "Base": 2, "Weight": 0},
		{"CapacityProvider": "FARGATE_SPOT", "Weight": 1}]`
	u := usage730()
	u.ScaleOutTaskHours = 30
	r := estimate(t, u, `{`+taskDefARM+`, `+service(strategy)+`, `+target("2", "3", "")+`}`)
	// 2 on-demand tasks all month; the third task (30 h) lands on Spot.
	approx(t, "fargate", item(t, r, "Fargate service").USDMonth, 2*armTaskHour*730+30*armTaskHour*0.35)
}

func TestFargateScheduledScaleDown(t *testing.T) {
	actions := `, "ScheduledActions": [
		{"ScheduledActionName": "night", "Schedule": "cron(0 20 ? * MON-FRI *)", "ScalableTargetAction": {"MinCapacity": 0, "MaxCapacity": 0}},
		{"ScheduledActionName": "morning", "Schedule": "cron(0 8 ? * MON-FRI *)", "ScalableTargetAction": {"MinCapacity": 1, "MaxCapacity": 3}}]`
	r := estimate(t, usage730(), `{`+taskDefARM+`, `+service(`, "LaunchType": "FARGATE"`)+`, `+target("1", "3", actions)+`}`)
	// One task 08:00-20:00 on weekdays: the reference year 2027 has 261 weekdays → 3132 of 8760 hours.
	approx(t, "fargate", item(t, r, "Fargate service").USDMonth, 3132.0/8760*730*armTaskHour) // 20.6198
}

func TestFargatePublicIPTasks(t *testing.T) {
	net := `, "LaunchType": "FARGATE", "DesiredCount": 1, "NetworkConfiguration": {"AwsvpcConfiguration": {"AssignPublicIp": "ENABLED", "Subnets": ["a"]}}`
	r := estimate(t, usage730(), `{`+taskDefARM+`, `+service(net)+`}`)
	approx(t, "ipv4", item(t, r, "Public IPv4").USDMonth, 1*730*0.005) // 3.65
}

func TestFargateOnEC2IsUnpriced(t *testing.T) {
	r := estimate(t, usage730(), `{`+taskDefARM+`, `+service(`, "LaunchType": "EC2"`)+`}`)
	it := item(t, r, "Fargate service")
	if !it.Unpriced || it.USDMonth != 0 || !strings.HasPrefix(it.Detail, "UNPRICED") {
		t.Errorf("EC2 launch type should be unpriced: %+v", it)
	}
}

func TestRDSMultiAZWithManagedSecret(t *testing.T) {
	r := estimate(t, usage730(), `{"Db": {"Type": "AWS::RDS::DBInstance", "Properties": {"Engine": "postgres",
		"DBInstanceClass": "db.t4g.small", "MultiAZ": true, "AllocatedStorage": "20", "StorageType": "gp3",
		"BackupRetentionPeriod": 7, "ManageMasterUserPassword": true}}}`)
	noUnpriced(t, r)
	// 0.064 × 730 + 20 GB × 0.23; no backup data in this usage.
	approx(t, "rds", item(t, r, "RDS postgres db.t4g.small Multi-AZ").USDMonth, 0.064*730+20*0.23) // 51.32
	approx(t, "secrets", item(t, r, "Secrets Manager").USDMonth, 0.40)                             // the RDS-managed master secret
}

func TestRDSBackupBeyondFree(t *testing.T) {
	u := usage730()
	u.DbDataGB, u.DbDailyChangeFraction = 30, 0.1
	r := estimate(t, u, `{"Db": {"Type": "AWS::RDS::DBInstance", "Properties": {"Engine": "postgres",
		"DBInstanceClass": "db.t4g.micro", "AllocatedStorage": 20, "StorageType": "gp3", "BackupRetentionPeriod": "7"}}}`)
	// Backups 30 × (1 + 0.1 × 6) = 48 GB, 20 free (the allocated storage) → 28 GB × 0.095.
	approx(t, "rds", item(t, r, "RDS").USDMonth, 0.016*730+20*0.115+28*0.095) // 16.64
}

func TestRDSStopStartSchedule(t *testing.T) {
	r := estimate(t, usage730(), `{"Db": {"Type": "AWS::RDS::DBInstance", "Properties": {"Engine": "postgres",
		"DBInstanceClass": "db.t4g.micro", "AllocatedStorage": 20, "StorageType": "gp3", "BackupRetentionPeriod": 0}},
		"Stop": {"Type": "AWS::Scheduler::Schedule", "Properties": {"ScheduleExpression": "cron(0 19 ? * MON-FRI *)",
			"Target": {"Arn": "arn:aws:scheduler:::aws-sdk:rds:stopDBInstance", "Input": {"Fn::Join": ["", ["{\"DbInstanceIdentifier\":\"", {"Ref": "Db"}, "\"}"]]}}}},
		"Start": {"Type": "AWS::Scheduler::Schedule", "Properties": {"ScheduleExpression": "cron(0 7 ? * MON-FRI *)",
			"Target": {"Arn": "arn:aws:scheduler:::aws-sdk:rds:startDBInstance", "Input": "{}"}}}}`)
	// Runs 07:00-19:00 on the 261 weekdays of 2027; storage is billed all month.
	approx(t, "rds", item(t, r, "RDS").USDMonth, 3132.0/8760*730*0.016+20*0.115) // 6.476
}

func TestRDSUnknownClassIsUnpriced(t *testing.T) {
	r := estimate(t, usage730(), `{"Db": {"Type": "AWS::RDS::DBInstance", "Properties": {"Engine": "postgres",
		"DBInstanceClass": "db.r6g.large", "AllocatedStorage": 20, "StorageType": "gp3", "BackupRetentionPeriod": 0}}}`)
	inst := item(t, r, "RDS instance")
	if !inst.Unpriced || inst.USDMonth != 0 || !strings.Contains(inst.Detail, "rds_pg_db_r6g_large_single_az_usd_per_hour") {
		t.Errorf("db.r6g.large should be unpriced naming its key: %+v", inst)
	}
	approx(t, "storage still priced", item(t, r, "RDS storage").USDMonth, 20*0.115)
	approx(t, "total excludes unpriced", r.TotalUSDMonth, 2.3)
	if r.UnpricedCount != 1 {
		t.Errorf("UnpricedCount = %d, want 1", r.UnpricedCount)
	}
}

func TestValkeyNodeCount(t *testing.T) {
	r := estimate(t, usage730(), `{"Cache": {"Type": "AWS::ElastiCache::ReplicationGroup", "Properties": {"Engine": "valkey",
		"CacheNodeType": "cache.t4g.small", "NumCacheClusters": 2, "AutomaticFailoverEnabled": true}}}`)
	approx(t, "valkey", item(t, r, "ElastiCache valkey cache.t4g.small ×2").USDMonth, 2*0.0256*730) // 37.376
}

func TestUnknownCacheNodeTypeIsUnpriced(t *testing.T) {
	r := estimate(t, usage730(), `{"Cache": {"Type": "AWS::ElastiCache::ReplicationGroup", "Properties": {"Engine": "valkey",
		"CacheNodeType": "cache.r7g.large", "NumCacheClusters": 1}}}`)
	if it := item(t, r, "ElastiCache"); !it.Unpriced || !strings.HasPrefix(it.Detail, UnpricedPrefix) {
		t.Errorf("want unpriced: %+v", it)
	}
}

func TestNATHoursAndGBWithElasticIPs(t *testing.T) {
	u := usage730()
	u.NatGB = 100
	r := estimate(t, u, `{"Nat1": {"Type": "AWS::EC2::NatGateway", "Properties": {"AllocationId": {"Fn::GetAtt": ["Eip1", "AllocationId"]}}},
		"Nat2": {"Type": "AWS::EC2::NatGateway", "Properties": {}},
		"Eip1": {"Type": "AWS::EC2::EIP", "Properties": {"Domain": "vpc"}}, "Eip2": {"Type": "AWS::EC2::EIP", "Properties": {}}}`)
	approx(t, "nat", item(t, r, "NAT gateways ×2").USDMonth, 2*0.045*730+100*0.045) // 70.2
	approx(t, "ipv4", item(t, r, "Public IPv4").USDMonth, 2*730*0.005)              // 7.3
}

func TestALBHoursLCUAndPublicAddresses(t *testing.T) {
	u := usage730()
	u.AlbLCU = 1
	r := estimate(t, u, `{"Lb": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {"Scheme": "internet-facing",
		"Subnets": [{"Ref": "A"}, {"Ref": "B"}]}},
		"Internal": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {"Scheme": "internal", "Subnets": ["a", "b"]}}}`)
	approx(t, "alb", item(t, r, "ALB test-stack/Lb").USDMonth, 0.0225*730+1*0.008*730) // 22.265
	// Only the internet-facing ALB holds public addresses: one per subnet.
	approx(t, "ipv4", item(t, r, "Public IPv4 addresses ×2").USDMonth, 2*730*0.005)
	approx(t, "total", r.TotalUSDMonth, 2*22.265+7.3)
}

func TestNetworkLoadBalancerIsUnpriced(t *testing.T) {
	r := estimate(t, usage730(), `{"Nlb": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {"Type": "network", "Scheme": "internal"}}}`)
	if it := item(t, r, "Load balancer"); !it.Unpriced {
		t.Errorf("NLB should be unpriced: %+v", it)
	}
}

func TestCloudFrontBeyondFreeShare(t *testing.T) {
	u := usage730()
	u.CloudFrontRequests, u.CloudFrontGB = 20_000_000, 1100
	u.FreeShare = 1 // the whole account's 10 M requests and 1,024 GB
	r := estimate(t, u, `{"D": {"Type": "AWS::CloudFront::Distribution", "Properties": {"DistributionConfig": {"Enabled": true}}}}`)
	// 10 M billable requests = 1000 × $0.01 per 10k; 76 GB × $0.085.
	approx(t, "cloudfront", item(t, r, "CloudFront ×1").USDMonth, 1000*0.01+76*0.085) // 16.46
}

func TestWAFRulesAndRequests(t *testing.T) {
	u := usage730()
	u.WafRequests = 5_000_000
	r := estimate(t, u, `{"Acl": {"Type": "AWS::WAFv2::WebACL", "Properties": {"Scope": "CLOUDFRONT", "Rules": [
		{"Name": "Common", "Statement": {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": "AWSManagedRulesCommonRuleSet"}}},
		{"Name": "BadInputs", "Statement": {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": "AWSManagedRulesKnownBadInputsRuleSet"}}},
		{"Name": "Rate", "Statement": {"RateBasedStatement": {"Limit": 2000, "AggregateKeyType": "IP"}}}]}}}`)
	approx(t, "waf", item(t, r, "WAF web ACL").USDMonth, 5+3*1+5*0.6) // 11
}

func TestRoute53ZoneReferencedByID(t *testing.T) {
	r := estimate(t, usage730(), `{"Api": {"Type": "AWS::Route53::RecordSet", "Properties": {"HostedZoneId": "Z123", "Name": "api.example.com", "Type": "A",
		"AliasTarget": {"DNSName": "d.cloudfront.net", "HostedZoneId": "Z2FDTNDATAQYW2"}}}}`)
	it := item(t, r, "Route 53 hosted zone ×1")
	approx(t, "route53", it.USDMonth, 0.5)
	if !strings.Contains(it.Detail, "referenced by id") {
		t.Errorf("detail should say the zone is not in the template: %s", it.Detail)
	}
}

func TestSecretsAndKMS(t *testing.T) {
	u := usage730()
	u.SecretsAPICalls, u.KMSRequests, u.FreeShare = 20_000, 30_000, 0.5 // half of 20k free requests
	r := estimate(t, u, `{"S1": {"Type": "AWS::SecretsManager::Secret", "Properties": {}}, "S2": {"Type": "AWS::SecretsManager::Secret", "Properties": {}},
		"K": {"Type": "AWS::KMS::Key", "Properties": {"EnableKeyRotation": true}}, "A": {"Type": "AWS::KMS::Alias", "Properties": {}}}`)
	approx(t, "secrets", item(t, r, "Secrets Manager ×2").USDMonth, 2*0.4+2*0.05) // 0.9
	kms := item(t, r, "KMS keys ×1")
	approx(t, "kms", kms.USDMonth, 1+2*0.03) // 1.06
	// THEN the line names its key, so a cost diff shows which key came or went
	if !strings.HasSuffix(kms.Detail, "/K]") {
		t.Errorf("the KMS line does not name its key's path: %s", kms.Detail)
	}
}

func TestLogGroupsOnACustomerKeyAddKMSRequests(t *testing.T) {
	// GIVEN a key, two log groups encrypted with it and one without
	u := usage730()
	u.KMSRequests, u.KMSRequestsPerLogGroup, u.FreeShare = 10_000, 20_000, 0.5 // 10k of the 20k free requests
	r := estimate(t, u, `{"K": {"Type": "AWS::KMS::Key", "Properties": {}},
		"L1": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 7, "KmsKeyId": {"Fn::GetAtt": ["K", "Arn"]}}},
		"L2": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 7, "KmsKeyId": {"Fn::ImportValue": "net:Key"}}},
		"L3": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 7}}}`)
	// WHEN priced THEN CloudWatch Logs' requests for the two encrypted groups are billed beyond the free share
	it := item(t, r, "KMS keys ×1")
	approx(t, "kms", it.USDMonth, 1+(10_000+2*20_000-10_000)/10_000*0.03) // 1.12
	if !strings.Contains(it.Detail, "2 encrypted log groups") {
		t.Errorf("detail does not count the encrypted log groups: %s", it.Detail)
	}
}

func TestAlarmsMetricMathAndHighResolution(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{`)
	for i := 0; i < 12; i++ {
		b.WriteString(`"A` + string(rune('a'+i)) + `": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"MetricName": "CPUUtilization", "Period": 300}}, `)
	}
	b.WriteString(`"Math": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"Metrics": [
		{"Id": "errors", "MetricStat": {"Metric": {"MetricName": "HTTPCode_Target_5XX_Count"}, "Period": 300, "Stat": "Sum"}, "ReturnData": false},
		{"Id": "requests", "MetricStat": {"Metric": {"MetricName": "RequestCount"}, "Period": 300, "Stat": "Sum"}, "ReturnData": false},
		{"Id": "rate", "Expression": "100 * errors / requests"}]}},
		"Fast": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"MetricName": "X", "Period": 10}}}`)
	u := usage730()
	u.FreeShare = 1
	r := estimate(t, u, b.String())
	// 12 + 2 (metric math: one per metric) = 14 standard, 10 free → 4 × 0.10; 1 high-resolution × 0.30.
	approx(t, "alarms", item(t, r, "CloudWatch alarms ×14").USDMonth, 4*0.1+0.3) // 0.7
}

func TestDashboardsBeyondFreeShare(t *testing.T) {
	u := usage730()
	u.FreeShare = 0.5
	r := estimate(t, u, `{"D1": {"Type": "AWS::CloudWatch::Dashboard", "Properties": {}}, "D2": {"Type": "AWS::CloudWatch::Dashboard", "Properties": {}},
		"D3": {"Type": "AWS::CloudWatch::Dashboard", "Properties": {}}}`)
	it := item(t, r, "CloudWatch dashboards ×3")
	approx(t, "dashboards", it.USDMonth, (3-1.5)*3) // half of the account's 3 free: 4.5
	if !strings.Contains(it.Detail, "1.5 free: this stage's share of the account's 3,") {
		t.Errorf("detail should give the share and the allowance of the price table: %s", it.Detail)
	}
}

func TestLogsIngestAndRetention(t *testing.T) {
	u := usage730()
	u.FlowLogGB, u.LogsStorageCompression, u.LogsNoRetentionMonths, u.FreeShare = 10, 0.15, 12, 1
	r := estimate(t, u, `{"G": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 30}},
		"F": {"Type": "AWS::EC2::FlowLog", "Properties": {"LogGroupName": {"Ref": "G"}, "ResourceId": "vpc", "ResourceType": "VPC"}}}`)
	// (10 − 5 free) GB × 0.50 + 10 GB × 30/30.4167 months × 15 % stored × 0.03.
	approx(t, "logs", item(t, r, "CloudWatch Logs").USDMonth, 5*0.5+10*(30/(730.0/24))*0.15*0.03) // 2.5444
}

func TestLogsFromTaskDefinitionAndRDS(t *testing.T) {
	u := usage730()
	u.AppLogGB, u.DbLogGB, u.EnhancedMonitoringGB, u.LogsStorageCompression, u.LogsNoRetentionMonths = 4, 1, 0.5, 0.15, 12
	r := estimate(t, u, `{`+taskDefARM[:len(taskDefARM)-2]+`, "ContainerDefinitions": [{"Name": "app",
		"LogConfiguration": {"LogDriver": "awslogs", "Options": {"awslogs-group": {"Ref": "AppLogs"}}}}]}},
		"AppLogs": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 14}},
		`+service(`, "LaunchType": "FARGATE", "DesiredCount": 1`)+`,
		"Db": {"Type": "AWS::RDS::DBInstance", "Properties": {"Engine": "postgres", "DBInstanceClass": "db.t4g.micro", "AllocatedStorage": 20,
			"StorageType": "gp3", "BackupRetentionPeriod": 0, "MonitoringInterval": 30, "EnableCloudwatchLogsExports": ["postgresql"]}}}`)
	it := item(t, r, "CloudWatch Logs (3 sources)")
	// Ingest: app 4 + RDS exports 1 (never expires: 12 months) + enhanced monitoring 0.5 × 60/30 = 1 (30 days).
	month := 730.0 / 24
	stored := (4*14/month + 1*12 + 1*30/month) * 0.15
	approx(t, "logs", it.USDMonth, 6*0.5+stored*0.03)
}

func TestS3DataAndLogBuckets(t *testing.T) {
	u := usage730()
	u.S3DataGB, u.S3LogGBPerBucket, u.S3PutRequests, u.S3GetRequests = 100, 5, 10_000, 100_000
	r := estimate(t, u, `{"Data": {"Type": "AWS::S3::Bucket", "Properties": {"LoggingConfiguration": {"DestinationBucketName": {"Ref": "Logs"}}}},
		"Logs": {"Type": "AWS::S3::Bucket", "Properties": {}}}`)
	approx(t, "data", item(t, r, "S3 data buckets ×1").USDMonth, 100*0.023+10*0.005+100*0.0004) // 2.39
	approx(t, "logs", item(t, r, "S3 log buckets ×1").USDMonth, 5*0.023)                        // 0.115
}

func TestVersionedLogBucketsKeepExpiredLogsTheirNoncurrentDays(t *testing.T) {
	// GIVEN two log buckets expiring logs after 30 days, one versioned keeping noncurrent versions 7 days more
	u := usage730()
	u.S3LogGBPerBucket = 5
	logging := func(bucket string) string {
		return `{"Type": "AWS::S3::Bucket", "Properties": {"LoggingConfiguration": {"DestinationBucketName": {"Ref": "` + bucket + `"}}}}`
	}
	expiry := `"LifecycleConfiguration": {"Rules": [{"Status": "Enabled", "ExpirationInDays": 30, "NoncurrentVersionExpiration": {"NoncurrentDays": 7}}, {"Status": "Enabled", "ExpiredObjectDeleteMarker": true}]}`
	r := estimate(t, u, `{"A": `+logging("Versioned")+`, "B": `+logging("Plain")+`,
		"Versioned": {"Type": "AWS::S3::Bucket", "Properties": {"VersioningConfiguration": {"Status": "Enabled"}, `+expiry+`}},
		"Plain": {"Type": "AWS::S3::Bucket", "Properties": {`+expiry+`}}}`)
	// WHEN priced THEN the versioned one holds 37/30 of the logs, the other as many as the usage says
	it := item(t, r, "S3 log buckets ×2")
	approx(t, "log buckets", it.USDMonth, (37.0/30+1)*5*0.023)
	if !strings.Contains(it.Detail, "noncurrent 7 d after 30 d") {
		t.Errorf("detail does not say why: %s", it.Detail)
	}
}

func TestECRAndBudgetsAndCustomMetrics(t *testing.T) {
	u := usage730()
	u.EcrGB, u.FreeShare = 5, 1 // 2 budgets, 10 custom metrics
	var filters strings.Builder
	for i := 0; i < 12; i++ {
		filters.WriteString(`, "F` + string(rune('a'+i)) + `": {"Type": "AWS::Logs::MetricFilter", "Properties": {"MetricTransformations": [{"MetricName": "m"}]}}`)
	}
	r := estimate(t, u, `{"Repo": {"Type": "AWS::ECR::Repository", "Properties": {}},
		"B1": {"Type": "AWS::Budgets::Budget", "Properties": {}}, "B2": {"Type": "AWS::Budgets::Budget", "Properties": {}},
		"B3": {"Type": "AWS::Budgets::Budget", "Properties": {}}`+filters.String()+`}`)
	approx(t, "ecr", item(t, r, "ECR").USDMonth, 5*0.1)                      // 0.5
	approx(t, "budgets", item(t, r, "AWS Budgets ×3").USDMonth, 0.02*730/24) // one beyond the 2 free: 0.6083
	approx(t, "metrics", item(t, r, "CloudWatch custom metrics").USDMonth, 2*0.3)
}

func TestUnpricedTypeIsListedNotSilentlyZero(t *testing.T) {
	r := estimate(t, usage730(), `{"Vm": {"Type": "AWS::EC2::Instance", "Properties": {"InstanceType": "t3.micro"}},
		"Vm2": {"Type": "AWS::EC2::Instance", "Properties": {}},
		"Role": {"Type": "AWS::IAM::Role", "Properties": {}}, "Cr": {"Type": "Custom::Whatever", "Properties": {}},
		"Eip": {"Type": "AWS::EC2::EIP", "Properties": {}}}`)
	it := item(t, r, "AWS::EC2::Instance ×2")
	if !it.Unpriced || it.USDMonth != 0 || !strings.HasPrefix(it.Detail, "UNPRICED") || !strings.Contains(it.Detail, "test-stack/Vm") {
		t.Errorf("EC2 instances must be listed as unpriced: %+v", it)
	}
	if r.UnpricedCount != 1 {
		t.Errorf("UnpricedCount = %d", r.UnpricedCount)
	}
	approx(t, "total counts only priced items", r.TotalUSDMonth, 3.65)
	if r.FreeResources["AWS::IAM::Role"] != 1 || r.FreeResources["Custom::Whatever"] != 1 {
		t.Errorf("free resources: %v", r.FreeResources)
	}
}

func TestMissingPriceKeyIsUnpriced(t *testing.T) {
	p, err := ParsePrices([]byte(`{"as_of": "2026-01-01", "nat_gateway_usd_per_hour": 0.045}`), "tiny")
	if err != nil {
		t.Fatal(err)
	}
	st := stackOf(t, "s", `{"Nat": {"Type": "AWS::EC2::NatGateway", "Properties": {}}}`)
	r := EstimateStage("x", []*Stack{st}, usage730(), p)
	it := item(t, r, "NAT gateways")
	if !it.Unpriced || !strings.Contains(it.Detail, "nat_gateway_processed_usd_per_gb") {
		t.Errorf("a missing key must make the item unpriced and name the key: %+v", it)
	}
}

// The estimator prices what this app creates; any other type, or a shape of a priced type it does not model,
// is listed as UNPRICED rather than priced at $0 or as free.
func TestTypesTheAppNeverCreatesFallThroughToUnpriced(t *testing.T) {
	r := estimate(t, usage730(), `{
		"Serverless": {"Type": "AWS::ElastiCache::ServerlessCache", "Properties": {"Engine": "valkey"}},
		"Fn": {"Type": "AWS::CloudFront::Function", "Properties": {}},
		"Zone": {"Type": "AWS::Route53::HostedZone", "Properties": {"Name": "example.com"}},
		"Composite": {"Type": "AWS::CloudWatch::CompositeAlarm", "Properties": {}},
		"Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
		"Param": {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": "x"}},
		"Ecr": {"Type": "AWS::EC2::VPCEndpoint", "Properties": {"VpcEndpointType": "Interface", "ServiceName": "com.amazonaws.us-east-1.ecr.api"}},
		"Sharded": {"Type": "AWS::ElastiCache::ReplicationGroup", "Properties": {"Engine": "valkey", "CacheNodeType": "cache.t4g.small", "NumNodeGroups": 2}},
		"Db": {"Type": "AWS::RDS::DBInstance", "Properties": {"Engine": "postgres", "DBInstanceClass": "db.t4g.micro", "AllocatedStorage": 400,
			"StorageType": "gp3", "Iops": 12000, "BackupRetentionPeriod": 0}}}`)
	for _, prefix := range []string{"AWS::ElastiCache::ServerlessCache ×1", "AWS::CloudFront::Function ×1", "AWS::Route53::HostedZone ×1",
		"AWS::CloudWatch::CompositeAlarm ×1", "AWS::SQS::Queue ×1", "AWS::SSM::Parameter ×1", "AWS::EC2::VPCEndpoint ×1",
		"ElastiCache valkey cache.t4g.small test-stack/Sharded", "RDS provisioned IOPS/throughput test-stack/Db"} {
		if it := item(t, r, prefix); !it.Unpriced || it.USDMonth != 0 || !strings.HasPrefix(it.Detail, UnpricedPrefix) {
			t.Errorf("%s must be listed as unpriced: %+v", prefix, it)
		}
	}
	if len(r.FreeResources) != 0 {
		t.Errorf("none of them is free: %v", r.FreeResources)
	}
}
