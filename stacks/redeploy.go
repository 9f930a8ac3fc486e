package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctionstasks"
	"github.com/aws/jsii-runtime-go"

	"h2o-infra/config"
)

// redeployOnSecretChange starts a new deployment of the service whenever a secret its tasks read gets a new
// current version. ECS injects secrets only when a container starts ("If the secret is subsequently updated or
// rotated, the container will not receive the updated value automatically": ECS developer guide, "Pass Secrets
// Manager secrets through Amazon ECS environment variables"), and RDS rotates its managed master password every
// 7 days (RDS user guide, "Password management with Amazon RDS and AWS Secrets Manager"): without this, prod's
// tasks would hold a password RDS has rotated away.
//
// Secrets Manager publishes "Secret Label Updated" to the default event bus whenever AWSCURRENT moves, by a
// rotation or a put-secret-value, with no CloudTrail trail needed (Secrets Manager user guide, "Secret event
// notifications"). A one-step state machine calls ecs:UpdateService through the AWS SDK integration: no code
// (Step Functions developer guide, "Learning to use AWS service SDK integrations": parameters in PascalCase;
// CallAwsService grants service:action, here ecs:UpdateService, on IamResources).
func redeployOnSecretChange(stack awscdk.Stack, cfg *config.Config, service awsecs.FargateService, secretArns []*string) awsstepfunctions.StateMachine {
	redeploy := awsstepfunctionstasks.NewCallAwsService(stack, jsii.String("ForceNewDeployment"), &awsstepfunctionstasks.CallAwsServiceProps{
		Service: jsii.String("ecs"), Action: jsii.String("updateService"),
		Parameters: &map[string]interface{}{"Cluster": service.Cluster().ClusterName(), "Service": service.ServiceName(),
			"ForceNewDeployment": true},
		IamResources: jsii.Strings(*service.ServiceArn()),
	})
	machine := awsstepfunctions.NewStateMachine(stack, jsii.String("RedeployOnSecretChange"), &awsstepfunctions.StateMachineProps{
		StateMachineName: jsii.String(Names{cfg.Stage}.Resource("redeploy-on-secret-change")),
		DefinitionBody:   awsstepfunctions.DefinitionBody_FromChainable(redeploy),
		Timeout:          awscdk.Duration_Minutes(jsii.Number(5)),
		// Logged and traced (cdk-nag SF1/SF2); the event (secret name and version id, never its value) is kept out.
		// Under /aws/vendedlogs/ so log delivery does not grow the account's 5,120-character CloudWatch Logs resource
		// policy (Step Functions developer guide, "Avoiding CloudWatch Logs resource policy size restrictions").
		Logs: &awsstepfunctions.LogOptions{Level: awsstepfunctions.LogLevel_ALL, IncludeExecutionData: jsii.Bool(false),
			Destination: newLogGroup(stack, "RedeployLogs", cfg, "/aws/vendedlogs/states/"+Names{cfg.Stage}.Resource("redeploy"))},
		TracingEnabled: jsii.Bool(true),
	})
	suppressWildcards(machine.Role(), "Step Functions' log delivery (logs:*LogDelivery*, DescribeLogGroups, ...) and X-Ray "+
		"tracing actions have no resource-level permissions; the one AWS call it makes is ecs:UpdateService on this service.",
		"Resource::*")
	awsevents.NewRule(stack, jsii.String("SecretChanged"), &awsevents.RuleProps{
		Description: jsii.String("A secret the backend reads has a new current version: start fresh tasks"),
		EventPattern: &awsevents.EventPattern{
			Source: jsii.Strings("aws.secretsmanager"), DetailType: jsii.Strings("Secret Label Updated"),
			Resources: &secretArns, Detail: &map[string]interface{}{"labelUpdated": []string{"AWSCURRENT"}},
		},
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewSfnStateMachine(machine, nil)},
	})
	return machine
}
