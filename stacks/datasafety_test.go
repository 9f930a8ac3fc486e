package stacks

import (
	"testing"

	"h2o-infra/config"
)

// TestProtectedDatabasesKeepTheirPointInTimeBackups: a stage with deletion protection (prod) keeps its database's
// automated backups when the instance is deleted or replaced (DeleteAutomatedBackups false: RDS API reference,
// "DeleteDBInstance": "The default is to remove automated backups immediately after the DB instance is deleted"; RDS
// user guide, "Retaining automated backups": retained, they stay restorable to any point in the retention period),
// next to its final snapshot (DeletionPolicy and UpdateReplacePolicy Snapshot), deletion protection and a non-zero
// retention. A stage without it lets them go with the instance: retained backups are billed until they expire.
func TestProtectedDatabasesKeepTheirPointInTimeBackups(t *testing.T) {
	forEachContractBuild(t, func(t *testing.T, s *H2oStage, cfg *config.Config) {
		for _, db := range stageResources(t, s, "AWS::RDS::DBInstance") {
			// GIVEN each database instance of the stage WHEN its deletion settings are read
			p := props(db.r)
			keeps := p["DeleteAutomatedBackups"] == false // absent: deleted (the API's default)
			// THEN a protected stage keeps every way back; another lets the backups go
			if !cfg.DeletionProtection {
				if keeps {
					t.Errorf("%s: keeps its automated backups after deletion in a stage without deletion protection (billed until they expire)", db.id)
				}
				continue
			}
			if !keeps || p["DeletionProtection"] != true || number(p["BackupRetentionPeriod"]) < 1 ||
				db.r["DeletionPolicy"] != "Snapshot" || db.r["UpdateReplacePolicy"] != "Snapshot" {
				t.Errorf("%s: DeleteAutomatedBackups %v, DeletionProtection %v, BackupRetentionPeriod %v, DeletionPolicy %v, UpdateReplacePolicy %v: "+
					"a protected database keeps its point-in-time backups and a final snapshot", db.id, p["DeleteAutomatedBackups"],
					p["DeletionProtection"], p["BackupRetentionPeriod"], db.r["DeletionPolicy"], db.r["UpdateReplacePolicy"])
			}
		}
		if len(stageResources(t, s, "AWS::RDS::DBInstance")) == 0 {
			t.Error("no database instance: the rule checks nothing")
		}
	})
}
