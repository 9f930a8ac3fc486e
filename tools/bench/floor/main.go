// Command floor is the benchmark floor of `make bench`: the smallest CDK app that synthesizes, one stack with
// one trivial resource (a stack with no resource fails the CloudFormation validation, F0001). It reads the same
// context as the real app (cdk.json's feature flags, CloudFormation validation on, through CDK_CONTEXT_JSON), so
// the gap between it and the real app is the cost of our constructs, cdk-nag and their round trips to jsii.
package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("floor"), nil)
	awscdk.NewCfnWaitConditionHandle(stack, jsii.String("Handle"), nil)
	app.Synth(nil)
}
