package cost

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// backupTier is one rule's recovery points: one every `every` days, each kept `keep` days.
type backupTier struct {
	name        string
	every, keep float64
}

// backupStoredGB sizes the incremental snapshots the tiers keep of a database of dataGB: one full copy, plus for
// each gap between consecutive recovery points the pages changed in it, 1 − (1 − f)^days of the data (f a day,
// so f for daily points, ~79 % for monthly ones at f = 5 %). The densest tier covers its window; a sparser tier
// adds only its points older than that.
func backupStoredGB(tiers []backupTier, dataGB, f float64) float64 {
	sort.Slice(tiers, func(i, j int) bool { return tiers[i].every < tiers[j].every })
	gaps, covered := 0.0, 0.0
	for _, t := range tiers {
		if t.keep <= covered {
			continue
		}
		points := (t.keep - covered) / t.every
		if covered == 0 {
			points-- // the newest point has no newer neighbour
		}
		gaps += points * changedShare(f, t.every)
		covered = t.keep
	}
	return dataGB * (1 + gaps)
}

// changedShare is the share of a database's pages changed over days when f of them change a day: 1 − (1 − f)^days.
func changedShare(f, days float64) float64 { return 1 - math.Pow(1-f, days) }

// backup prices AWS Backup plans over RDS instances. Their recovery points are RDS snapshots, billed as RDS
// backup storage: what the database's free allowance (its provisioned storage) leaves after its automated
// backups is used first. Copies to another vault (CopyActions) are priced at the same rate with no allowance;
// a copy to another region also moves the changed data across regions, which has no price in the table.
func (e *estimator) backup() {
	for _, plan := range e.claim("AWS::Backup::BackupPlan") {
		name := "AWS Backup " + plan.Path()
		dbs, other := e.backupTargets(plan)
		if len(other) > 0 {
			e.unpriced(name+" (other resources)", "only RDS instances are priced: "+strings.Join(other, ", "))
		}
		if len(dbs) == 0 {
			continue
		}
		tiers, copies, bad := e.backupTiers(plan)
		if len(bad) > 0 {
			e.unpriced(name, strings.Join(bad, "; "))
			continue
		}
		v, ok := e.priced(name, "", rdsBackupKey)
		if !ok {
			continue
		}
		var rules []string
		for _, t := range tiers {
			rules = append(rules, fmt.Sprintf("%s every %s d kept %s d (%s points)", t.name, fmtNum(round4(t.every)), fmtNum(t.keep),
				fmtNum(round4(t.keep/t.every))))
		}
		// The sizes follow from the usage (DbDataGB), not from the database: once per plan, the recovery points and,
		// per destination vault, the copies and the changed data they move a month.
		gb := backupStoredGB(tiers, e.u.DbDataGB, e.u.DbDailyChangeFraction)
		copyGB, copyMonthlyGB := map[string]float64{}, map[string]float64{}
		for dest, ts := range copies {
			copyGB[dest] = backupStoredGB(ts, e.u.DbDataGB, e.u.DbDailyChangeFraction)
			for _, t := range ts {
				copyMonthlyGB[dest] += e.hours() / 24 / t.every * changedShare(e.u.DbDailyChangeFraction, t.every) * e.u.DbDataGB
			}
		}
		for _, db := range dbs {
			free := min(gb, e.rdsFreeBackupGB[db])
			e.rdsFreeBackupGB[db] -= free
			e.add("AWS Backup of "+db.Path(), fmt.Sprintf("%s: RDS snapshots, billed as RDS backup storage: %s; %s GB data, %s%% changed a day (usage) → %s GB incremental − %s GB of the free allowance the automated backups leave = %s GB × $%s",
				plan.Path(), strings.Join(rules, ", "), fmtNum(e.u.DbDataGB), fmtNum(e.u.DbDailyChangeFraction*100), fmtNum(round4(gb)), fmtNum(round4(free)),
				fmtNum(round4(gb-free)), fmtNum(v[0])), (gb-free)*v[0])
			for _, dest := range sortedKeys(copies) {
				e.add("AWS Backup copies of "+db.Path(), fmt.Sprintf("%s to %s: %s GB incremental copies × $%s (RDS backup storage at the us-east-1 rate; no free allowance there)",
					plan.Path(), dest, fmtNum(round4(copyGB[dest])), fmtNum(v[0])), copyGB[dest]*v[0])
				if region := arnRegion(dest); region != e.p.Region {
					e.unpriced(name+" cross-region copy transfer of "+db.Path(), fmt.Sprintf("~%s GB a month of changed data copied to %s (region %q): the price table has no inter-region transfer price",
						fmtNum(round4(copyMonthlyGB[dest])), dest, region))
				}
			}
		}
	}
}

// backupTargets finds what a plan's selections back up: RDS instances of the same stack, and anything else
// (tag-based selections, other resource types) by path.
func (e *estimator) backupTargets(plan *Resource) (dbs []*Resource, other []string) {
	for _, sel := range e.of("AWS::Backup::BackupSelection") {
		if sel.Stack != plan.Stack || !refersTo(sel.Prop("BackupPlanId"), plan.ID) {
			continue
		}
		if sel.Prop("BackupSelection.ListOfTags") != nil || sel.Prop("BackupSelection.Conditions") != nil {
			other = append(other, sel.Path()+" (selection by tags or conditions)")
		}
		for _, x := range sel.List("BackupSelection.Resources") {
			if db := e.sameStackRef(sel, x); db != nil && db.Type == "AWS::RDS::DBInstance" {
				dbs = append(dbs, db)
			} else {
				other = append(other, strings.Join(literalStrings(x), ""))
			}
		}
	}
	return dbs, other
}

// backupTiers reads a plan's rules: the source vault's tiers and, per destination vault, the copies' tiers.
func (e *estimator) backupTiers(plan *Resource) (tiers []backupTier, copies map[string][]backupTier, bad []string) {
	copies = map[string][]backupTier{}
	for _, x := range plan.List("BackupPlan.BackupPlanRule") {
		rule, _ := x.(map[string]any)
		name, _ := literalString(rule["RuleName"])
		expr, _ := literalString(rule["ScheduleExpression"])
		c, err := parseCron(expr)
		keep, okKeep := literalNumber(dig(rule, "Lifecycle.DeleteAfterDays"))
		switch {
		case err != nil:
			bad = append(bad, "rule "+name+": "+err.Error())
			continue
		case !okKeep:
			bad = append(bad, "rule "+name+": no DeleteAfterDays, so its recovery points are kept forever")
			continue
		case fmt.Sprint(rule["EnableContinuousBackup"]) == "true":
			bad = append(bad, "rule "+name+": continuous backup (point-in-time restore) is not priced")
			continue
		}
		t := backupTier{name: name, every: referenceYearDays / firingsPerYear(c), keep: keep}
		tiers = append(tiers, t)
		for _, y := range asList(rule["CopyActions"]) {
			dest := strings.Join(literalStrings(dig(y, "DestinationBackupVaultArn")), "")
			k, ok := literalNumber(dig(y, "Lifecycle.DeleteAfterDays"))
			if !ok {
				bad = append(bad, "rule "+name+": its copies to "+dest+" have no DeleteAfterDays, so they are kept forever")
				continue
			}
			copies[dest] = append(copies[dest], backupTier{name: name, every: t.every, keep: k})
		}
	}
	return tiers, copies, bad
}

func asList(v any) []any { l, _ := v.([]any); return l }

// arnRegion is the region field of a literal ARN ("" when it is not one).
func arnRegion(arn string) string {
	if f := strings.Split(arn, ":"); len(f) > 4 && f[0] == "arn" {
		return f[3]
	}
	return ""
}
