package cost

import (
	"fmt"
	"strings"
)

var rdsEngineKey = map[string]string{"postgres": "pg", "mysql": "mysql", "mariadb": "mariadb"}

// rdsBackupKey prices RDS backup storage beyond the free allowance: automated backups and snapshots alike.
const rdsBackupKey = "rds_backup_storage_beyond_free_usd_per_gb_month"

func (e *estimator) rds() {
	dbs := e.claim("AWS::RDS::DBInstance")
	for _, db := range dbs {
		name := "RDS " + db.Path()
		if db.Str("DBClusterIdentifier") != "" || db.Prop("DBClusterIdentifier") != nil {
			e.unpriced(name, "an Aurora cluster instance: Aurora has no price in the price table")
			continue
		}
		engine := strings.ToLower(db.Str("Engine"))
		class := db.Str("DBInstanceClass")
		multi, _ := db.Bool("MultiAZ")
		az, azLabel := "single_az", "Single-AZ"
		if multi {
			az, azLabel = "multi_az", "Multi-AZ"
		}
		if managed, _ := db.Bool("ManageMasterUserPassword"); managed {
			e.secrets = append(e.secrets, "RDS-managed master secret of "+db.Path())
		}
		eng := rdsEngineKey[engine]
		if eng == "" {
			eng = keyPart(engine)
		}
		instKey := fmt.Sprintf("rds_%s_%s_%s_usd_per_hour", eng, keyPart(class), az)
		inst, instOK := e.priced(fmt.Sprintf("RDS instance %s %s %s", engine, class, db.Path()),
			fmt.Sprintf("engine %q class %q %s", engine, class, azLabel), instKey)

		hours, schedDetail := e.dbHours(db, len(dbs) == 1)
		var parts []string
		usd := 0.0
		label := fmt.Sprintf("RDS %s %s %s %s", engine, class, azLabel, db.Path())
		if instOK {
			usd += hours * inst[0]
			parts = append(parts, fmt.Sprintf("%s %s × %s h%s × $%s", class, azLabel, fmtNum(round4(hours)), schedDetail, fmtNum(inst[0])))
		} else {
			label = fmt.Sprintf("RDS storage %s", db.Path())
		}

		// Storage (billed whether the instance runs or is stopped).
		alloc, _ := db.Num("AllocatedStorage")
		st := strings.ToLower(db.Str("StorageType"))
		stNote := ""
		if st == "" {
			st = "gp2"
			if _, ok := db.Num("Iops"); ok {
				st = "io1"
			}
			stNote = " (StorageType absent: CloudFormation default)"
		}
		if v, ok := e.priced("RDS storage "+st+" "+db.Path(), "", fmt.Sprintf("rds_%s_%s_usd_per_gb_month", st, az)); ok {
			usd += alloc * v[0]
			parts = append(parts, fmt.Sprintf("%s GB %s%s × $%s", fmtNum(alloc), st, stNote, fmtNum(v[0])))
		}
		if db.Prop("Iops") != nil || db.Prop("StorageThroughput") != nil {
			e.unpriced("RDS provisioned IOPS/throughput "+db.Path(), "Iops/StorageThroughput have no price in the estimator")
		}

		// Automated backups: free up to the provisioned storage; beyond it, the full copy plus daily changes.
		retention, ok := db.Num("BackupRetentionPeriod")
		if !ok {
			retention = 1 // the CloudFormation default
		}
		e.rdsFreeBackupGB[db] = alloc
		if retention > 0 {
			backup := e.u.DbDataGB * (1 + e.u.DbDailyChangeFraction*(retention-1))
			beyond := positive(backup - alloc)
			e.rdsFreeBackupGB[db] = positive(alloc - backup)
			if v, ok := e.priced("RDS backup storage "+db.Path(), "", rdsBackupKey); ok {
				usd += beyond * v[0]
				parts = append(parts, fmt.Sprintf("backups %s GB (%s GB data, %s-day retention, usage) − %s GB free = %s GB × $%s",
					fmtNum(round4(backup)), fmtNum(e.u.DbDataGB), fmtNum(retention), fmtNum(alloc), fmtNum(round4(beyond)), fmtNum(v[0])))
			}
		}
		if pi, _ := db.Bool("EnablePerformanceInsights"); pi {
			free, _ := e.price("rds_performance_insights_free_retention_days")
			if r, ok := db.Num("PerformanceInsightsRetentionPeriod"); ok && r > free {
				e.unpriced("RDS Performance Insights "+db.Path(), fmt.Sprintf("retention %s days beyond the free %s days has no price in the price table", fmtNum(r), fmtNum(free)))
			} else {
				parts = append(parts, "Performance Insights free tier")
			}
		}
		if mode := db.Str("DatabaseInsightsMode"); strings.EqualFold(mode, "advanced") {
			e.unpriced("RDS Database Insights advanced "+db.Path(), "advanced mode has no price in the price table")
		}
		if interval, ok := db.Num("MonitoringInterval"); ok && interval > 0 {
			e.logs = append(e.logs, logInput{source: "RDS enhanced monitoring", gb: e.u.EnhancedMonitoringGB * 60 / interval,
				retentionDays: 30}) // RDSOSMetrics is created by RDS with 30-day retention
			parts = append(parts, fmt.Sprintf("enhanced monitoring every %s s (CloudWatch Logs line)", fmtNum(interval)))
		}
		if exports := db.List("EnableCloudwatchLogsExports"); len(exports) > 0 {
			e.logs = append(e.logs, logInput{source: "RDS log exports", gb: e.u.DbLogGB, retentionDays: e.rdsLogRetention()})
		}
		if instOK || len(parts) > 0 {
			e.add(label, strings.Join(parts, " + "), usd)
		}
	}
}

// rdsLogRetention finds the retention of the RDS log groups (an explicit log group named /aws/rds/...);
// 0 means never expire.
func (e *estimator) rdsLogRetention() float64 {
	for _, r := range e.of("AWS::Logs::LogGroup") {
		if strings.Contains(strings.Join(literalStrings(r.Prop("LogGroupName")), ""), "/aws/rds/") {
			if d, ok := r.Num("RetentionInDays"); ok {
				return d
			}
		}
	}
	return 0
}

// dbHours is how long a database instance runs a month: all month, unless EventBridge Scheduler schedules in
// the stage stop and start it (aws-sdk:rds:stopDBInstance / startDBInstance).
func (e *estimator) dbHours(db *Resource, onlyDB bool) (float64, string) {
	var events []schedEvent[bool]
	var bad []string
	for _, s := range e.of("AWS::Scheduler::Schedule") {
		arn := strings.Join(literalStrings(s.Prop("Target.Arn")), "")
		stop, start := strings.HasSuffix(arn, "rds:stopDBInstance"), strings.HasSuffix(arn, "rds:startDBInstance")
		if strings.EqualFold(s.Str("State"), "DISABLED") || !stop && !start ||
			!onlyDB && !refersToResource(s.Prop("Target.Input"), db, "DBInstanceIdentifier") {
			continue
		}
		c, err := parseCron(s.Str("ScheduleExpression"))
		if err != nil {
			bad = append(bad, err.Error())
			continue
		}
		events = append(events, schedEvent[bool]{cron: c, apply: func(bool) bool { return start }})
	}
	if len(events) == 0 && len(bad) == 0 {
		return e.hours(), ""
	}
	share := simulate(true, events)[true]
	detail := fmt.Sprintf(" (%.1f%% of %s h: %d stop/start schedules)", share*100, fmtNum(e.hours()), len(events))
	if len(bad) > 0 {
		detail += " (unreadable schedules ignored: " + strings.Join(bad, "; ") + ")"
	}
	return share * e.hours(), detail
}
