package stacks

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"

	"h2o-infra/config"
)

// stageOf is the built stage (of either test app) a stack belongs to; nil for h2o-ci.
func stageOf(stack awscdk.Stack) *H2oStage {
	for _, s := range append([]*H2oStage{withDomain}, built["dev"], built["prod"]) {
		for _, st := range s.Stacks() {
			if st == stack {
				return s
			}
		}
	}
	return nil
}

// keyOf resolves a reference to a KMS key's ARN, as consumer's template holds it, to the key resource and the
// stack that has it: {"Fn::GetAtt": [key, "Arn"]} in the same stack, or an Fn::ImportValue of another stack of
// the stage (matched by the producer's export name).
func keyOf(t *testing.T, consumer awscdk.Stack, ref interface{}) (map[string]interface{}, awscdk.Stack, bool) {
	t.Helper()
	getAtt := func(stack awscdk.Stack, v interface{}) (map[string]interface{}, bool) {
		id, _ := lookup(v, "Fn::GetAtt.0")
		attr, _ := lookup(v, "Fn::GetAtt.1")
		r, ok := allResources(t, stack)[fmt.Sprint(id)]
		return r, ok && attr == "Arn" && r["Type"] == "AWS::KMS::Key"
	}
	if r, ok := getAtt(consumer, ref); ok {
		return r, consumer, true
	}
	name, ok := lookup(ref, "Fn::ImportValue")
	export, _ := name.(string)
	s := stageOf(consumer)
	if !ok || s == nil {
		return nil, nil, false
	}
	for _, producer := range s.Stacks() {
		outputs, _ := templateJSON(producer)["Outputs"].(map[string]interface{})
		for _, raw := range outputs {
			out, _ := raw.(map[string]interface{})
			if exported, _ := lookup(out, "Export.Name"); exported == export {
				r, ok := getAtt(producer, out["Value"])
				return r, producer, ok
			}
		}
	}
	return nil, nil, false
}

// isStageKey is whether ref (in consumer's template) is the ARN of s's stage key.
func isStageKey(t *testing.T, s *H2oStage, consumer awscdk.Stack, ref interface{}) bool {
	t.Helper()
	key, producer, ok := keyOf(t, consumer, ref)
	return ok && producer == s.Network.Stack && jsonEqual(key, resourceOf(t, s.Network.Stack, s.Network.StageKey))
}

func TestStageKeyIsRotatedAndKeptWithTheData(t *testing.T) {
	// GIVEN each build WHEN the network's stage key is read THEN it is rotated, named by its alias, kept by a
	// protected stage (its logs and secrets are unreadable without it) and deleted only after 30 days
	forEachBuild(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		key := resourceOf(t, s.Network.Stack, s.Network.StageKey)
		policy := map[bool]string{true: "RetainExceptOnCreate", false: "Delete"}[cfg.DeletionProtection]
		if props(key)["EnableKeyRotation"] != true || props(key)["PendingWindowInDays"] != float64(30) || key["DeletionPolicy"] != policy {
			t.Errorf("stage key %s, want rotated, a 30-day window and DeletionPolicy %s", mustJSON(key), policy)
		}
		_, alias := only(t, s.Network.Stack, "AWS::KMS::Alias")
		if want := (Names{cfg.Stage}).StageKeyAlias(); props(alias)["AliasName"] != want {
			t.Errorf("alias %v", props(alias)["AliasName"])
		}
	})
}

// TestEveryLogGroupIsOnTheStageKeyAndCloudWatchLogsMayUseIt: NIST 800-53 rev 5 CloudWatchLogGroupEncrypted over
// every log group of every build, and what makes it deployable: CloudWatch Logs refuses a key whose policy does not
// let logs.<region>.amazonaws.com use it for that group (the encryption context names the group: CloudWatch Logs
// user guide, "Encrypt log data in CloudWatch Logs using AWS Key Management Service").
func TestEveryLogGroupIsOnTheStageKeyAndCloudWatchLogsMayUseIt(t *testing.T) {
	// GIVEN every log group of each build WHEN its key and the key's policy are read THEN it is the stage key,
	// and the policy lets CloudWatch Logs encrypt and decrypt that group's events
	forEachBuild(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		keyPolicy := props(resourceOf(t, s.Network.Stack, s.Network.StageKey))["KeyPolicy"]
		groups := 0
		for _, stack := range s.Stacks() {
			for id, lg := range resources(t, stack, "AWS::Logs::LogGroup") {
				groups++
				if !isStageKey(t, s, stack, props(lg)["KmsKeyId"]) {
					t.Errorf("%s %s: KmsKeyId %v, want the stage key", *stack.StackName(), id, props(lg)["KmsKeyId"])
				}
				name, ok := props(lg)["LogGroupName"].(string)
				if !ok {
					name = *stack.StackName() + "-" + id + "-AbCdEf012345" // CloudFormation's generated name
				}
				arn := "arn:aws:logs:us-east-1:" + testAccount + ":log-group:" + name
				for _, action := range []string{"kms:GenerateDataKey", "kms:Decrypt", "kms:Encrypt"} {
					use := request{"logs.us-east-1.amazonaws.com", action, "*", map[string]string{"kms:EncryptionContext:aws:logs:arn": arn}}
					if !allows(keyPolicy, use) {
						t.Errorf("%s %s: the stage key's policy does not allow %s", *stack.StackName(), id, use)
					}
				}
			}
		}
		if groups < 5 {
			t.Errorf("only %d log groups found", groups)
		}
		// ...and nothing else in the account's logs may use it without naming a log group.
		if allows(keyPolicy, request{"logs.us-east-1.amazonaws.com", "kms:Decrypt", "*", map[string]string{}}) {
			t.Error("CloudWatch Logs may use the stage key without a log group's encryption context")
		}
	})
}

// TestEverySecretIsOnTheStageKeyAndItsReadersMayDecryptIt: NIST 800-53 rev 5 SecretsManagerUsingKMSKey over every
// secret the app creates, and what keeps the backend starting: ECS (the execution role) and the app (the task role)
// read them, so every role allowed secretsmanager:GetSecretValue on one may kms:Decrypt it through Secrets Manager
// (Secrets Manager user guide, "Secret encryption and decryption": "Permissions for the KMS key").
func TestEverySecretIsOnTheStageKeyAndItsReadersMayDecryptIt(t *testing.T) {
	// GIVEN every secret and every role policy of each build WHEN their keys and statements are read THEN each
	// secret is on the stage key, and every reader of one may decrypt it, only through Secrets Manager
	forEachBuild(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		secrets := resources(t, s.Data.Stack, "AWS::SecretsManager::Secret")
		if len(secrets) != len(cfg.AppSecretKeys)+1 {
			t.Errorf("%d secrets, want one per API key and the cache's", len(secrets))
		}
		for id, secret := range secrets {
			if !isStageKey(t, s, s.Data.Stack, props(secret)["KmsKeyId"]) {
				t.Errorf("secret %s: KmsKeyId %v, want the stage key", id, props(secret)["KmsKeyId"])
			}
			arn := fmt.Sprintf("arn:aws:secretsmanager:us-east-1:%s:secret:%s-AbCdEf", testAccount, props(secret)["Name"])
			readers := 0
			for _, stack := range s.Stacks() {
				for pid, policy := range resources(t, stack, "AWS::IAM::Policy") {
					text := mustJSON(props(policy)["PolicyDocument"])
					if !strings.Contains(text, "secretsmanager:GetSecretValue") || !strings.Contains(text, id) {
						continue // not a reader of this secret (its reference names the secret's logical ID)
					}
					readers++
					if !decrypts(t, s, stack, policy, map[string]string{"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com",
						"kms:EncryptionContext:SecretARN": arn}) {
						t.Errorf("%s %s reads secret %s but may not decrypt it with the stage key through Secrets Manager", *stack.StackName(), pid, id)
					}
					if decrypts(t, s, stack, policy, map[string]string{"kms:ViaService": "s3.us-east-1.amazonaws.com",
						"kms:EncryptionContext:SecretARN": arn}) || decrypts(t, s, stack, policy, map[string]string{
						"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com", "kms:EncryptionContext:SecretARN": strings.Replace(arn, "h2o/"+cfg.Stage+"/", "h2o/other/", 1)}) {
						t.Errorf("%s %s may decrypt with the stage key outside Secrets Manager or beyond the stage's secrets", *stack.StackName(), pid)
					}
				}
			}
			if readers == 0 {
				t.Errorf("secret %s: no role reads it, so the test looks in the wrong place", id)
			}
		}
	})
}

// decrypts is whether one of the policy's statements allows kms:Decrypt on the stage key with the request context.
func decrypts(t *testing.T, s *H2oStage, stack awscdk.Stack, policy map[string]interface{}, context map[string]string) bool {
	t.Helper()
	for _, st := range optMaps(t, policy, "Properties.PolicyDocument.Statement") {
		if st["Effect"] == "Allow" && actionMatches(st["Action"], "kms:Decrypt") && isStageKey(t, s, stack, st["Resource"]) &&
			conditionsHold(st["Condition"], context) {
			return true
		}
	}
	return false
}
