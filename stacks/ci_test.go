package stacks

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"
)

func TestEcrRepositoryLivesInTheCiStack(t *testing.T) {
	_, repo := only(t, ci.Stack, "AWS::ECR::Repository")
	p := props(repo)
	if p["RepositoryName"] != "h2o-backend" || p["ImageTagMutability"] != "IMMUTABLE_WITH_EXCLUSION" ||
		!jsonEqual(p["ImageScanningConfiguration"], map[string]interface{}{"ScanOnPush": true}) ||
		// AES-256 is ECR's default encryption; CDK leaves the property out for it.
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
	if repo["DeletionPolicy"] != "Retain" {
		t.Errorf("repository DeletionPolicy %v, want Retain", repo["DeletionPolicy"])
	}
}

// TestLifecycleNeverExpiresAStagesImages runs the synthesized lifecycle policy over a repository where prod runs
// an old image and dev has pushed hundreds since: the images each stage runs and would roll back to survive,
// everything else beyond the newest 30 (and untagged leftovers) is cleaned up.
func TestLifecycleNeverExpiresAStagesImages(t *testing.T) {
	_, repo := only(t, ci.Stack, "AWS::ECR::Repository")
	policy := props(repo)["LifecyclePolicy"].(map[string]interface{})["LifecyclePolicyText"].(string)
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
	// THEN it creates no provider (a second one fails with EntityAlreadyExists) and the roles trust the given one
	expect(t, "no provider", func() { tm.ResourceCountIs(jsii.String("AWS::IAM::OIDCProvider"), jsii.Number(0)) })
	for _, r := range resources(t, ciImported.Stack, "AWS::IAM::Role") {
		if trust := mustJSON(props(r)["AssumeRolePolicyDocument"]); !strings.Contains(trust, `"Federated":"`+importedOidcArn+`"`) {
			t.Errorf("role %v does not trust the imported provider: %s", props(r)["RoleName"], trust)
		}
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
