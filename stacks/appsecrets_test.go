package stacks

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"h2o-infra/config"
)

// TestAddingOrRemovingAnAppKeyChangesNoStoredSecret: CloudFormation gives a secret a new value whenever its
// GenerateSecretString (or SecretString) changes, so a change of appSecretKeys must leave every secret that
// exists before and after it exactly as it was (appsecrets.go).
func TestAddingOrRemovingAnAppKeyChangesNoStoredSecret(t *testing.T) {
	// GIVEN prod with a key added in front of its list, and dev with its key replaced by another (the committed
	// lists are [AI_API_KEY]; the validator off: TestMain's synth validates this code)
	lists := map[string]string{"prod": "OTHER_KEY,AI_API_KEY", "dev": "OTHER_KEY"}
	ctx := map[string]string{}
	for stage, keys := range lists {
		ctx[stage+".appSecretKeys"] = keys
	}
	app := awscdk.NewApp(&awscdk.AppProps{Context: cdkJSONContext(), Outdir: jsii.String(t.TempDir()),
		BuiltinCloudFormationValidation: jsii.Bool(false)})
	changed := map[string]*H2oStage{}
	for stage := range lists {
		changed[stage] = NewH2oStage(app, mustLoad(stage, ctx))
	}
	app.Synth(nil)
	for stage := range lists {
		// WHEN the secrets of the committed and the changed data stack are compared by logical ID
		before := resources(t, built[stage].Data.Stack, "AWS::SecretsManager::Secret")
		after := resources(t, changed[stage].Data.Stack, "AWS::SecretsManager::Secret")
		// THEN every secret in both is byte for byte the same, the added key has a secret of its own, the removed
		// key's secret is the only one gone, and the tasks read the new key from its own secret
		kept := 0
		for id, old := range before {
			now, ok := after[id]
			if !ok {
				continue
			}
			kept++
			if mustJSON(old) != mustJSON(now) {
				t.Errorf("%s: secret %s changed with appSecretKeys:\n before %s\n after  %s", stage, id, mustJSON(old), mustJSON(now))
			}
		}
		names := func(secrets map[string]map[string]interface{}) string {
			var out []string
			for _, sec := range secrets {
				out = append(out, atString(t, sec, "Properties.Name"))
			}
			return strings.Join(out, ",")
		}
		if !strings.Contains(names(after), "h2o/"+stage+"/app/OTHER_KEY") || strings.Contains(names(before), "OTHER_KEY") {
			t.Errorf("%s: the added key OTHER_KEY has no secret of its own (before %s, after %s)", stage, names(before), names(after))
		}
		gone := len(before) - kept
		if wantGone := map[string]int{"prod": 0, "dev": 1}[stage]; gone != wantGone || kept == 0 {
			t.Errorf("%s: %d secrets kept, %d gone, want %d gone (only the removed key's)", stage, kept, gone, wantGone)
		}
		// and each key in both lists (prod's AI_API_KEY) keeps its secret: found by name, under the same logical ID,
		// with the same generation settings (a new logical ID is a new secret with a new value; CloudFormation
		// regenerates the value of a changed GenerateSecretString)
		byName := func(secrets map[string]map[string]interface{}, name string) (string, map[string]interface{}) {
			for id, sec := range secrets {
				if n, _ := props(sec)["Name"].(string); n == name {
					return id, sec
				}
			}
			return "", nil
		}
		existing := 0
		for _, key := range mustLoad(stage, nil).AppSecretKeys {
			if !slices.Contains(strings.Split(lists[stage], ","), key) {
				continue
			}
			existing++
			name := Names{stage}.AppSecret(key)
			oldID, old := byName(before, name)
			newID, now := byName(after, name)
			switch {
			case old == nil || now == nil:
				t.Errorf("%s: %s's secret %s is missing (before %v, after %v)", stage, key, name, old != nil, now != nil)
			case oldID != newID:
				t.Errorf("%s: adding a key moved %s's secret from %s to %s: CloudFormation would replace it with a new value", stage, key, oldID, newID)
			case mustJSON(props(old)["GenerateSecretString"]) != mustJSON(props(now)["GenerateSecretString"]) || props(now)["GenerateSecretString"] == nil:
				t.Errorf("%s: %s's generation settings changed: %s -> %s", stage, key, mustJSON(props(old)["GenerateSecretString"]), mustJSON(props(now)["GenerateSecretString"]))
			}
		}
		if wantExisting := map[string]int{"prod": 1, "dev": 0}[stage]; existing != wantExisting {
			t.Errorf("%s: %d committed keys are in the changed list, want %d: the test no longer adds a key beside an existing one", stage, existing, wantExisting)
		}
		task := taskDefinition(t, changed[stage].Compute.Stack, "h2o-backend-"+stage)
		for _, sec := range optMaps(t, containerOf(t, task, "backend"), "Secrets") {
			if sec["Name"] == "OTHER_KEY" && !strings.Contains(mustJSON(sec["ValueFrom"]), "AppSecretOTHERKEY") {
				t.Errorf("%s: OTHER_KEY comes from %s, want its own secret", stage, mustJSON(sec["ValueFrom"]))
			}
		}
	}
}

// TestEachAppKeyIsInjectedWholeFromItsOwnSecret: ECS injects the whole secret (no JSON key, so no task can fail
// to start on a key missing from a JSON document), and the redeploy rule watches every key's secret.
func TestEachAppKeyIsInjectedWholeFromItsOwnSecret(t *testing.T) {
	forEachBuild(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		// GIVEN the stage's API key secrets
		ids := map[string]string{}
		for key, secret := range s.Data.AppSecrets {
			ids[key] = logicalIDOf(t, s.Data.Stack, secret.Node().DefaultChild())
		}
		// WHEN the service's and the migration's containers and the secret-change rule are read
		for _, family := range []string{"h2o-backend-" + cfg.Stage, "h2o-backend-migrate-" + cfg.Stage} {
			injected := map[string]string{}
			for _, sec := range optMaps(t, containerOf(t, taskDefinition(t, s.Compute.Stack, family), "backend"), "Secrets") {
				injected[atString(t, sec, "Name")] = mustJSON(sec["ValueFrom"])
			}
			// THEN each key comes whole from its own secret
			for _, key := range cfg.AppSecretKeys {
				from := injected[key]
				if !strings.Contains(from, `"OutputName":"PublishOutputRef`+ids[key]) || strings.Contains(from, "Fn::Join") { // a Join would add ":<json key>::"
					t.Errorf("%s: %s comes from %s, want the whole secret %s", family, key, from, ids[key])
				}
			}
		}
		_, rule := only(t, s.Compute.Stack, "AWS::Events::Rule")
		watched := mustJSON(at(t, rule, "Properties.EventPattern.resources"))
		for key, id := range ids {
			if !strings.Contains(watched, id) {
				t.Errorf("the secret-change rule does not watch %s's secret %s: %s", key, id, watched)
			}
		}
	})
}
