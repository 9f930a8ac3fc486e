package stacks

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// cdk-nag: the AwsSolutions and NIST 800-53 rev 5 packs on every stack, and suppressions that each say why a rule
// does not apply. AwsSolutions suppressions sit where their resource is made; the NIST pack's are one table,
// nistExceptions (nist.go), applied once a stage or h2o-ci is built.

// nistPack is the prefix of the NIST 800-53 rev 5 pack's rule ids (and of its reports in the cloud assembly).
const nistPack = "NIST.800.53.R5"

// addNagChecks runs cdk-nag's AwsSolutions and NIST 800-53 rev 5 packs over scope. Aspects added to the App stop
// at Stage boundaries, so each Stage and each top-level stack gets its own. Each pack writes a report per stack
// into the cloud assembly (<pack>-<stage>-<stack>-NagReport.csv: every rule and resource, compliant, non-compliant
// or suppressed with its reason), which `make nist-diff` compares between two builds.
func addNagChecks(scope constructs.IConstruct) {
	awscdk.Aspects_Of(scope).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	awscdk.Aspects_Of(scope).Add(cdknag.NewNIST80053R5Checks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
}

// suppress records cdk-nag suppressions on a construct; every reason must say why the rule does not apply.
func suppress(c constructs.IConstruct, reasons map[string]string) {
	var list []*cdknag.NagPackSuppression
	for _, id := range sortedKeys(reasons) {
		list = append(list, &cdknag.NagPackSuppression{Id: jsii.String(id), Reason: jsii.String(reasons[id])})
	}
	cdknag.NagSuppressions_AddResourceSuppressions(c, &list, jsii.Bool(true))
}

// suppressWildcards suppresses only the listed IAM5 findings (each a literal like "Resource::*" or, between
// slashes, a regular expression), so a new wildcard added later is still reported.
func suppressWildcards(c constructs.IConstruct, reason string, findings ...string) {
	var appliesTo []interface{}
	for _, f := range findings {
		if len(f) > 1 && f[0] == '/' {
			appliesTo = append(appliesTo, &cdknag.RegexAppliesTo{Regex: jsii.String(f)})
		} else {
			appliesTo = append(appliesTo, f)
		}
	}
	list := []*cdknag.NagPackSuppression{{Id: jsii.String("AwsSolutions-IAM5"), Reason: jsii.String(reason), AppliesTo: &appliesTo}}
	cdknag.NagSuppressions_AddResourceSuppressions(c, &list, jsii.Bool(true))
	awscdk.Aspects_Of(c).Add(&overflowSuppressions{list}, &awscdk.AspectOptions{Priority: jsii.Number(overflowPriority)})
}

// overflowSuppressions gives the managed policies the CDK splits off a role's DefaultPolicy the role's IAM5
// suppression. The CDK splits a policy that outgrows IAM's 10,240 characters of a role's inline policies into
// OverflowPolicy<n> children at synthesis, in a mutating aspect (aws-cdk-lib aws-iam/lib/role.js,
// splitLargePolicy), and a suppression reaches only the children that exist when it is made; this aspect runs after
// the split (priority 200, AspectPriority.MUTATING) and before cdk-nag's packs (500, the default).
type overflowSuppressions struct{ list []*cdknag.NagPackSuppression }

const overflowPriority = 300

func (o *overflowSuppressions) Visit(node constructs.IConstruct) {
	if strings.HasPrefix(*node.Node().Id(), "OverflowPolicy") {
		cdknag.NagSuppressions_AddResourceSuppressions(node, &o.list, jsii.Bool(true))
	}
}
