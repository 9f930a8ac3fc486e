package stacks

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"

	"h2o-infra/config"
)

func TestEcrRepositoryLivesInTheCiStack(t *testing.T) {
	// GIVEN h2o-ci WHEN synthesized THEN it holds the one backend repository: scanned, retained, tags immutable but
	// for the live-*/previous-* markers
	_, repo := only(t, ci.Stack, "AWS::ECR::Repository")
	p := props(repo)
	if p["RepositoryName"] != "h2o-backend" || p["ImageTagMutability"] != "IMMUTABLE_WITH_EXCLUSION" ||
		!jsonEqual(p["ImageScanningConfiguration"], map[string]interface{}{"ScanOnPush": true}) ||
		// AES-256 is ECR's default encryption (ECR API reference, "EncryptionConfiguration"); CDK leaves the property
		// out for it.
		!(p["EncryptionConfiguration"] == nil || jsonEqual(p["EncryptionConfiguration"], map[string]interface{}{"EncryptionType": "AES256"})) {
		t.Errorf("repository %v", p)
	}
	// Only the marker tags move; every other tag (the commit SHAs) is immutable.
	wantFilters := []interface{}{
		map[string]interface{}{"ImageTagMutabilityExclusionFilterType": "WILDCARD", "ImageTagMutabilityExclusionFilterValue": "live-*"},
		map[string]interface{}{"ImageTagMutabilityExclusionFilterType": "WILDCARD", "ImageTagMutabilityExclusionFilterValue": "previous-*"},
	}
	if !jsonEqual(p["ImageTagMutabilityExclusionFilters"], wantFilters) {
		t.Errorf("mutable tags %v, want live-* and previous-* only", p["ImageTagMutabilityExclusionFilters"])
	}
	if repo["DeletionPolicy"] != "RetainExceptOnCreate" {
		t.Errorf("repository DeletionPolicy %v, want RetainExceptOnCreate", repo["DeletionPolicy"])
	}
}

// TestLifecycleNeverExpiresAStagesImages runs the synthesized lifecycle policy over a repository where prod runs
// an old image and dev has pushed hundreds since: the images each stage runs and would roll back to survive,
// everything else beyond the newest 30 (and untagged leftovers) is cleaned up.
func TestLifecycleNeverExpiresAStagesImages(t *testing.T) {
	_, repo := only(t, ci.Stack, "AWS::ECR::Repository")
	policy := atString(t, repo, "Properties.LifecyclePolicy.LifecyclePolicyText")
	// GIVEN prod's running and previous images pushed a year ago, dev's pushed long before its last 500 pushes
	images := []ecrImage{
		{"prod-running", 400, []string{"aaa111", "live-prod"}}, {"prod-previous", 420, []string{"bbb222", "previous-prod"}},
		{"dev-running", 300, []string{"ccc333", "live-dev"}}, {"dev-previous", 310, []string{"ddd444", "previous-dev"}},
		{"failed-push", 3, nil},
	}
	for i := 0; i < 500; i++ {
		images = append(images, ecrImage{fmt.Sprintf("push-%03d", i), float64(i) / 2, []string{fmt.Sprintf("sha%03d", i)}})
	}
	// WHEN ECR evaluates the policy
	expired, err := expiredBy(policy, images)
	if err != nil {
		t.Fatal(err)
	}
	// THEN the marker-tagged images and the newest 30 pushes survive; the rest goes
	for _, keep := range []string{"prod-running", "prod-previous", "dev-running", "dev-previous", "push-000", "push-029"} {
		if expired[keep] {
			t.Errorf("%s expired", keep)
		}
	}
	for _, gone := range []string{"push-030", "push-499", "failed-push"} {
		if !expired[gone] {
			t.Errorf("%s kept: the policy no longer cleans up", gone)
		}
	}
}

type ecrImage struct {
	name    string
	ageDays float64
	tags    []string
}

// expiredBy applies an ECR lifecycle policy as the ECR user guide's "Lifecycle policy evaluation rules" describe:
// rules by ascending priority; an image matched by a rule's tag selection cannot be expired by a later rule;
// imageCountMoreThan keeps the youngest N of its selection; sinceImagePushed expires those older than N days.
func expiredBy(policyText string, images []ecrImage) (map[string]bool, error) {
	var policy struct {
		Rules []struct {
			RulePriority int
			Selection    struct {
				TagStatus     string
				TagPrefixList []string
				CountType     string
				CountUnit     string
				CountNumber   float64
			}
		}
	}
	if err := json.Unmarshal([]byte(policyText), &policy); err != nil {
		return nil, err
	}
	sort.Slice(policy.Rules, func(i, j int) bool { return policy.Rules[i].RulePriority < policy.Rules[j].RulePriority })
	expired, claimed := map[string]bool{}, map[string]bool{}
	for _, rule := range policy.Rules {
		sel := rule.Selection
		var selected []ecrImage
		for _, img := range images {
			if claimed[img.name] || !tagsMatch(sel.TagStatus, sel.TagPrefixList, img.tags) {
				continue
			}
			claimed[img.name] = true
			selected = append(selected, img)
		}
		sort.Slice(selected, func(i, j int) bool { return selected[i].ageDays < selected[j].ageDays })
		for i, img := range selected {
			switch sel.CountType {
			case "imageCountMoreThan":
				expired[img.name] = i >= int(sel.CountNumber)
			case "sinceImagePushed":
				if sel.CountUnit != "days" {
					return nil, fmt.Errorf("count unit %s", sel.CountUnit)
				}
				expired[img.name] = img.ageDays > sel.CountNumber
			default:
				return nil, fmt.Errorf("count type %s", sel.CountType)
			}
		}
	}
	return expired, nil
}

func tagsMatch(status string, prefixes, tags []string) bool {
	switch status {
	case "untagged":
		return len(tags) == 0
	case "any":
		return true
	}
	if len(tags) == 0 {
		return false
	}
	for _, p := range prefixes {
		found := false
		for _, tag := range tags {
			found = found || strings.HasPrefix(tag, p)
		}
		if !found {
			return false
		}
	}
	return true
}

func TestAnExistingGithubOidcProviderIsImportedNotCreated(t *testing.T) {
	// GIVEN githubOidcProviderArn (an account whose GitHub provider already exists) WHEN h2o-ci is built
	tm := tmpl(ciImported.Stack)
	// THEN it creates no provider (a second one for the same URL fails with EntityAlreadyExists: one provider per URL,
	// unfunco/terraform-aws-oidc-github#23) and the roles trust the given one
	expect(t, "no provider", func() { tm.ResourceCountIs(jsii.String("AWS::IAM::OIDCProvider"), jsii.Number(0)) })
	roles := resources(t, ciImported.Stack, "AWS::IAM::Role")
	if len(roles) == 0 {
		t.Fatal("h2o-ci with an imported provider has no role")
	}
	operators := operatorRoleIDs(t, ciImported)
	for id, r := range roles {
		if operators[id] {
			continue // people, not GitHub (TestOperatorRoleTrustsTheAccountWithMFAOrTheNamedPeople)
		}
		if trust := mustJSON(props(r)["AssumeRolePolicyDocument"]); !strings.Contains(trust, `"Federated":"`+importedOidcArn+`"`) {
			t.Errorf("role %v does not trust the imported provider: %s", props(r)["RoleName"], trust)
		}
	}
}

func TestGithubRolesTrustOnlyTheRepositoryAndEnvironment(t *testing.T) {
	// GIVEN h2o-ci WHEN synthesized THEN each GitHub role trusts exactly its repository's environment (or pull
	// requests) through the native OIDC provider, and changes infrastructure only through the CDK bootstrap roles
	expect(t, "native OIDC provider (no custom resource)", func() {
		tmpl(ci.Stack).HasResourceProperties(jsii.String("AWS::IAM::OIDCProvider"), &map[string]interface{}{
			"Url": "https://token.actions.githubusercontent.com", "ClientIdList": []interface{}{"sts.amazonaws.com"}})
	})
	subs := map[string]string{
		"h2o-dev-deploy":  "repo:h2o-allegiant/h2o-infra:environment:dev",
		"h2o-prod-deploy": "repo:h2o-allegiant/h2o-infra:environment:prod",
		"h2o-diff":        "repo:h2o-allegiant/h2o-infra:pull_request",
		// Scheduled runs of the default branch (drift.go, driftBranch).
		DriftRoleName: "repo:h2o-allegiant/h2o-infra:ref:refs/heads/main",
	}
	roles := resources(t, ci.Stack, "AWS::IAM::Role")
	operators := operatorRoleIDs(t, ci)
	if len(roles) != len(subs)+len(operators) {
		t.Errorf("%d roles, want %d GitHub roles and %d operator roles", len(roles), len(subs), len(operators))
	}
	provider := logicalIDOf(t, ci.Stack, ci.Stack.Node().FindChild(jsii.String("GithubOidc")).Node().DefaultChild())
	for id, r := range roles {
		if operators[id] {
			continue
		}
		name := atString(t, r, "Properties.RoleName")
		want, ok := subs[name]
		statements := atMaps(t, r, "Properties.AssumeRolePolicyDocument.Statement")
		exactly := map[string]interface{}{"Action": "sts:AssumeRoleWithWebIdentity", "Effect": "Allow",
			"Principal": map[string]interface{}{"Federated": map[string]interface{}{"Ref": provider}},
			"Condition": map[string]interface{}{"StringEquals": map[string]interface{}{
				"token.actions.githubusercontent.com:aud": "sts.amazonaws.com", "token.actions.githubusercontent.com:sub": want}}}
		if !ok || len(statements) != 1 || !jsonEqual(statements[0], exactly) {
			t.Errorf("role %s trusts %s, want exactly %s", name, mustJSON(statements), mustJSON(exactly))
		}
	}
	diffRole := logicalIDOf(t, ci.Stack, ci.DiffRole.Node().DefaultChild())
	driftRole := logicalIDOf(t, ci.Stack, ci.DriftRole.Node().DefaultChild())
	diffPolicies := 0
	for id, pol := range resources(t, ci.Stack, "AWS::IAM::Policy") {
		doc := mustJSON(props(pol)["PolicyDocument"])
		if attached := list(props(pol)["Roles"]); len(attached) == 1 && operators[atString(t, attached[0], "Ref")] {
			continue // the operator's policy: TestOperatorRoleAllowsEveryManualCall
		}
		if jsonEqual(props(pol)["Roles"], []interface{}{map[string]interface{}{"Ref": driftRole}}) {
			continue // read-only, held to the nightly scripts' calls and the templates' types: drift_test.go
		}
		// Infrastructure changes go through the CDK bootstrap roles only (TestDeployRoleAllowsEveryScriptCall holds
		// the rest of the deploy roles to the scripts' calls).
		for _, forbidden := range []string{`"cloudformation:CreateStack`, `"cloudformation:UpdateStack`, `"iam:CreateRole`, `"iam:Put`, `"*"` + `]`, `"Action":"*"`} {
			if strings.Contains(doc, forbidden) {
				t.Errorf("%s grants %s: %s", id, forbidden, doc)
			}
		}
		if jsonEqual(props(pol)["Roles"], []interface{}{map[string]interface{}{"Ref": diffRole}}) {
			diffPolicies++
			if strings.Contains(doc, "ecr:") || strings.Contains(doc, "deploy-role") {
				t.Errorf("the pull-request role can deploy or push: %s", doc)
			}
		}
		if !strings.Contains(doc, "cdk-hnb659fds-") {
			t.Errorf("%s does not assume CDK bootstrap roles: %s", id, doc)
		}
	}
	if diffPolicies == 0 {
		t.Errorf("no policy of the pull-request role %s found", diffRole)
	}
}

// cliActions maps each `aws <service> <command>` the scripts run to the IAM actions it needs (waiters poll a
// Describe call; register-scalable-target also checks the caller may update the service: Application Auto Scaling
// user guide, "Identity-based policies"; run-task and register-task-definition pass the task's roles).
var cliActions = map[string][]string{
	"application-autoscaling describe-scalable-targets": {"application-autoscaling:DescribeScalableTargets"},
	"application-autoscaling register-scalable-target":  {"application-autoscaling:RegisterScalableTarget", "ecs:DescribeServices", "ecs:UpdateService"},
	"backup describe-backup-vault":                      {"backup:DescribeBackupVault"},
	"backup list-recovery-points-by-backup-vault":       {"backup:ListRecoveryPointsByBackupVault"},
	"cloudformation describe-stack-resources":           {"cloudformation:DescribeStackResources"},
	"cloudformation get-template":                       {"cloudformation:GetTemplate"},
	"cloudformation describe-stacks":                    {"cloudformation:DescribeStacks"},
	"cloudfront get-distribution":                       {"cloudfront:GetDistribution"},
	"cloudwatch describe-alarms":                        {"cloudwatch:DescribeAlarms"},
	"cloudwatch get-metric-data":                        {"cloudwatch:GetMetricData"},
	"cloudwatch get-metric-statistics":                  {"cloudwatch:GetMetricStatistics"},
	"cloudwatch set-alarm-state":                        {"cloudwatch:SetAlarmState"},
	"ec2 describe-availability-zones":                   {"ec2:DescribeAvailabilityZones"},
	"ec2 describe-managed-prefix-lists":                 {"ec2:DescribeManagedPrefixLists"},
	"ecr batch-get-image":                               {"ecr:BatchGetImage"},
	"ecr describe-images":                               {"ecr:DescribeImages"},
	"ecr get-login-password":                            {"ecr:GetAuthorizationToken"},
	"ecr put-image":                                     {"ecr:PutImage"},
	"ecs describe-service-deployments":                  {"ecs:DescribeServiceDeployments"},
	"ecs describe-services":                             {"ecs:DescribeServices"},
	"ecs describe-task-definition":                      {"ecs:DescribeTaskDefinition"},
	"ecs describe-tasks":                                {"ecs:DescribeTasks"},
	// Tags on creation need ecs:TagResource (ECS developer guide, "Grant permission to tag resources on creation").
	"ecs register-task-definition":    {"ecs:RegisterTaskDefinition", "ecs:TagResource", "iam:PassRole"},
	"ecs list-service-deployments":    {"ecs:ListServiceDeployments"},
	"ecs run-task":                    {"ecs:RunTask", "iam:PassRole"},
	"ecs stop-service-deployment":     {"ecs:StopServiceDeployment"},
	"ecs update-service":              {"ecs:UpdateService"},
	"ecs wait services-stable":        {"ecs:DescribeServices"},
	"ecs wait tasks-stopped":          {"ecs:DescribeTasks"},
	"elbv2 describe-target-health":    {"elasticloadbalancing:DescribeTargetHealth"},
	"rds describe-db-instances":       {"rds:DescribeDBInstances"},
	"rds start-db-instance":           {"rds:StartDBInstance"},
	"rds wait db-instance-available":  {"rds:DescribeDBInstances"},
	"secretsmanager describe-secret":  {"secretsmanager:DescribeSecret"},
	"sts get-caller-identity":         {}, // needs no permission
	"wafv2 get-logging-configuration": {"wafv2:GetLoggingConfiguration"},
	// drift.sh: CloudFormation authorizes a stack's detection as DetectStackResourceDrift too (user guide, drift
	// detection Considerations); publishing to a topic under a customer managed key needs the key (drift.go).
	"cloudformation detect-stack-drift":                    {"cloudformation:DetectStackDrift", "cloudformation:DetectStackResourceDrift"},
	"cloudformation describe-stack-drift-detection-status": {"cloudformation:DescribeStackDriftDetectionStatus"},
	"cloudformation describe-stack-resource-drifts":        {"cloudformation:DescribeStackResourceDrifts"},
	"sns publish": {"sns:Publish", "kms:GenerateDataKey*", "kms:Decrypt"},
	// versions.sh (and verify.sh, which runs its check).
	"rds describe-db-major-engine-versions":      {"rds:DescribeDBMajorEngineVersions"},
	"rds describe-db-engine-versions":            {"rds:DescribeDBEngineVersions"},
	"rds describe-pending-maintenance-actions":   {"rds:DescribePendingMaintenanceActions"},
	"elasticache describe-cache-engine-versions": {"elasticache:DescribeCacheEngineVersions"},
	"elasticache describe-replication-groups":    {"elasticache:DescribeReplicationGroups"},
	"elasticache describe-cache-clusters":        {"elasticache:DescribeCacheClusters"},
	"elasticache describe-update-actions":        {"elasticache:DescribeUpdateActions"},
}

// noResourceLevel are the deploy role's actions that IAM cannot scope to a resource.
var noResourceLevel = map[string]bool{"ecr:GetAuthorizationToken": true, "ecs:DescribeTaskDefinition": true, "ecs:RegisterTaskDefinition": true,
	"application-autoscaling:DescribeScalableTargets": true, "application-autoscaling:RegisterScalableTarget": true,
	"elasticloadbalancing:DescribeTargetHealth": true, "cloudwatch:GetMetricStatistics": true, "ec2:DescribeManagedPrefixLists": true,
	"ec2:DescribeAvailabilityZones": true, "cloudwatch:GetMetricData": true,
	// The engine version catalogs are AWS's, not a resource of the account; pending maintenance and update actions
	// are granted type-wide too (whether IAM scopes them to an instance or group is unverified: "*" always works).
	"rds:DescribeDBMajorEngineVersions": true, "rds:DescribeDBEngineVersions": true, "rds:DescribePendingMaintenanceActions": true,
	"elasticache:DescribeCacheEngineVersions": true, "elasticache:DescribeUpdateActions": true}

// pipelineScripts run with a stage's deploy role (the workflows); restore.sh is an operator's (docs/runbook.md).
var pipelineScripts = map[string]bool{"deploy.sh": true, "migrate.sh": true, "rollback.sh": true, "verify.sh": true}

// recordedCall is one AWS call a script's tests recorded (scripts/testdata/aws-calls.txt, "<script> aws <call>").
type recordedCall struct{ line, script, call string }

// recordedCalls are the recorded calls of the given scripts.
func recordedCalls(t *testing.T, scripts map[string]bool) []recordedCall {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "scripts", "testdata", "aws-calls.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var out []recordedCall
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if script, call, _ := strings.Cut(line, " aws "); scripts[script] {
			out = append(out, recordedCall{line, script, call})
		}
	}
	return out
}

// actions are the IAM actions a recorded call needs (cliActions); a call without an entry fails the test.
func (c recordedCall) actions(t *testing.T) []string {
	t.Helper()
	actions, known := cliActions[c.call]
	if !known {
		t.Errorf("%s: aws %s has no IAM actions in cliActions: add them", c.script, c.call)
	}
	return actions
}

// TestDeployRoleAllowsEveryScriptCall: every AWS call the pipeline's scripts make (recorded by their tests in
// scripts/testdata/aws-calls.txt) is allowed by each stage's deploy role, and the role allows nothing else but
// assuming the CDK bootstrap roles (cdk deploy) and pushing images (docker push); passing a role is limited to
// the stage's two backend roles, for ECS tasks.
func TestDeployRoleAllowsEveryScriptCall(t *testing.T) {
	// GIVEN the AWS calls the pipeline scripts make WHEN checked against each stage's deploy role THEN each is
	// allowed, and nothing else is
	needed := map[string]bool{"sts:AssumeRole": true}
	for _, a := range []string{"BatchCheckLayerAvailability", "GetDownloadUrlForLayer", "InitiateLayerUpload", "UploadLayerPart", "CompleteLayerUpload"} {
		needed["ecr:"+a] = true // docker push and pull
	}
	var calls [][]string
	for _, c := range recordedCalls(t, pipelineScripts) {
		actions := c.actions(t)
		for _, a := range actions {
			needed[a] = true
		}
		calls = append(calls, append([]string{c.line}, actions...))
	}
	if len(calls) < 20 {
		t.Fatalf("only %d pipeline calls in aws-calls.txt", len(calls))
	}
	for _, stage := range config.Stages() {
		statements := roleStatements(t, ci.Stack, logicalIDOf(t, ci.Stack, ci.DeployRoles[stage].Node().DefaultChild()))
		for _, call := range calls {
			for _, action := range call[1:] {
				if !grants(statements, action) {
					t.Errorf("%s deploy role: %s needs %s", stage, call[0], action)
				}
			}
		}
		for _, st := range statements {
			// Every resource names this stage's resources, the repository or the bootstrap roles; "*" only for
			// actions IAM offers no resource-level permission for (Service Authorization Reference).
			for _, res := range list(st["Resource"]) {
				text := mustJSON(res)
				if text == `"*"` {
					for _, a := range atStrings(t, st, "Action") {
						if !noResourceLevel[a] {
							t.Errorf("%s deploy role grants %s on *", stage, a)
						}
					}
					continue
				}
				n := Names{stage}
				ours := false
				for _, name := range []string{"h2o-" + stage + "-", ":cluster/" + n.Cluster(), "/" + n.Cluster() + "/", n.TaskFamily() + ":",
					n.MigrationFamily() + ":", "rds!db-", "distribution/*", "BackendRepository", "cdk-hnb659fds-"} {
					ours = ours || strings.Contains(text, name)
				}
				if !ours {
					t.Errorf("%s deploy role reaches beyond its stage: %s on %s", stage, mustJSON(st["Action"]), text)
				}
			}
			for _, a := range atStrings(t, st, "Action") {
				if !needed[a] {
					t.Errorf("%s deploy role grants %s, which no pipeline script calls", stage, a)
				}
				if a == "iam:PassRole" {
					want := []string{Names{stage}.BackendRole("execution"), Names{stage}.BackendRole("task")}
					if res := mustJSON(st["Resource"]); !strings.Contains(res, ":role/"+want[0]) || !strings.Contains(res, ":role/"+want[1]) ||
						len(list(st["Resource"])) != 2 || mustJSON(st["Condition"]) != `{"StringEquals":{"iam:PassedToService":"ecs-tasks.amazonaws.com"}}` {
						t.Errorf("%s deploy role passes %s with %v, want only %v to ECS tasks", stage, res, st["Condition"], want)
					}
				}
			}
		}
	}
}

// operatorRoleIDs are the logical IDs of a build's operator roles.
func operatorRoleIDs(t *testing.T, c *CiStack) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	for _, role := range c.OperatorRoles {
		ids[logicalIDOf(t, c.Stack, role.Node().DefaultChild())] = true
	}
	return ids
}

func grants(statements []map[string]interface{}, action string) bool {
	for _, st := range statements {
		if st["Effect"] == "Allow" && actionMatches(st["Action"], action) {
			return true
		}
	}
	return false
}

func TestABackendRepositoryMayOnlyPushImages(t *testing.T) {
	// GIVEN backendRepository (the variant) WHEN h2o-ci is built THEN its main branch gets a role that can push to
	// the repository and nothing else; without it (the default) there is no such role
	expect(t, "no push role by default", func() {
		tmpl(ci.Stack).ResourcePropertiesCountIs(jsii.String("AWS::IAM::Role"), &map[string]interface{}{"RoleName": "h2o-backend-push"}, jsii.Number(0))
	})
	var roleID string
	for id, r := range resources(t, ciImported.Stack, "AWS::IAM::Role") {
		if props(r)["RoleName"] == "h2o-backend-push" {
			roleID = id
			if trust := mustJSON(props(r)["AssumeRolePolicyDocument"]); !strings.Contains(trust, `:sub":"repo:h2o-allegiant/backend:ref:refs/heads/main"`) {
				t.Errorf("push role trust %s", trust)
			}
		}
	}
	if roleID == "" {
		t.Fatal("no h2o-backend-push role")
	}
	// Exactly what a `docker push` of a new tag needs, and checking first whether the tag is there (tags are immutable).
	want := []string{"ecr:BatchCheckLayerAvailability", "ecr:CompleteLayerUpload", "ecr:DescribeImages", "ecr:GetAuthorizationToken",
		"ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart"}
	var got []string
	for _, st := range roleStatements(t, ciImported.Stack, roleID) {
		got = append(got, atStrings(t, st, "Action")...)
	}
	slices.Sort(got)
	if !slices.Equal(slices.Compact(got), want) {
		t.Errorf("the push role may %v, want exactly %v", got, want)
	}
}

func TestDeployCredentialsOutlastADeploy(t *testing.T) {
	// GIVEN the deploy roles WHEN read THEN their sessions may last 2 h: longer than a deploy job's 90 minutes
	for _, stage := range config.Stages() {
		role := resourceOf(t, ci.Stack, ci.DeployRoles[stage])
		if got := props(role)["MaxSessionDuration"]; got != float64(7200) {
			t.Errorf("%s deploy role's sessions last %v s, want 7200", stage, got)
		}
	}
	for _, wf := range []string{"deploy.yml", "rollback.yml"} {
		raw, err := os.ReadFile(filepath.Join("..", ".github", "workflows", wf))
		if err != nil || !strings.Contains(string(raw), "role-duration-seconds: 7200") {
			t.Errorf("%s does not ask for the 2 h session (%v)", wf, err)
		}
	}
}
