package stacks

import (
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"
)

func TestEcrRepositoryLivesInTheCiStack(t *testing.T) {
	_, repo := only(t, ci.Stack, "AWS::ECR::Repository")
	p := props(repo)
	if p["RepositoryName"] != "h2o-backend" || p["ImageTagMutability"] != "IMMUTABLE" ||
		!jsonEqual(p["ImageScanningConfiguration"], map[string]interface{}{"ScanOnPush": true}) ||
		// AES-256 is ECR's default encryption; CDK leaves the property out for it.
		!(p["EncryptionConfiguration"] == nil || jsonEqual(p["EncryptionConfiguration"], map[string]interface{}{"EncryptionType": "AES256"})) {
		t.Errorf("repository %v", p)
	}
	policy := p["LifecyclePolicy"].(map[string]interface{})["LifecyclePolicyText"].(string)
	for _, want := range []string{`"tagStatus":"untagged"`, `"countType":"sinceImagePushed"`, `"countNumber":1`,
		`"tagStatus":"any"`, `"countType":"imageCountMoreThan"`, `"countNumber":30`} {
		if !strings.Contains(policy, want) {
			t.Errorf("lifecycle policy lacks %s: %s", want, policy)
		}
	}
	if repo["DeletionPolicy"] != "Retain" {
		t.Errorf("repository DeletionPolicy %v, want Retain", repo["DeletionPolicy"])
	}
}

func TestGithubRolesTrustOnlyTheRepositoryAndEnvironment(t *testing.T) {
	expect(t, "native OIDC provider (no custom resource)", func() {
		tmpl(ci.Stack).HasResourceProperties(jsii.String("AWS::IAM::OIDCProvider"), &map[string]interface{}{
			"Url": "https://token.actions.githubusercontent.com", "ClientIdList": []interface{}{"sts.amazonaws.com"}})
	})
	subs := map[string]string{
		"h2o-dev-deploy":  "repo:h2o-allegiant/h2o-infra:environment:dev",
		"h2o-prod-deploy": "repo:h2o-allegiant/h2o-infra:environment:prod",
		"h2o-diff":        "repo:h2o-allegiant/h2o-infra:pull_request",
	}
	roles := resources(t, ci.Stack, "AWS::IAM::Role")
	if len(roles) != len(subs) {
		t.Errorf("%d roles, want %d", len(roles), len(subs))
	}
	for _, r := range roles {
		p := props(r)
		want, ok := subs[p["RoleName"].(string)]
		trust := mustJSON(p["AssumeRolePolicyDocument"])
		if !ok || !strings.Contains(trust, `"token.actions.githubusercontent.com:sub":"`+want+`"`) ||
			!strings.Contains(trust, `"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"`) || !strings.Contains(trust, `"StringEquals"`) {
			t.Errorf("role %v trust %s, want exactly sub %s", p["RoleName"], trust, want)
		}
	}
	for id, pol := range resources(t, ci.Stack, "AWS::IAM::Policy") {
		doc := mustJSON(props(pol)["PolicyDocument"])
		// Deploy roles may assume the bootstrap roles and push images; nothing may create or change anything else.
		for _, forbidden := range []string{`"iam:`, `"cloudformation:CreateStack`, `"cloudformation:UpdateStack`, `"ecs:UpdateService`, `"*"` + `]`, `"Action":"*"`} {
			if strings.Contains(doc, forbidden) {
				t.Errorf("%s grants %s: %s", id, forbidden, doc)
			}
		}
		if strings.Contains(id, "DiffRole") && (strings.Contains(doc, "ecr:") || strings.Contains(doc, "deploy-role")) {
			t.Errorf("the pull-request role can deploy or push: %s", doc)
		}
		if !strings.Contains(doc, "cdk-hnb659fds-") {
			t.Errorf("%s does not assume CDK bootstrap roles: %s", id, doc)
		}
	}
}
