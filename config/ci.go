package config

import (
	"errors"
	"regexp"
)

// CI is the account-level configuration of the h2o-ci stack (image repository and GitHub deploy roles).
type CI struct {
	Account          string // as Config.Account: "" deploys into the caller's account
	Region           string
	RepositoryName   string // the ECR repository every stage pulls from
	GithubRepository string // <org>/<repo> whose workflows may assume the deploy roles
	Stages           []string
}

var githubSlugRe = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)

// LoadCI reads `-c githubRepository=` (and account) with the same rules as the stages.
func LoadCI(lookup Lookup) (*CI, error) {
	c := &CI{Region: "us-east-1", RepositoryName: BackendRepository, GithubRepository: "h2o-allegiant/h2o-infra", Stages: Stages()}
	if v, ok := lookup("account"); ok {
		c.Account = v
	}
	if v, ok := lookup("githubRepository"); ok {
		c.GithubRepository = v
	}
	v := validator{stage: "ci"}
	v.check(c.Account == "" || accountRe.MatchString(c.Account), "account", c.Account,
		"12 digits, or empty to use the deploying credentials' account")
	v.check(githubSlugRe.MatchString(c.GithubRepository), "githubRepository", c.GithubRepository, "<org>/<repo> on GitHub")
	return c, errors.Join(v.errs...)
}
