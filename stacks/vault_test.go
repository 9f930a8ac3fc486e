package stacks

import (
	"fmt"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"

	"h2o-infra/config"
)

// The backup vault, exactly as each build has it: the logical ID, the policies and every property, metadata aside
// (CloudFormation never sends Metadata to the resource). The vault lock of a compliance stage is immutable after
// its lock date (ChangeableForDays 3: "On and after the lock date, the Vault Lock becomes immutable and cannot be
// changed or deleted", AWS::Backup::BackupVault LockConfigurationType), and no AWS page says whether an update of
// anything else on the vault (tags, access policy, notifications) makes CloudFormation re-send
// PutBackupVaultLockConfiguration, which its update handler holds the permission for (the registry schema of
// AWS::Backup::BackupVault, mirrored in pulumi/pulumi-aws-native aws-cloudformation-schema/aws-backup-backupvault.json).
// So nothing may update the vault after its creation: no app-wide tags (untaggedTypes), no access policy or
// notifications (backup events go through EventBridge), and any edit of these bytes is a reviewed decision made
// with an account test first (README, "Data protection and restore").
var pinnedVaults = map[string]string{
	"prod": `{"DeletionPolicy":"RetainExceptOnCreate","Properties":{"BackupVaultName":"h2o-prod-backups",` +
		`"EncryptionKeyArn":{"Fn::GetAtt":["DataKey17AFBB84","Arn"]},"LockConfiguration":{"ChangeableForDays":3,"MinRetentionDays":35}},` +
		`"Type":"AWS::Backup::BackupVault","UpdateReplacePolicy":"Retain"}`,
	// governance mode: no lock date, so the lock never becomes immutable.
	"variant": `{"DeletionPolicy":"RetainExceptOnCreate","Properties":{"BackupVaultName":"h2o-prod-backups",` +
		`"EncryptionKeyArn":{"Fn::GetAtt":["DataKey17AFBB84","Arn"]},"LockConfiguration":{"MinRetentionDays":35}},` +
		`"Type":"AWS::Backup::BackupVault","UpdateReplacePolicy":"Retain"}`,
}

const pinnedVaultID = "BackupVault3A9C5852"

func TestBackupVaultIsNeverUpdated(t *testing.T) {
	// GIVEN every build WHEN its backup vault is read THEN the builds with a vault (prod, the variant) have exactly
	// the pinned resource under the pinned logical ID, and dev has none
	for name, s := range map[string]*H2oStage{"dev": built["dev"], "prod": built["prod"], "variant": withDomain} {
		vaults := resources(t, s.Data.Stack, "AWS::Backup::BackupVault")
		want, pinned := pinnedVaults[name]
		if !pinned {
			if len(vaults) != 0 {
				t.Errorf("%s: %d backup vaults, want none (or pin them here)", name, len(vaults))
			}
			continue
		}
		vault, ok := vaults[pinnedVaultID]
		if len(vaults) != 1 || !ok {
			t.Errorf("%s: backup vaults %v, want exactly %s", name, keysOf(vaults), pinnedVaultID)
			continue
		}
		copied := map[string]interface{}{}
		for k, v := range vault {
			if k != "Metadata" {
				copied[k] = v
			}
		}
		if got := mustJSON(copied); got != want {
			t.Errorf("%s: the backup vault changed; a locked vault must never be updated:\n got %s\nwant %s", name, got, want)
		}
	}
}

// TestNoStackCarriesStackLevelTags: CloudFormation applies a stack's own tags to every resource of the stack that
// supports tags, and re-applies them on every stack update that changes them, which would reach the untagged
// VPC origin and backup vault (untaggedTypes) around the exclusion. cdk.json's @aws-cdk/core:explicitStackTags
// keeps the app-wide tags on the resources.
func TestNoStackCarriesStackLevelTags(t *testing.T) {
	// GIVEN both synthesized apps WHEN each stack artifact is read THEN none has stack-level tags
	stacks := 0
	for _, asm := range assemblies {
		for _, stack := range *asm.StacksRecursively() {
			stacks++
			if tags := stackTags(stack); len(tags) > 0 {
				t.Errorf("%s has stack-level tags %v: CloudFormation would tag every resource with them", *stack.StackName(), tags)
			}
		}
	}
	if stacks == 0 {
		t.Error("no stack artifact found")
	}
}

func stackTags(stack cxapi.CloudFormationStackArtifact) map[string]*string {
	if tags := stack.Tags(); tags != nil {
		return *tags
	}
	return nil
}

func keysOf[V any](m map[string]V) []string { return sortedKeys(m) }

func TestVaultOutputsSayWhatLockTheVaultHas(t *testing.T) {
	// GIVEN every build with a backup vault WHEN its data stack's outputs are read THEN BackupVaultLockMode and
	// BackupVaultMinRetentionDays (what scripts/verify.sh expects of the live vault) say what the vault's
	// LockConfiguration says: compliance exactly when ChangeableForDays is set
	checked := 0
	forEachBuild(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		vaults := resources(t, s.Data.Stack, "AWS::Backup::BackupVault")
		outs := outputsOf(t, s.Data.Stack)
		if len(vaults) == 0 {
			if _, ok := outs["BackupVaultLockMode"]; ok {
				t.Errorf("%s: a lock mode output without a vault", cfg.Stage)
			}
			return
		}
		for _, vault := range vaults {
			checked++
			lock := atMap(t, vault, "Properties.LockConfiguration")
			mode := config.BackupLockGovernance
			if _, compliance := lock["ChangeableForDays"]; compliance {
				mode = config.BackupLockCompliance
			}
			if got := outs["BackupVaultLockMode"]["Value"]; got != mode {
				t.Errorf("%s: output BackupVaultLockMode %v, the vault's lock is %s", cfg.Stage, got, mode)
			}
			if got := outs["BackupVaultMinRetentionDays"]["Value"]; got != fmt.Sprint(number(lock["MinRetentionDays"])) {
				t.Errorf("%s: output BackupVaultMinRetentionDays %v, the vault's MinRetentionDays %v", cfg.Stage, got, lock["MinRetentionDays"])
			}
		}
	})
	if checked == 0 {
		t.Fatal("no build has a vault: the test checks nothing")
	}
}
