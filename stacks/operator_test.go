package stacks

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"h2o-infra/config"
)

// operatorCLIActions maps the runbook's manual `aws <service> <command>`s that no pipeline script makes to the
// IAM actions they need (cliActions holds the scripts' own). A command the runbook prints and neither map knows
// fails TestOperatorRoleAllowsEveryManualCall until it is added here and allowed in operator.go.
var operatorCLIActions = map[string][]string{
	"ce get-cost-and-usage":                      {"ce:GetCostAndUsage"},
	"cloudformation continue-update-rollback":    {"cloudformation:ContinueUpdateRollback"},
	"cloudformation delete-stack":                {"cloudformation:DeleteStack"},
	"cloudformation describe-stack-events":       {"cloudformation:DescribeStackEvents"},
	"cloudformation wait stack-delete-complete":  {"cloudformation:DescribeStacks"}, // the waiter polls DescribeStacks
	"cloudformation describe-stack-resources":    {"cloudformation:DescribeStackResources"},
	"ec2 describe-nat-gateways":                  {"ec2:DescribeNatGateways"},
	"ec2 describe-security-groups":               {"ec2:DescribeSecurityGroups"},
	"ecs deregister-task-definition":             {"ecs:DeregisterTaskDefinition"},
	"ecs execute-command":                        {"ecs:ExecuteCommand"}, // the session itself is the plugin's (ECS developer guide, "ECS Exec")
	"ecs list-tasks":                             {"ecs:ListTasks"},
	"elasticache modify-replication-group":       {"elasticache:ModifyReplicationGroup"},
	"logs filter-log-events":                     {"logs:FilterLogEvents"},
	"logs get-log-events":                        {"logs:GetLogEvents"},
	"logs tail":                                  {"logs:FilterLogEvents"},                          // aws-cli, awscli/customizations/logs/tail.py: filter_log_events only
	"rds create-db-snapshot":                     {"rds:CreateDBSnapshot", "rds:AddTagsToResource"}, // the copy's tags go with it
	"rds delete-db-instance":                     {"rds:DeleteDBInstance"},
	"rds delete-db-snapshot":                     {"rds:DeleteDBSnapshot"},
	"rds describe-db-instance-automated-backups": {"rds:DescribeDBInstanceAutomatedBackups"},
	// --manage-master-user-password: RDS creates the secret as the caller (RDS user guide, "Password management
	// with Amazon RDS and AWS Secrets Manager: Permissions required for Secrets Manager integration").
	"rds modify-db-instance": {"rds:ModifyDBInstance", "secretsmanager:CreateSecret", "secretsmanager:TagResource", "kms:DescribeKey"},
	// --tags on create; an instance on a customer managed key needs the grant (RDS user guide, "AWS KMS key
	// management: Authorizing use of a customer managed key").
	"rds restore-db-instance-from-db-snapshot":   {"rds:RestoreDBInstanceFromDBSnapshot", "rds:AddTagsToResource", "kms:CreateGrant", "kms:DescribeKey"},
	"rds restore-db-instance-to-point-in-time":   {"rds:RestoreDBInstanceToPointInTime", "rds:AddTagsToResource", "kms:CreateGrant", "kms:DescribeKey"},
	"rds wait db-snapshot-available":             {"rds:DescribeDBSnapshots"},
	"s3api copy-object":                          {"s3:GetObjectVersion", "s3:PutObject", "kms:Decrypt", "kms:GenerateDataKey"}, // SSE-KMS in prod
	"s3api delete-object":                        {"s3:DeleteObject"},
	"s3api list-object-versions":                 {"s3:ListBucketVersions"},
	"secretsmanager delete-secret":               {"secretsmanager:DeleteSecret"},
	"secretsmanager get-random-password":         {"secretsmanager:GetRandomPassword"},
	"secretsmanager get-secret-value":            {"secretsmanager:GetSecretValue"},
	"secretsmanager put-secret-value":            {"secretsmanager:PutSecretValue", "kms:GenerateDataKey", "kms:Decrypt"}, // the stage key (stagekey.go)
	"secretsmanager describe-secret":             {"secretsmanager:DescribeSecret"},
	"secretsmanager update-secret":               {"secretsmanager:UpdateSecret", "kms:GenerateDataKey", "kms:Decrypt"}, // --kms-key-id: the new key
	"secretsmanager update-secret-version-stage": {"secretsmanager:UpdateSecretVersionStage"},
	"secretsmanager restore-secret":              {"secretsmanager:RestoreSecret"},
	"secretsmanager rotate-secret":               {"secretsmanager:RotateSecret"},
	"sso login":                                  {}, // IAM Identity Center sign-in (aws sso login), before any role is assumed
}

// administratorCalls are runbook commands the operator role must not be able to run, with why: the runbook says an
// administrator runs them (TestOperatorRoleAllowsEveryManualCall checks both).
var administratorCalls = map[string]struct {
	actions []string
	why     string
}{
	"cloudformation update-termination-protection": {[]string{"cloudformation:UpdateTerminationProtection"},
		"with DeleteStack it would let the operator delete a live prod stack"},
	"elbv2 modify-load-balancer-attributes": {[]string{"elasticloadbalancing:ModifyLoadBalancerAttributes"},
		"the live load balancer's settings (its deletion protection after a failed first create, then step 3 is an administrator's anyway)"},
}

// operatorNoResourceLevel are the operator's actions IAM cannot scope to a resource (Service Authorization
// Reference), beside the deploy role's noResourceLevel.
var operatorNoResourceLevel = map[string]bool{"ecs:DeregisterTaskDefinition": true, "ecs:ListTasks": true,
	"ec2:DescribeSecurityGroups": true, "ec2:DescribeNatGateways": true, "ce:GetCostAndUsage": true, "secretsmanager:GetRandomPassword": true}

// awsCommandRe finds `aws <service> <command>` (or `aws <service> wait <waiter>`) in text.
var awsCommandRe = regexp.MustCompile(`\baws ([a-z0-9-]+) (wait [a-z0-9-]+|[a-z0-9-]+)`)

// manualCalls are the AWS CLI commands of docs/runbook.md (code blocks and prose alike; a command wrapped over
// lines or continued with a backslash counts) and the calls scripts/restore.sh makes (recorded by its tests in
// scripts/testdata/aws-calls.txt), each "service command" with where it was found.
func manualCalls(t *testing.T) map[string]string {
	t.Helper()
	found := map[string]string{}
	runbook, err := os.ReadFile(filepath.Join("..", "docs", "runbook.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.NewReplacer("\\\n", " ", "\n", " ", "`", " ").Replace(string(runbook))
	text = regexp.MustCompile(`\s+`).ReplaceAllString(text, " ")
	for _, m := range awsCommandRe.FindAllStringSubmatch(text, -1) {
		found[m[1]+" "+m[2]] = "docs/runbook.md"
	}
	for _, c := range recordedCalls(t, map[string]bool{"restore.sh": true}) {
		found[c.call] = "scripts/restore.sh"
	}
	return found
}

// TestOperatorRoleAllowsEveryManualCall: each stage's operator role allows every AWS call of the runbook's
// manual steps and of restore.sh, and nothing else; each on the stage's own resources where IAM can name them.
func TestOperatorRoleAllowsEveryManualCall(t *testing.T) {
	// GIVEN the commands collected from docs/runbook.md and restore.sh's recorded calls
	calls := manualCalls(t)
	needed := map[string]bool{}
	for call, where := range calls {
		if _, admin := administratorCalls[call]; admin {
			continue
		}
		actions, known := operatorCLIActions[call]
		if !known {
			actions, known = cliActions[call]
		}
		if !known {
			t.Errorf("%s: aws %s has no IAM actions in operatorCLIActions (or cliActions): add them, and allow them in operator.go", where, call)
		}
		for _, a := range actions {
			needed[a] = true
		}
	}
	for _, a := range recoveryActions() { // a failed first create (TestEveryDeletionProtectedResourceHasARecovery)
		needed[a] = true
	}
	for _, must := range []string{"rds restore-db-instance-to-point-in-time", "s3api copy-object", "secretsmanager put-secret-value", "ecs run-task"} {
		if calls[must] == "" {
			t.Fatalf("aws %s not found in docs/runbook.md or restore.sh's calls: the collection is broken (found %v)", must, sortedCalls(calls))
		}
	}
	for _, stage := range config.Stages() {
		n := Names{stage}
		statements := roleStatements(t, ci.Stack, logicalIDOf(t, ci.Stack, ci.OperatorRoles[stage].Node().DefaultChild()))
		// WHEN the stage's operator role is read THEN no administrator's call is allowed...
		for call, admin := range administratorCalls {
			if calls[call] == "" {
				t.Errorf("administratorCalls lists aws %s, which docs/runbook.md no longer prints", call)
			}
			for _, a := range admin.actions {
				if grants(statements, a) {
					t.Errorf("%s operator role allows %s (aws %s), an administrator's step: %s", stage, a, call, admin.why)
				}
			}
		}
		// ...and every needed action is allowed...
		for _, a := range sortedKeys(needed) {
			if !grants(statements, a) {
				t.Errorf("%s operator role does not allow %s", stage, a)
			}
		}
		for _, st := range statements {
			actions := atStrings(t, st, "Action")
			for _, a := range actions {
				// ...nothing else...
				if !needed[a] {
					t.Errorf("%s operator role grants %s, which no manual step calls", stage, a)
				}
			}
			// ...and only on this stage's resources, or type-wide where the statement says why.
			for _, res := range list(st["Resource"]) {
				checkOperatorResource(t, n, st, actions, mustJSON(res))
			}
		}
	}
}

func checkOperatorResource(t *testing.T, n Names, st map[string]interface{}, actions []string, res string) {
	t.Helper()
	condition := mustJSON(st["Condition"])
	switch {
	case res == `"*"`:
		for _, a := range actions {
			if !noResourceLevel[a] && !operatorNoResourceLevel[a] {
				t.Errorf("%s operator role grants %s on *", n.Stage, a)
			}
		}
	case strings.Contains(res, `:loadbalancer/app/*"`): // CloudFormation names it: only the stage's, by its stack-name tag
		if !strings.Contains(condition, `"aws:ResourceTag/aws:cloudformation:stack-name":"`+n.Stack("compute")+`"`) {
			t.Errorf("%s operator role: %v on any load balancer: %s", n.Stage, actions, condition)
		}
	case strings.Contains(res, ":key/*"): // KMS keys: only through a service, and only the stage's data or stage key for grants and data
		if !strings.Contains(condition, "kms:ViaService") {
			t.Errorf("%s operator role uses any KMS key without kms:ViaService: %v %s", n.Stage, actions, condition)
		}
		if a := strings.Join(actions, ","); a != "kms:DescribeKey" && !strings.Contains(condition, `"`+n.DataKeyAlias()+`"`) &&
			!strings.Contains(condition, `"`+n.StageKeyAlias()+`"`) {
			t.Errorf("%s operator role: %s on keys other than %s and %s: %s", n.Stage, a, n.DataKeyAlias(), n.StageKeyAlias(), condition)
		}
	case strings.Contains(res, "secret:rds!db-*"): // RDS names its secrets: read and rotate only by their instance
		for _, a := range actions {
			if (a == "secretsmanager:GetSecretValue" || a == "secretsmanager:RotateSecret") &&
				!strings.Contains(condition, ":db:"+n.Database()) {
				t.Errorf("%s operator role: %s on RDS-managed secrets of any instance: %s", n.Stage, a, condition)
			}
		}
	case regexp.MustCompile(`:(snapshot|subgrp|pg|og|auto-backup):\*"`).MatchString(res):
		for _, a := range actions {
			if !strings.HasPrefix(a, "rds:Restore") && a != "rds:DescribeDBInstanceAutomatedBackups" {
				t.Errorf("%s operator role: %s on every %s", n.Stage, a, res)
			}
		}
	default:
		ours := false
		for _, name := range []string{"h2o-" + n.Stage + "-", "/" + n.Cluster() + "/", ":cluster/" + n.Cluster() + `"`, n.MigrationFamily(),
			"h2o/" + n.Stage + "/", n.BackendLogs() + ":", "BackendRepository"} {
			ours = ours || strings.Contains(res, name)
		}
		if !ours {
			t.Errorf("%s operator role reaches beyond its stage: %v on %s", n.Stage, actions, res)
		}
	}
}

// TestOperatorRoleIsScopedBothWays evaluates the operator policy (policy_test.go's evaluator, which fails closed,
// so each refusal below stands beside a request the same statements allow)
// on requests its stage's manual steps make and on neighbouring ones they must not.
func TestOperatorRoleIsScopedBothWays(t *testing.T) {
	for _, stage := range config.Stages() {
		other := "dev"
		if stage == "dev" {
			other = "prod"
		}
		n, o := Names{stage}, Names{other}
		statements := roleStatements(t, ci.Stack, logicalIDOf(t, ci.Stack, ci.OperatorRoles[stage].Node().DefaultChild()))
		rds := func(kind, name string) string {
			return "arn:aws:rds:us-east-1:" + testAccount + ":" + kind + ":" + name
		}
		secret := func(name string) string {
			return "arn:aws:secretsmanager:us-east-1:" + testAccount + ":secret:" + name + "-AbCdEf"
		}
		restored := n.DatabaseRestore() + "202612011405"
		alb := "arn:aws:elasticloadbalancing:us-east-1:" + testAccount + ":loadbalancer/app/h2o-p-LoadB-0123ABCD/0123456789abcdef"
		tagged := func(instance string) map[string]string {
			return map[string]string{"secretsmanager:ResourceTag/aws:rds:primaryDBInstanceArn": rds("db", instance)}
		}
		cases := []struct {
			want bool
			r    request
		}{
			{true, request{action: "rds:DeleteDBInstance", resource: rds("db", restored)}},
			{false, request{action: "rds:DeleteDBInstance", resource: rds("db", n.Database())}},
			{false, request{action: "rds:DeleteDBInstance", resource: rds("db", o.DatabaseRestore()+"202612011405")}},
			{true, request{action: "rds:ModifyDBInstance", resource: rds("db", restored)}},
			// the live instance and the load balancer: never (their deletion protection is an administrator's)
			{false, request{action: "rds:ModifyDBInstance", resource: rds("db", n.Database())}},
			{false, request{action: "rds:ModifyDBInstance", resource: rds("db", o.Database())}},
			{false, request{action: "elasticloadbalancing:ModifyLoadBalancerAttributes", resource: alb,
				context: map[string]string{"aws:ResourceTag/aws:cloudformation:stack-name": n.Stack("compute")}}},
			{false, request{action: "elasticloadbalancing:ModifyLoadBalancerAttributes", resource: alb,
				context: map[string]string{"aws:ResourceTag/aws:cloudformation:stack-name": o.Stack("compute")}}},
			{false, request{action: "elasticloadbalancing:ModifyLoadBalancerAttributes", resource: alb}},
			{true, request{action: "rds:RestoreDBInstanceToPointInTime", resource: rds("db", restored)}},
			{false, request{action: "rds:RestoreDBInstanceToPointInTime", resource: rds("db", o.DatabaseRestore()+"202612011405")}},
			{true, request{action: "secretsmanager:GetSecretValue", resource: secret("rds!db-0123"), context: tagged(restored)}},
			{false, request{action: "secretsmanager:GetSecretValue", resource: secret("rds!db-0123"), context: tagged(n.Database())}},
			{true, request{action: "secretsmanager:RotateSecret", resource: secret("rds!db-0123"), context: tagged(n.Database())}},
			{false, request{action: "secretsmanager:RotateSecret", resource: secret("rds!db-0123"), context: tagged(restored)}},
			{true, request{action: "secretsmanager:PutSecretValue", resource: secret(n.AppSecret("AI_API_KEY"))}},
			{false, request{action: "secretsmanager:PutSecretValue", resource: secret(o.AppSecret("AI_API_KEY"))}},
			{false, request{action: "secretsmanager:GetSecretValue", resource: secret(n.Secret("cache-auth"))}},
			{true, request{action: "s3:PutObject", resource: "arn:aws:s3:::" + n.PdfBucketPrefix() + "fa9e115a-1a2b3c4d5e6f/invoices/1.pdf"}},
			{false, request{action: "s3:PutObject", resource: "arn:aws:s3:::" + o.PdfBucketPrefix() + "fa9e115a-1a2b3c4d5e6f/invoices/1.pdf"}},
			{false, request{action: "s3:DeleteObject", resource: "arn:aws:s3:::" + n.Stack("compute") + "-alblogbucket-0123/x"}},
			{true, request{action: "ecs:UpdateService", resource: "arn:aws:ecs:us-east-1:" + testAccount + ":service/" + n.Cluster() + "/" + n.Service()}},
			{false, request{action: "ecs:UpdateService", resource: "arn:aws:ecs:us-east-1:" + testAccount + ":service/" + o.Cluster() + "/" + o.Service()}},
		}
		for _, c := range cases {
			// GIVEN the stage's operator WHEN a request is evaluated THEN it is allowed exactly when it should be
			if got := identityAllows(statements, c.r); got != c.want {
				t.Errorf("%s operator: %s: allowed %v, want %v", stage, c.r, got, c.want)
			}
		}
	}
}

// identityAllows is allows for an identity policy (its statements name no principal): one Allow statement
// matches the action, the resource and every condition (explicit denies are not modelled: the app writes none).
func identityAllows(statements []map[string]interface{}, r request) bool {
	for _, st := range statements {
		if st["Effect"] == "Allow" && actionMatches(st["Action"], r.action) && resourceMatches(st["Resource"], r.resource) &&
			conditionsHold(st["Condition"], r.context) {
			return true
		}
	}
	return false
}

func TestOperatorRoleTrustsTheAccountWithMFAOrTheNamedPeople(t *testing.T) {
	// GIVEN h2o-ci with the default settings and the variant naming an Identity Center permission set
	for _, tc := range []struct {
		name  string
		stack *CiStack
		want  map[string]interface{}
	}{
		{"default", ci, map[string]interface{}{"Bool": map[string]interface{}{"aws:MultiFactorAuthPresent": "true"}}},
		{"identity center", ciImported, map[string]interface{}{"ArnLike": map[string]interface{}{"aws:PrincipalArn": []interface{}{variantOperatorPrincipal}}}},
	} {
		for _, stage := range config.Stages() {
			// WHEN the operator role's trust is read
			role := resourceOf(t, tc.stack.Stack, tc.stack.OperatorRoles[stage])
			statements := atMaps(t, role, "Properties.AssumeRolePolicyDocument.Statement")
			// THEN people of this account assume it, with MFA or as the named principals, for a restore's length
			account := map[string]interface{}{"AWS": map[string]interface{}{"Fn::Join": []interface{}{"",
				[]interface{}{"arn:aws:iam::", map[string]interface{}{"Ref": "AWS::AccountId"}, ":root"}}}}
			want := map[string]interface{}{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": account, "Condition": tc.want}
			if len(statements) != 1 || !jsonEqual(statements[0], want) {
				t.Errorf("%s %s operator trust %s, want %s", tc.name, stage, mustJSON(statements), mustJSON(want))
			}
			if got := atString(t, role, "Properties.RoleName"); got != (Names{stage}).OperatorRole() {
				t.Errorf("%s operator role named %s", stage, got)
			}
			if props(role)["MaxSessionDuration"] != float64(4*3600) {
				t.Errorf("%s operator sessions last %v s, want 4 h (a restore waits for RDS)", stage, props(role)["MaxSessionDuration"])
			}
		}
	}
	outputs := mustJSON(atMap(t, templateJSON(ci.Stack), "Outputs"))
	for _, stage := range config.Stages() {
		if !strings.Contains(outputs, `"OperatorRoleArn`+stage+`"`) {
			t.Errorf("h2o-ci has no output OperatorRoleArn%s", stage)
		}
	}
}

// sortedCalls lists what manualCalls found, for a failure message.
func sortedCalls(calls map[string]string) []string {
	out := make([]string, 0, len(calls))
	for c := range calls {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}
