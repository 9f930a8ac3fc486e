package stacks

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"h2o-infra/config"
)

// retentionDays maps config.LogRetentionDays (validated against config.LogRetentionChoices) to the enum.
var retentionDays = map[int]awslogs.RetentionDays{
	1: awslogs.RetentionDays_ONE_DAY, 3: awslogs.RetentionDays_THREE_DAYS, 5: awslogs.RetentionDays_FIVE_DAYS,
	7: awslogs.RetentionDays_ONE_WEEK, 14: awslogs.RetentionDays_TWO_WEEKS, 30: awslogs.RetentionDays_ONE_MONTH,
	60: awslogs.RetentionDays_TWO_MONTHS, 90: awslogs.RetentionDays_THREE_MONTHS, 120: awslogs.RetentionDays_FOUR_MONTHS,
	150: awslogs.RetentionDays_FIVE_MONTHS, 180: awslogs.RetentionDays_SIX_MONTHS, 365: awslogs.RetentionDays_ONE_YEAR,
	400: awslogs.RetentionDays_THIRTEEN_MONTHS, 545: awslogs.RetentionDays_EIGHTEEN_MONTHS,
	731: awslogs.RetentionDays_TWO_YEARS, 1096: awslogs.RetentionDays_THREE_YEARS, 1827: awslogs.RetentionDays_FIVE_YEARS,
	2192: awslogs.RetentionDays_SIX_YEARS, 2557: awslogs.RetentionDays_SEVEN_YEARS, 2922: awslogs.RetentionDays_EIGHT_YEARS,
	3288: awslogs.RetentionDays_NINE_YEARS, 3653: awslogs.RetentionDays_TEN_YEARS,
}

func retention(cfg *config.Config) awslogs.RetentionDays {
	r, ok := retentionDays[cfg.LogRetentionDays]
	if !ok { // unreachable after config validation; a panic here is a programming error, not user input
		panic(fmt.Sprintf("stage %s: logRetentionDays %d has no RetentionDays enum", cfg.Stage, cfg.LogRetentionDays))
	}
	return r
}

// newLogGroup creates a log group with the stage's retention. name may be "" for a generated one.
// Logs are operational data: they go with the stack in every stage.
func newLogGroup(scope constructs.Construct, id string, cfg *config.Config, name string) awslogs.LogGroup {
	props := &awslogs.LogGroupProps{Retention: retention(cfg), RemovalPolicy: awscdk.RemovalPolicy_DESTROY}
	if name != "" {
		props.LogGroupName = jsii.String(name)
	}
	return awslogs.NewLogGroup(scope, jsii.String(id), props)
}

// newLogBucket is a bucket that AWS services deliver logs into (S3 access logs, ALB, CloudFront): private,
// TLS-only, SSE-S3 (ALB access logs support only SSE-S3: ALB user guide, "Enable access logs"; one encryption for
// every log bucket), expiring after expireDays. Logs outlive their stack where the data does: prod retains the
// bucket and its objects, dev's go with the stack. CloudFront's standard logging writes with an ACL grant, so its
// bucket keeps ACLs for the owner (aclDelivery: CloudFront developer guide, "Configure standard logging (legacy)").
func newLogBucket(stack awscdk.Stack, id string, cfg *config.Config, what string, expireDays int, aclDelivery bool) awss3.Bucket {
	removal := statefulRemoval(cfg, awscdk.RemovalPolicy_RETAIN)
	ownership := awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED
	if aclDelivery {
		ownership = awss3.ObjectOwnership_BUCKET_OWNER_PREFERRED
	}
	bucket := awss3.NewBucket(stack, jsii.String(id), &awss3.BucketProps{
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		ObjectOwnership:   ownership,
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id: jsii.String("expire-" + what), Expiration: awscdk.Duration_Days(jsii.Number(float64(expireDays))),
		}},
		RemovalPolicy:     removal,
		AutoDeleteObjects: jsii.Bool(removal == awscdk.RemovalPolicy_DESTROY),
	})
	suppress(bucket, map[string]string{
		"AwsSolutions-S1": "This bucket only receives " + what + "; logging access to the logs would need yet another log bucket.",
	})
	return bucket
}
