package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecr"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// CiStackProps configures the account-level stack shared by every stage.
type CiStackProps struct {
	awscdk.StackProps
	RepositoryName string
}

// CiStack holds what must exist before any stage deploys: the backend's image repository.
// Stages find the repository by name; stacks in a Stage cannot reference a stack outside it.
type CiStack struct {
	awscdk.Stack
	Repository awsecr.Repository
}

// NewCiStack builds h2o-ci.
func NewCiStack(scope constructs.Construct, id string, props *CiStackProps) *CiStack {
	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	addNagChecks(stack)
	awscdk.Tags_Of(stack).Add(jsii.String("Project"), jsii.String("h2o"), nil)
	awscdk.Tags_Of(stack).Add(jsii.String("Layer"), jsii.String("ci"), nil)
	awscdk.Tags_Of(stack).Add(jsii.String("ManagedBy"), jsii.String("cdk"), nil)

	repo := awsecr.NewRepository(stack, jsii.String("BackendRepository"), &awsecr.RepositoryProps{
		RepositoryName:  jsii.String(props.RepositoryName),
		ImageScanOnPush: jsii.Bool(true),
		// A tag always means the same image: a rollback to a SHA redeploys exactly what ran before.
		ImageTagMutability: awsecr.TagMutability_IMMUTABLE,
		Encryption:         awsecr.RepositoryEncryption_AES_256(),
		LifecycleRules: &[]*awsecr.LifecycleRule{
			{RulePriority: jsii.Number(1), Description: jsii.String("untagged layers of failed pushes"),
				TagStatus: awsecr.TagStatus_UNTAGGED, MaxImageAge: awscdk.Duration_Days(jsii.Number(1))},
			// 30 tagged images cover weeks of deploys to roll back to, at cents of storage.
			{RulePriority: jsii.Number(2), Description: jsii.String("keep the last 30 images"),
				TagStatus: awsecr.TagStatus_ANY, MaxImageCount: jsii.Number(30)},
		},
		// Images are rebuildable, but every stage runs from here: never delete it with the stack.
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	awscdk.NewCfnOutput(stack, jsii.String("RepositoryUri"), &awscdk.CfnOutputProps{Value: repo.RepositoryUri()})
	return &CiStack{Stack: stack, Repository: repo}
}
