package stacks

import (
	"fmt"
	"slices"
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

// scopedToAccount says whether a key policy statement for a service principal holds only for requests made for
// the test account: an aws:SourceAccount condition naming it, or an aws:SourceArn or kms:EncryptionContext:*
// condition whose every value is an ARN in it (a wildcard in the account field does not count).
func scopedToAccount(statement map[string]interface{}) bool {
	blocks, _ := statement["Condition"].(map[string]interface{})
	for operator, raw := range blocks {
		if !slices.Contains([]string{"StringEquals", "StringLike", "ArnEquals", "ArnLike"}, operator) {
			continue
		}
		keys, _ := raw.(map[string]interface{})
		for key, want := range keys {
			values := list(want)
			all := len(values) > 0
			for _, w := range values {
				v, ok := resolve(w)
				switch {
				case !ok:
					all = false
				case key == "aws:SourceAccount":
					all = all && v == testAccount
				case key == "aws:SourceArn" || strings.HasPrefix(key, "kms:EncryptionContext:"):
					parts := strings.SplitN(v, ":", 6)
					all = all && len(parts) == 6 && parts[0] == "arn" && parts[4] == testAccount
				default:
					all = false
				}
			}
			if all {
				return true
			}
		}
	}
	return false
}

// TestScopedToAccountRejectsOpenStatements: the check below fails a statement with no condition, one for another
// account, and one whose ARN leaves the account open.
func TestScopedToAccountRejectsOpenStatements(t *testing.T) {
	service := map[string]interface{}{"Effect": "Allow", "Principal": map[string]interface{}{"Service": "events.amazonaws.com"}}
	with := func(condition map[string]interface{}) map[string]interface{} {
		st := map[string]interface{}{"Condition": condition}
		for k, v := range service {
			st[k] = v
		}
		return st
	}
	open := map[string]map[string]interface{}{
		"no condition":  service,
		"other account": with(map[string]interface{}{"StringEquals": map[string]interface{}{"aws:SourceAccount": "999999999999"}}),
		"any account": with(map[string]interface{}{"StringEquals": map[string]interface{}{
			"kms:EncryptionContext:aws:sns:topicArn": "arn:aws:sns:us-east-1:*:h2o-prod-alarms"}}),
		"unscoped key": with(map[string]interface{}{"StringEquals": map[string]interface{}{"kms:ViaService": "sns.us-east-1.amazonaws.com"}}),
	}
	for name, st := range open {
		if scopedToAccount(st) {
			t.Errorf("%s: counted as scoped to the account: %s", name, mustJSON(st))
		}
	}
	scoped := with(map[string]interface{}{"StringEquals": map[string]interface{}{
		"kms:EncryptionContext:aws:sns:topicArn": map[string]interface{}{"Fn::Join": []interface{}{"", []interface{}{
			"arn:aws:sns:us-east-1:", map[string]interface{}{"Ref": "AWS::AccountId"}, ":h2o-prod-alarms"}}}}})
	if !scopedToAccount(scoped) {
		t.Errorf("the alarm topic's encryption context is not counted as scoped: %s", mustJSON(scoped))
	}
}

// TestEveryServiceStatementOfAKeyIsScopedToTheAccount: a key policy statement for an AWS service principal with
// no condition lets that service use the key on behalf of any account's resources (IAM user guide, "The confused
// deputy problem"). Every such statement of every key of every stage names this account, by aws:SourceAccount
// or by an ARN in it (the logs group's or the topic's, in the encryption context).
func TestEveryServiceStatementOfAKeyIsScopedToTheAccount(t *testing.T) {
	// GIVEN every KMS key of each build WHEN its policy's service-principal statements are read THEN each is scoped
	forEachBuild(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		checked := 0
		for _, stack := range s.Stacks() {
			for id, key := range resources(t, stack, "AWS::KMS::Key") {
				for _, st := range optMaps(t, key, "Properties.KeyPolicy.Statement") {
					if _, ok := lookup(st, "Principal.Service"); !ok {
						continue
					}
					checked++
					if !scopedToAccount(st) {
						t.Errorf("%s %s: statement %v for %v is not scoped to the account: %s", *stack.StackName(), id,
							st["Sid"], mustJSON(at(t, st, "Principal.Service")), mustJSON(st["Condition"]))
					}
				}
			}
		}
		if checked < 4 { // CloudWatch Logs and the three alarm publishers on the stage key
			t.Errorf("only %d service statements found in the stage's key policies", checked)
		}
	})
}
