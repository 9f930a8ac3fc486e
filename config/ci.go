package config

import (
	"errors"
	"regexp"
)

// CI is the account-level configuration of the h2o-ci stack (image repository and GitHub deploy roles), set in
// settings/ci.json or with `-c ci.<key>=` (`-c <key>=` sets it too, as for every stage).
type CI struct {
	Account          string `json:"account" doc:"as a stage's account: empty deploys into the caller's account"`
	Region           string `json:"-"`
	RepositoryName   string `json:"repositoryName" doc:"the ECR repository every stage pulls the backend image from"`
	GitHubRepository string `json:"githubRepository" doc:"<org>/<repo> whose workflows may assume the deploy roles"`
	// BackendRepository is the backend's own repository, when it has one: its main branch may push images with a
	// push-only role, then start this repository's deploy (repository_dispatch), which runs with the deploy roles.
	BackendRepository string `json:"backendRepository" doc:"optional <org>/<repo> of the backend when it has its own repository: its main branch gets a push-only role, then starts this repository's deploy (docs/examples/backend-deploy.yml)"`
	// GitHubOIDCProviderARN imports the account's GitHub OIDC provider instead of creating one: IAM holds one
	// provider per URL, so creating a second fails with EntityAlreadyExists.
	GitHubOIDCProviderARN string `json:"githubOidcProviderArn" doc:"ARN of the account's existing GitHub OIDC provider to import; empty creates one (an account holds one per URL)"`
	// OperatorPrincipalArns narrows who may assume the stages' operator roles (h2o-<stage>-operator, the runbook's
	// manual steps) below "any principal of this account whose own IAM policy allows it": IAM ARN patterns
	// matched against the caller (aws:PrincipalArn), e.g. an IAM Identity Center permission set's role.
	OperatorPrincipalArns []string `json:"operatorPrincipalArns" doc:"who may assume h2o-<stage>-operator: IAM ARN patterns of users or roles of this account (e.g. arn:aws:iam::<account>:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_H2OOperator_*); empty: any principal of the account allowed by its own IAM policy"`
	// OperatorRequireMFA refuses an operator session without MFA. IAM Identity Center enforces MFA at sign-in and
	// its role sessions carry no aws:MultiFactorAuthPresent, so SSO users turn it off and name their permission
	// set in OperatorPrincipalArns instead.
	OperatorRequireMFA bool     `json:"operatorRequireMfa" doc:"assuming h2o-<stage>-operator needs MFA (aws:MultiFactorAuthPresent); false for IAM Identity Center, whose sessions do not carry the key (MFA is enforced at sign-in), and then operatorPrincipalArns must name who"`
	Stages             []string `json:"-"`
}

var (
	githubSlugRe    = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)
	githubOIDCArnRe = regexp.MustCompile(`^arn:aws:iam::[0-9]{12}:oidc-provider/token\.actions\.githubusercontent\.com$`)
	// An IAM user or role ARN, wildcards allowed in the name (ArnLike); the account may be a wildcard too, as the
	// trust policy's principal is this account anyway.
	operatorPrincipalRe = regexp.MustCompile(`^arn:aws:iam::([0-9]{12}|\*):(user|role)/[A-Za-z0-9+=,.@_/*?-]+$`)
)

// LoadCI returns h2o-ci's config, or every problem of the sources and of that config.
func LoadCI(src Sources) (*CI, error) {
	c, _, err := ResolveCI(src)
	return c, err
}

// ResolveCI is LoadCI with the origin of every value.
func ResolveCI(src Sources) (*CI, Origins, error) {
	errs := checkKeys(src)
	ci, origins, ciErrs := resolveCI(src)
	if errs = append(errs, ciErrs...); len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	return ci, origins, nil
}

func resolveCI(src Sources) (*CI, Origins, []error) {
	c := &CI{Region: "us-east-1", RepositoryName: BackendRepository, GitHubRepository: "h2o-allegiant/h2o-infra", Stages: Stages(),
		OperatorRequireMFA: true}
	origins, errs := applySources(ciName, c, CIFields(), src)
	if len(errs) > 0 {
		return nil, nil, errs
	}
	v := validator{stage: ciName, origins: origins}
	v.check(c.Account == "" || accountRe.MatchString(c.Account), "account", c.Account,
		"12 digits, or empty to use the deploying credentials' account")
	v.check(repoRe.MatchString(c.RepositoryName) && len(c.RepositoryName) >= 2 && len(c.RepositoryName) <= 256,
		"repositoryName", c.RepositoryName, "an ECR repository name (lowercase letters, digits, . _ - /)")
	v.check(githubSlugRe.MatchString(c.GitHubRepository), "githubRepository", c.GitHubRepository, "<org>/<repo> on GitHub")
	v.check(c.BackendRepository == "" || (githubSlugRe.MatchString(c.BackendRepository) && c.BackendRepository != c.GitHubRepository),
		"backendRepository", c.BackendRepository, "<org>/<repo> on GitHub other than githubRepository, or empty when the backend lives in this repository")
	v.check(c.GitHubOIDCProviderARN == "" || githubOIDCArnRe.MatchString(c.GitHubOIDCProviderARN), "githubOidcProviderArn",
		c.GitHubOIDCProviderARN, "arn:aws:iam::<12 digits>:oidc-provider/token.actions.githubusercontent.com, or empty to create it")
	for _, arn := range c.OperatorPrincipalArns {
		v.check(operatorPrincipalRe.MatchString(arn), "operatorPrincipalArns", arn,
			"an IAM ARN (pattern) of a user or role of this account, such as arn:aws:iam::<account>:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_<set>_*")
	}
	v.check(c.OperatorRequireMFA || len(c.OperatorPrincipalArns) > 0, "operatorRequireMfa", "false",
		"true, or false together with operatorPrincipalArns naming who may assume the operator roles (MFA then comes from their sign-in, e.g. IAM Identity Center)")
	if len(v.errs) > 0 {
		return nil, nil, v.errs
	}
	return c, origins, nil
}
