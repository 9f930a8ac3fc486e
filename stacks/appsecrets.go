package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/jsii-runtime-go"

	"h2o-infra/config"
)

// The backend's API keys: one secret per key, h2o/<stage>/app/<KEY>, a plain string that ECS injects whole as
// the environment variable KEY (config.AppSecretKeys). One secret per key, because a secret's value must never
// depend on a setting: CloudFormation applies any change of GenerateSecretString by generating a new value
// (aws-cloudformation/cloudformation-coverage-roadmap#1161 and #2210, aws/aws-cdk#19985), so a single JSON
// secret whose template lists the keys wiped every stored key whenever a key was added, and the
// redeploy-on-secret-change rule then rolled the empty values out. Now adding a key adds a secret, removing one
// removes only that secret, and every other secret stays byte for byte what it was (a test holds it; the review
// guard fails any change of an existing secret's GenerateSecretString or SecretString).
//
// A whole-secret injection also cannot fail on a missing JSON key, which stops ECS from starting the task
// ("retrieved secret from Secrets Manager did not contain json key": amazon-ecs-agent, agent/asm/asm.go).

// appSecretGenerator is how every key's secret is created, whatever the settings: a random placeholder of 32
// letters and digits, which the app receives until an operator puts the real value (docs/runbook.md, "Adding
// an API key"); a provider rejects it like any wrong key. It is a constant: changing it would give every
// existing key a new random value, which the review guard refuses.
func appSecretGenerator() *awssecretsmanager.SecretStringGenerator {
	return &awssecretsmanager.SecretStringGenerator{ExcludePunctuation: jsii.Bool(true), IncludeSpace: jsii.Bool(false),
		PasswordLength: jsii.Number(32)}
}

// newAppSecrets creates one secret per configured key. Each construct id (so its logical ID) and every property
// depend on that key alone, never on the list: kept by prod (named, so RETAIN_ON_UPDATE_OR_DELETE:
// statefulRemoval), deleted with dev's stack.
func newAppSecrets(stack awscdk.Stack, cfg *config.Config, encryption awskms.IKey) map[string]awssecretsmanager.Secret {
	secrets := map[string]awssecretsmanager.Secret{}
	for _, key := range cfg.AppSecretKeys {
		secret := awssecretsmanager.NewSecret(stack, jsii.String("AppSecret-"+key), &awssecretsmanager.SecretProps{
			SecretName: jsii.String(Names{cfg.Stage}.AppSecret(key)),
			Description: jsii.String("Backend API key " + key + " (environment variable " + key + "); the value is set with " +
				"aws secretsmanager put-secret-value (docs/runbook.md), never in code."),
			GenerateSecretString: appSecretGenerator(),
			EncryptionKey:        encryption,
			RemovalPolicy:        statefulRemoval(cfg, awscdk.RemovalPolicy_RETAIN_ON_UPDATE_OR_DELETE),
		})
		// Read weakly by compute (Fn::GetStackOutput, like the network: weakRefs): removing a key deletes this
		// secret and its output in the data stack, which deploys before compute stops reading it; a strong export
		// would make CloudFormation refuse that ("Export ... cannot be deleted as it is in use"). The ARN of a
		// secret changes only if it is replaced, which its fixed name and the review guard rule out.
		awscdk.CrossStackReferences_Of(secret).Produce(awscdk.ReferenceStrength_WEAK)
		suppress(secret, map[string]string{
			"AwsSolutions-SMG4": "Third-party API keys are issued by their provider; AWS cannot rotate them. Rotate at the provider, then put-secret-value (docs/runbook.md).",
		})
		secrets[key] = secret
	}
	return secrets
}
