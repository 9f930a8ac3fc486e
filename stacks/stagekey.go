package stacks

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"h2o-infra/config"
)

// stageKeyID is the stage key's construct id in the network stack, where stageKey finds it.
const stageKeyID = "StageKey"

// newStageKey is the stage's customer managed key for what every layer writes that is not the data itself: its
// CloudWatch log groups, the secrets of the app and the cache, and the alarm topic's notifications (NIST 800-53
// rev 5 CloudWatchLogGroupEncrypted, SecretsManagerUsingKMSKey). It lives in the network stack because the network
// deploys first and its flow logs are the first log group; prod's database, PDF bucket and backup vault keep their
// own data key (backup.go), whose policy other accounts may be granted for backup copies.
//
// One key for the three uses, not one each: a key costs $1 a month (and $1 more after each of its first two yearly
// rotations), and a key of its own per use would put dev over its $50 target; each service's use of it is scoped
// by its statement below (CloudWatch Logs by the encryption context it sends) or, for the secrets, by
// kms:ViaService in the readers' own IAM policies (the account statement delegates to IAM).
//
// A deleted key makes every log event and secret version under it unreadable (CloudWatch Logs user guide, "Encrypt
// log data in CloudWatch Logs using AWS Key Management Service"), so prod keeps it like its data
// (RETAIN_ON_UPDATE_OR_DELETE: statefulRemoval) and a deletion waits the longest window, 30 days; dev's goes with
// its stack. Rotated yearly.
func newStageKey(stack awscdk.Stack, cfg *config.Config) awskms.Key {
	key := awskms.NewKey(stack, jsii.String(stageKeyID), &awskms.KeyProps{
		Alias:             jsii.String(Names{cfg.Stage}.StageKeyAlias()),
		Description:       jsii.String(fmt.Sprintf("h2o %s: log groups, app and cache secrets, alarm notifications", cfg.Stage)),
		EnableKeyRotation: jsii.Bool(true),
		PendingWindow:     awscdk.Duration_Days(jsii.Number(30)),
		RemovalPolicy:     statefulRemoval(cfg, awscdk.RemovalPolicy_RETAIN_ON_UPDATE_OR_DELETE),
	})
	region, account, partition := *stack.Region(), *stack.Account(), *stack.Partition()
	// CloudWatch Logs encrypts and decrypts log events itself, as logs.<region>.amazonaws.com, and names the log
	// group in the encryption context; a log group refuses a key whose policy does not allow this ("CloudWatch Logs
	// must have permissions for the key whenever encrypted data is requested"). The statement is the one the
	// CloudWatch Logs user guide gives ("Encrypt log data in CloudWatch Logs using AWS Key Management Service",
	// step 2), for every log group of this account and region: the stages' groups have generated names (the flow
	// logs') and live in later stacks, which a key policy here cannot name without depending on them.
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AllowCloudWatchLogs"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("logs."+region+".amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"),
		Resources:  jsii.Strings("*"), // "*" in a key policy is this key
		Conditions: &map[string]interface{}{"ArnLike": map[string]interface{}{
			"kms:EncryptionContext:aws:logs:arn": fmt.Sprintf("arn:%s:logs:%s:%s:log-group:*", partition, region, account)}},
	}), nil)
	// CloudWatch alarms, EventBridge rules and Budgets publish to the alarm topic (observability.go), which this
	// key encrypts: SNS asks the publisher's service to use the key, and the AWS-managed SNS key cannot admit them
	// (SNS developer guide, "Enable compatibility between event sources from AWS services and encrypted topics").
	// Each may use it for the alarm topic only: SNS names the topic in the encryption context of its KMS requests
	// (kms:EncryptionContext:aws:sns:topicArn, in AWS's key policy for a service publishing to an encrypted topic:
	// GameLift FlexMatch developer guide, "Set up an SNS topic with server-side encryption"), and the topic's name
	// is fixed (Names.Resource). CloudWatch and Budgets also only for this account (aws:SourceAccount), CloudWatch
	// only for the stage's alarms (aws:SourceArn), as in the topic's own policy. EventBridge gets the topic
	// condition alone: "Adding the aws:SourceAccount and aws:SourceArn to a AWS KMS policy is not supported for
	// EventBridge-to-encrypted topics" (SNS developer guide, sns-key-management, quoted in
	// awslabs/landing-zone-accelerator-on-aws#407, where such a condition dropped every event).
	topicArn := fmt.Sprintf("arn:%s:sns:%s:%s:%s", partition, region, account, Names{cfg.Stage}.Resource("alarms"))
	onTopic := map[string]interface{}{"kms:EncryptionContext:aws:sns:topicArn": topicArn}
	sameAccount := map[string]interface{}{"aws:SourceAccount": account, "kms:EncryptionContext:aws:sns:topicArn": topicArn}
	publishers := []struct {
		sid, service string
		conditions   map[string]interface{}
	}{
		{"AllowStageAlarmsPublish", "cloudwatch.amazonaws.com", map[string]interface{}{"StringEquals": sameAccount,
			"ArnLike": map[string]interface{}{"aws:SourceArn": fmt.Sprintf("arn:%s:cloudwatch:%s:%s:alarm:%s", partition, region, account, Names{cfg.Stage}.Alarm("*"))}}},
		{"AllowBudgetsPublish", "budgets.amazonaws.com", map[string]interface{}{"StringEquals": sameAccount}},
		{"AllowEventRulesPublish", "events.amazonaws.com", map[string]interface{}{"StringEquals": onTopic}},
	}
	for _, p := range publishers {
		key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String(p.sid),
			Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String(p.service), nil)},
			Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"), Resources: jsii.Strings("*"),
			Conditions: &p.conditions,
		}), nil)
	}
	return key
}

// stageKey is the stage key of the stage scope belongs to, found by its construct path (<stage>/network/StageKey),
// so a layer's log groups use it without every constructor passing it along.
func stageKey(scope constructs.IConstruct) awskms.IKey {
	stage := awscdk.Stage_Of(scope)
	if stage == nil {
		panic(fmt.Sprintf("%s is not in a stage: only a stage has a stage key", *scope.Node().Path()))
	}
	network := stage.Node().TryFindChild(jsii.String("network"))
	if network == nil {
		panic(fmt.Sprintf("%s: stage %s has no network stack yet: the network is built first", *scope.Node().Path(), *stage.StageName()))
	}
	key, ok := network.Node().TryFindChild(jsii.String(stageKeyID)).(awskms.IKey)
	if !ok {
		panic(fmt.Sprintf("%s: the network stack of stage %s has no %s", *scope.Node().Path(), *stage.StageName(), stageKeyID))
	}
	return key
}

// importedStageKey is the stage key as a later stack imports it by ARN: what the secrets are encrypted with (call
// it once per stack). A grant on a secret (secret.GrantRead, ECS's secret injection) then writes kms:Decrypt,
// through Secrets Manager only (kms:ViaService), into the reader's own IAM policy, which the key's account
// statement lets decide. With the key itself, the CDK would also write the reader's role into the key policy (a
// kms.ViaServicePrincipal has no account, so the grant goes to both: aws-cdk-lib aws-iam/lib/grant.js), and the
// network stack would depend on the stack of the role: a cycle.
func importedStageKey(stack awscdk.Stack) awskms.IKey {
	return awskms.Key_FromKeyArn(stack, jsii.String("ImportedStageKey"), stageKey(stack).KeyArn())
}

// allowStageSecretsDecrypt lets roles read the stage's secrets under the stage key: Secrets Manager decrypts a
// secret value with the key on the caller's behalf, so a reader needs kms:Decrypt besides GetSecretValue (Secrets
// Manager user guide, "Secret encryption and decryption": "Permissions for the KMS key"). Only through Secrets
// Manager (kms:ViaService) and only for the stage's own secrets, which Secrets Manager names in the encryption
// context of every request (SecretARN, same page: "Secrets Manager encryption context"). secret.GrantRead cannot
// do it: with the imported key (importedStageKey) the CDK drops the key half of the grant.
func allowStageSecretsDecrypt(stack awscdk.Stack, cfg *config.Config, roles ...awsiam.IRole) {
	region, account, partition := *stack.Region(), *stack.Account(), *stack.Partition()
	statement := awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("kms:Decrypt"), Resources: jsii.Strings(*stageKey(stack).KeyArn()),
		Conditions: &map[string]interface{}{
			"StringEquals": map[string]interface{}{"kms:ViaService": "secretsmanager." + region + ".amazonaws.com"},
			"StringLike": map[string]interface{}{"kms:EncryptionContext:SecretARN": fmt.Sprintf("arn:%s:secretsmanager:%s:%s:secret:%s",
				partition, region, account, Names{cfg.Stage}.Secret("*"))},
		},
	})
	for _, role := range roles {
		role.AddToPrincipalPolicy(statement)
	}
}
