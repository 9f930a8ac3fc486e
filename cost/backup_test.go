package cost

import (
	"math"
	"strings"
	"testing"
)

const backupDB = `"Db": {"Type": "AWS::RDS::DBInstance", "Properties": {"Engine": "postgres", "DBInstanceClass": "db.t4g.small",
	"MultiAZ": true, "AllocatedStorage": "20", "StorageType": "gp3", "BackupRetentionPeriod": 7}},
	"Vault": {"Type": "AWS::Backup::BackupVault", "Properties": {"BackupVaultName": "v"}},
	"Selection": {"Type": "AWS::Backup::BackupSelection", "Properties": {"BackupPlanId": {"Fn::GetAtt": ["Plan", "BackupPlanId"]},
		"BackupSelection": {"SelectionName": "db", "IamRoleArn": "r", "Resources": [{"Fn::Join": ["", ["arn:aws:rds:us-east-1:", {"Ref": "AWS::AccountId"}, ":db:", {"Ref": "Db"}]]}]}}}`

// backupPlan is prod's plan: daily kept 35 days, monthly kept a year; copy adds CopyActions to both rules.
func backupPlan(copy string) string {
	rule := func(name, cron, days string) string {
		return `{"RuleName": "` + name + `", "ScheduleExpression": "` + cron + `", "TargetBackupVault": "v", "Lifecycle": {"DeleteAfterDays": ` + days + `}` +
			strings.ReplaceAll(copy, "DAYS", days) + `}`
	}
	return `"Plan": {"Type": "AWS::Backup::BackupPlan", "Properties": {"BackupPlan": {"BackupPlanName": "p", "BackupPlanRule": [` +
		rule("Daily", "cron(0 4 * * ? *)", "35") + `, ` + rule("Monthly", "cron(0 5 1 * ? *)", "365") + `]}}}`
}

// 5 GB changing 5 % a day: one full copy, 34 daily gaps of 5 %, and the 330 days beyond the dailies hold
// 10.85 monthly points, each 1 − 0.95^30.42 ≈ 79 % new.
var backupGB = 5 * (1 + 34*0.05 + 330/(365.0/12)*(1-math.Pow(0.95, 365.0/12))) // 56.35

func backupUsage() Usage {
	u := usage730()
	u.DbDataGB, u.DbDailyChangeFraction = 5, 0.05
	return u
}

func TestBackupPlanOfRDSUsesTheFreeAllowanceLeft(t *testing.T) {
	r := estimate(t, backupUsage(), `{`+backupDB+`, `+backupPlan("")+`}`)
	noUnpriced(t, r)
	// The automated backups (7 days: 5 × 1.3 = 6.5 GB) leave 13.5 GB of the 20 GB allowance.
	approx(t, "backup", item(t, r, "AWS Backup of test-stack/Db").USDMonth, (backupGB-13.5)*0.095) // 4.07
	if r.FreeResources["AWS::Backup::BackupVault"] != 1 || r.FreeResources["AWS::Backup::BackupSelection"] != 1 {
		t.Errorf("vault and selection have no charge of their own: %v", r.FreeResources)
	}
}

func TestBackupCopiesToAnotherRegion(t *testing.T) {
	copy := `, "CopyActions": [{"DestinationBackupVaultArn": "arn:aws:backup:us-west-2:123456789012:backup-vault:c", "Lifecycle": {"DeleteAfterDays": DAYS}}]`
	r := estimate(t, backupUsage(), `{`+backupDB+`, `+backupPlan(copy)+`}`)
	// The copies keep the same points in the other vault, with no free allowance there.
	approx(t, "copies", item(t, r, "AWS Backup copies").USDMonth, backupGB*0.095) // 5.35
	if it := item(t, r, "AWS Backup test-stack/Plan cross-region"); !it.Unpriced || !strings.Contains(it.Detail, "us-west-2") {
		t.Errorf("the transfer to another region has no price: %+v", it)
	}
	// Copies kept forever cannot be priced.
	r = estimate(t, backupUsage(), `{`+backupDB+`, `+backupPlan(`, "CopyActions": [{"DestinationBackupVaultArn": "arn:aws:backup:us-east-1:1:backup-vault:c"}]`)+`}`)
	if it := item(t, r, "AWS Backup test-stack/Plan"); !it.Unpriced || !strings.Contains(it.Detail, "kept forever") {
		t.Errorf("copies without a lifecycle: %+v", it)
	}
}

func TestBackupOfAnythingButRDSIsUnpriced(t *testing.T) {
	r := estimate(t, backupUsage(), `{`+strings.Replace(backupDB, `{"Ref": "Db"}`, `{"Ref": "Table"}`, 1)+`, `+backupPlan("")+`,
		"Table": {"Type": "AWS::DynamoDB::Table", "Properties": {}}}`)
	if it := item(t, r, "AWS Backup test-stack/Plan (other resources)"); !it.Unpriced {
		t.Errorf("a table in a backup plan: %+v", it)
	}
}
