package stacks

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsbackup"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/jsii-runtime-go"

	"h2o-infra/config"
)

// Retention of the Backup plan's recovery points: a month of dailies, a year of monthlies.
const (
	dailyBackupDays   = 35
	monthlyBackupDays = 365
)

// newDataKey is the stage's customer-managed key for its database, PDF bucket and backup vault. Decided before
// data exists: an RDS instance's key cannot change in place (a new key means a snapshot copy and a restore), and
// only a database on a customer-managed key can have its backups copied to another account (AWS Backup developer
// guide, "Creating backup copies across AWS accounts": the key is shared with the destination; snapshots under the
// AWS-managed aws/rds key cannot be: AWS Storage Blog, "Protecting encrypted Amazon RDS instances with
// cross-account and cross-Region backups"). The key policy is
// the CDK default (the account's IAM policies decide who may use it: the task role for PDFs, the Backup role);
// RDS and S3 use it on the caller's behalf. Rotated yearly; never deleted with the stack, only scheduled for
// deletion when the create that made it rolls back (statefulRemoval: nothing can be encrypted with it yet).
func newDataKey(stack awscdk.Stack, cfg *config.Config) awskms.Key {
	return awskms.NewKey(stack, jsii.String("DataKey"), &awskms.KeyProps{
		Alias:             jsii.String(Names{cfg.Stage}.DataKeyAlias()),
		Description:       jsii.String(fmt.Sprintf("h2o %s data: database, PDF bucket, backup vault", cfg.Stage)),
		EnableKeyRotation: jsii.Bool(true),
		PendingWindow:     awscdk.Duration_Days(jsii.Number(30)), // the longest wait: a scheduled deletion can be cancelled
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN_ON_UPDATE_OR_DELETE,
	})
}

// newBackupPlan backs the database up with AWS Backup beyond its automated backups' point-in-time window:
// daily for 35 days and monthly for 12 months, into a vault whose lock keeps anyone, a compromised deploy role
// included, from deleting recovery points early (AWS Backup developer guide, "AWS Backup Vault Lock"). In
// compliance mode the lock itself becomes immutable 3 days after it is set (ChangeableForDays: the cooling-off
// period, the minimum AWS allows); governance mode lets principals with the right permission remove it.
//
// The vault is never updated after it is created, whatever else changes: past its lock date a compliance lock
// "becomes immutable and cannot be changed or deleted" (CloudFormation, AWS::Backup::BackupVault
// LockConfigurationType), and AWS documents neither whether CloudFormation re-sends the lock configuration on an
// unrelated update of the vault (its update handler may call PutBackupVaultLockConfiguration and
// DeleteBackupVaultLockConfiguration: the resource type's registry schema) nor what AWS Backup answers to that on a
// locked vault. So the vault carries no app-wide tags (untaggedTypes), no access policy and no notifications, and
// TestBackupVaultIsNeverUpdated pins its resource byte for byte: changing it is a decision for an account test
// first, never a side effect.
func newBackupPlan(stack awscdk.Stack, cfg *config.Config, db awsrds.DatabaseInstance, key awskms.Key) awsbackup.BackupVault {
	lock := &awsbackup.LockConfiguration{MinRetention: awscdk.Duration_Days(jsii.Number(dailyBackupDays))}
	if cfg.BackupVaultLock == config.BackupLockCompliance {
		lock.ChangeableFor = awscdk.Duration_Days(jsii.Number(3))
	}
	vault := awsbackup.NewBackupVault(stack, jsii.String("BackupVault"), &awsbackup.BackupVaultProps{
		BackupVaultName:   jsii.String(Names{cfg.Stage}.BackupVault()),
		EncryptionKey:     key,
		LockConfiguration: lock,
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN_ON_UPDATE_OR_DELETE, // named: see statefulRemoval
	})
	// 04:00 daily, 05:00 on the 1st: before the database's automated backup window (rdsBackupWindow) and
	// maintenance, and apart from each other, so no two backups of the instance run at once (our choice: AWS
	// documents only that RDS's backup window cannot overlap its maintenance window).
	var copyVault awsbackup.IBackupVault
	if cfg.BackupCopyVaultARN != "" {
		copyVault = awsbackup.BackupVault_FromBackupVaultArn(stack, jsii.String("CopyVault"), jsii.String(cfg.BackupCopyVaultARN))
		allowCopyAccount(key, cfg.BackupCopyVaultARN)
	}
	rule := func(name, hour, day string, days float64) awsbackup.BackupPlanRule {
		props := &awsbackup.BackupPlanRuleProps{
			RuleName: jsii.String(name), BackupVault: vault, DeleteAfter: awscdk.Duration_Days(jsii.Number(days)),
			ScheduleExpression: awsevents.Schedule_Cron(&awsevents.CronOptions{Minute: jsii.String("0"), Hour: jsii.String(hour), Day: jsii.String(day)}),
			StartWindow:        awscdk.Duration_Hours(jsii.Number(1)), CompletionWindow: awscdk.Duration_Hours(jsii.Number(3)),
		}
		if copyVault != nil {
			props.CopyActions = &[]*awsbackup.BackupPlanCopyActionProps{{
				DestinationBackupVault: copyVault, DeleteAfter: awscdk.Duration_Days(jsii.Number(days)),
			}}
		}
		return awsbackup.NewBackupPlanRule(props)
	}
	plan := awsbackup.NewBackupPlan(stack, jsii.String("BackupPlan"), &awsbackup.BackupPlanProps{
		BackupPlanName: jsii.String(Names{cfg.Stage}.Resource("database")),
		BackupPlanRules: &[]awsbackup.BackupPlanRule{
			rule("Daily", "4", "*", dailyBackupDays), rule("Monthly", "5", "1", monthlyBackupDays),
		},
	})
	selection := plan.AddSelection(jsii.String("Database"), &awsbackup.BackupSelectionOptions{
		BackupSelectionName: jsii.String("database"),
		Resources:           &[]awsbackup.BackupResource{awsbackup.BackupResource_FromRdsDatabaseInstance(db)},
		AllowRestores:       jsii.Bool(true),
	})
	suppress(selection, map[string]string{
		"AwsSolutions-IAM4": "AWS Backup's service role needs AWS's AWSBackupServiceRolePolicyForBackup/ForRestores managed policies: they track the RDS and KMS (via RDS) actions Backup performs.",
	})
	return vault
}

// allowCopyAccount lets the account of the copy vault use the data key: an RDS recovery point stays encrypted
// with the database's key, and another account can copy it only if the key policy names that account (KMS
// developer guide, "Allowing users in other accounts to use a KMS key"; grants only for AWS services acting for
// it). For a copy within this account (another region) the statement adds nothing.
func allowCopyAccount(key awskms.Key, vaultARN string) {
	account := strings.Split(vaultARN, ":")[4] // arn:aws:backup:<region>:<account>:backup-vault:<name>, validated
	other := awsiam.NewAccountPrincipal(jsii.String(account))
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("AllowBackupCopyAccount"), Principals: &[]awsiam.IPrincipal{other}, Resources: jsii.Strings("*"),
		Actions: jsii.Strings("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:ReEncryptTo"),
	}), nil)
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("AllowBackupCopyAccountGrants"), Principals: &[]awsiam.IPrincipal{other}, Resources: jsii.Strings("*"),
		Actions:    jsii.Strings("kms:CreateGrant"),
		Conditions: &map[string]interface{}{"Bool": map[string]interface{}{"kms:GrantIsForAWSResource": true}},
	}), nil)
}
