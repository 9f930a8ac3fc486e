package stacks

import (
	"fmt"
	"strings"

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

// newLogGroup creates a log group with the stage's retention, encrypted with the stage key (stagekey.go: NIST
// 800-53 rev 5 CloudWatchLogGroupEncrypted). name may be "" for a generated one. Logs are operational data: they
// go with the stack in every stage. Adding a key to an existing group is an in-place AssociateKmsKey; only events
// ingested afterwards are encrypted with it, and it "can take up to five minutes" (CloudWatch Logs API reference,
// "AssociateKmsKey").
func newLogGroup(scope constructs.Construct, id string, cfg *config.Config, name string) awslogs.LogGroup {
	props := &awslogs.LogGroupProps{Retention: retention(cfg), RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
		EncryptionKey: stageKey(scope)}
	if name != "" {
		props.LogGroupName = jsii.String(name)
	}
	return awslogs.NewLogGroup(scope, jsii.String(id), props)
}

// logNoncurrentDays is how long a log object overwritten, deleted or expired stays as a noncurrent version of its
// versioned bucket: the time to notice a deletion that was meant to hide something (NIST 800-53 rev 5 AU-9,
// S3BucketVersioningEnabled), at a week more storage of the logs that expire.
const logNoncurrentDays = 7

// newLogBucket is a bucket that AWS services deliver logs into (S3 access logs, ALB, CloudFront): private,
// TLS-only, SSE-S3 (ALB access logs support only SSE-S3: ALB user guide, "Enable access logs"; one encryption for
// every log bucket), expiring after expireDays. Versioned, so a deleted or overwritten log object stays
// logNoncurrentDays as a noncurrent version; S3 lifecycle then removes it, and the delete markers left behind
// (a separate rule: ExpiredObjectDeleteMarker cannot share a rule with a days-based expiration, S3 user guide,
// "Lifecycle configuration elements"). Logs outlive their stack where the data does: prod retains the bucket and
// its objects, dev's go with the stack. CloudFront's standard logging writes with an ACL grant, so its bucket
// keeps ACLs for the owner (aclDelivery: CloudFront developer guide, "Configure standard logging (legacy)").
// The id ends in LogBucket: the NIST exceptions for log buckets (nag.go) find them by it.
func newLogBucket(stack awscdk.Stack, id string, cfg *config.Config, what string, expireDays int, aclDelivery bool) awss3.Bucket {
	if !strings.HasSuffix(id, "LogBucket") {
		panic(fmt.Sprintf("log bucket %s: its construct id must end in LogBucket (nag.go finds log buckets by it)", id))
	}
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
		Versioned:         jsii.Bool(true),
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id: jsii.String("expire-" + what), Expiration: awscdk.Duration_Days(jsii.Number(float64(expireDays))),
			NoncurrentVersionExpiration: awscdk.Duration_Days(jsii.Number(logNoncurrentDays)),
		}, {
			Id: jsii.String("remove-delete-markers"), ExpiredObjectDeleteMarker: jsii.Bool(true),
		}},
		RemovalPolicy:     removal,
		AutoDeleteObjects: jsii.Bool(removal == awscdk.RemovalPolicy_DESTROY),
	})
	suppress(bucket, map[string]string{
		"AwsSolutions-S1": "This bucket only receives " + what + "; logging access to the logs would need yet another log bucket.",
	})
	return bucket
}
