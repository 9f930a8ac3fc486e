package cost

import (
	"fmt"
	"regexp"
	"strings"
)

var nonAlnum = regexp.MustCompile(`[^a-z0-9]+`)

// keyPart turns "db.t4g.micro" into "db_t4g_micro".
func keyPart(s string) string {
	return strings.Trim(nonAlnum.ReplaceAllString(strings.ToLower(s), "_"), "_")
}

var rdsEngineKey = map[string]string{"postgres": "pg", "mysql": "mysql", "mariadb": "mariadb"}

func (e *estimator) rds() {
	dbs := e.of("AWS::RDS::DBInstance")
	for _, db := range dbs {
		e.handled[db] = true
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
		instPrice, instOK := e.price(instKey)

		hours, schedDetail := e.dbHours(db, len(dbs) == 1)
		var parts []string
		usd := 0.0
		label := fmt.Sprintf("RDS %s %s %s %s", engine, class, azLabel, db.Path())
		if instOK {
			usd += hours * instPrice
			parts = append(parts, fmt.Sprintf("%s %s × %s h%s × $%s", class, azLabel, fmtNum(round4(hours)), schedDetail, fmtNum(instPrice)))
		} else {
			e.unpriced(fmt.Sprintf("RDS instance %s %s %s", engine, class, db.Path()),
				fmt.Sprintf("engine %q class %q %s: %s", engine, class, azLabel, noKey([]string{instKey})))
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
		stKey := fmt.Sprintf("rds_%s_%s_usd_per_gb_month", st, az)
		if p, ok := e.price(stKey); ok {
			usd += alloc * p
			parts = append(parts, fmt.Sprintf("%s GB %s%s × $%s", fmtNum(alloc), st, stNote, fmtNum(p)))
		} else {
			e.unpriced("RDS storage "+st+" "+db.Path(), noKey([]string{stKey}))
		}
		if iops, ok := db.Num("Iops"); ok && st == "gp3" {
			baseline := 3000.0
			if alloc >= 400 {
				baseline = 12000
			}
			if iops > baseline {
				k := "rds_gp3_iops_over_baseline_" + az + "_usd_per_iops_month"
				if p, ok := e.price(k); ok {
					usd += (iops - baseline) * p
					parts = append(parts, fmt.Sprintf("%s IOPS over the %s baseline × $%s", fmtNum(iops-baseline), fmtNum(baseline), fmtNum(p)))
				} else {
					e.unpriced("RDS provisioned IOPS "+db.Path(), noKey([]string{k}))
				}
			}
		}
		if tp, ok := db.Num("StorageThroughput"); ok && st == "gp3" {
			base := 125.0
			if alloc >= 400 {
				base = 500
			}
			if tp > base {
				e.unpriced("RDS storage throughput "+db.Path(), fmt.Sprintf("%s MiB/s over the gp3 baseline of %s has no price in the price table", fmtNum(tp), fmtNum(base)))
			}
		}

		// Automated backups: free up to the provisioned storage; beyond it, the full copy plus daily changes.
		retention, ok := db.Num("BackupRetentionPeriod")
		if !ok {
			retention = 1 // the CloudFormation default
		}
		if retention > 0 {
			backup := e.u.DbDataGB * (1 + e.u.DbDailyChangeFraction*(retention-1))
			beyond := positive(backup - alloc)
			if p, ok := e.price("rds_backup_storage_beyond_free_usd_per_gb_month"); ok {
				usd += beyond * p
				parts = append(parts, fmt.Sprintf("backups %s GB (%s GB data, %s-day retention, usage) − %s GB free = %s GB × $%s",
					fmtNum(round4(backup)), fmtNum(e.u.DbDataGB), fmtNum(retention), fmtNum(alloc), fmtNum(round4(beyond)), fmtNum(p)))
			} else if beyond > 0 {
				e.unpriced("RDS backup storage "+db.Path(), noKey([]string{"rds_backup_storage_beyond_free_usd_per_gb_month"}))
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

// rdsLogRetention finds the retention CDK sets on the RDS log groups (Custom::LogRetention or an explicit
// log group named /aws/rds/...); 0 means never expire.
func (e *estimator) rdsLogRetention() float64 {
	for _, r := range e.all {
		if (r.Type == "Custom::LogRetention" || r.Type == "AWS::Logs::LogGroup") &&
			strings.Contains(strings.Join(literalStrings(r.Prop("LogGroupName")), ""), "/aws/rds/") {
			if d, ok := r.Num("RetentionInDays"); ok {
				return d
			}
		}
	}
	return 0
}

// dbHours is how long a database instance runs a month: all month, unless schedules in the stage stop and
// start it: EventBridge Scheduler calling RDS directly (aws-sdk:rds:stopDBInstance / startDBInstance), or an
// EventBridge rule running the AWS-StopRdsInstance / AWS-StartRdsInstance automation.
func (e *estimator) dbHours(db *Resource, onlyDB bool) (float64, string) {
	var events []schedEvent[bool]
	var bad []string
	action := func(arn string) (running, ok bool) {
		switch {
		case strings.HasSuffix(arn, "rds:stopDBInstance"), strings.Contains(arn, "AWS-StopRdsInstance"):
			return false, true
		case strings.HasSuffix(arn, "rds:startDBInstance"), strings.Contains(arn, "AWS-StartRdsInstance"):
			return true, true
		}
		return false, false
	}
	addEvent := func(expr string, running bool) {
		c, err := parseCron(expr)
		if err != nil {
			bad = append(bad, err.Error())
			return
		}
		events = append(events, schedEvent[bool]{cron: c, apply: func(bool) bool { return running }})
	}
	for _, s := range e.of("AWS::Scheduler::Schedule") {
		if strings.EqualFold(s.Str("State"), "DISABLED") {
			continue
		}
		running, ok := action(strings.Join(literalStrings(s.Prop("Target.Arn")), ""))
		if !ok || !onlyDB && !refersToResource(s.Prop("Target.Input"), db, "DBInstanceIdentifier") {
			continue
		}
		addEvent(s.Str("ScheduleExpression"), running)
	}
	for _, r := range e.of("AWS::Events::Rule") {
		if r.Str("ScheduleExpression") == "" || strings.EqualFold(r.Str("State"), "DISABLED") {
			continue
		}
		for _, t := range r.List("Targets") {
			running, ok := action(strings.Join(literalStrings(dig(t, "Arn")), ""))
			if ok && (onlyDB || refersToResource(t, db, "DBInstanceIdentifier")) {
				addEvent(r.Str("ScheduleExpression"), running)
			}
		}
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

func (e *estimator) cache() {
	h := e.hours()
	for _, rg := range e.of("AWS::ElastiCache::ReplicationGroup") {
		e.handled[rg] = true
		engine := strings.ToLower(rg.Str("Engine"))
		if engine == "" {
			engine = "redis" // the CloudFormation default
		}
		node := rg.Str("CacheNodeType")
		nodes, groups, how := 1.0, 1.0, "1 node (no NumCacheClusters: default)"
		if n, ok := rg.Num("NumCacheClusters"); ok {
			nodes, how = n, fmt.Sprintf("NumCacheClusters %s", fmtNum(n))
		} else if ngc := rg.List("NodeGroupConfiguration"); len(ngc) > 0 {
			nodes, groups = 0, float64(len(ngc))
			defReplicas, _ := rg.Num("ReplicasPerNodeGroup")
			for _, g := range ngc {
				m, _ := g.(map[string]any)
				rc, ok := literalNumber(m["ReplicaCount"])
				if !ok {
					rc = defReplicas
				}
				nodes += rc + 1
			}
			how = fmt.Sprintf("%d node groups (NodeGroupConfiguration)", len(ngc))
		} else {
			ng, okG := rg.Num("NumNodeGroups")
			rp, okR := rg.Num("ReplicasPerNodeGroup")
			if okG || okR {
				if !okG {
					ng = 1
				}
				groups, nodes = ng, ng*(rp+1)
				how = fmt.Sprintf("%s shard(s) × (ReplicasPerNodeGroup %s + 1)", fmtNum(ng), fmtNum(rp))
			}
		}
		e.cacheNodes(rg, engine, node, nodes, how, groups, h)
	}
	for _, cc := range e.of("AWS::ElastiCache::CacheCluster") {
		e.handled[cc] = true
		engine := strings.ToLower(cc.Str("Engine"))
		n, ok := cc.Num("NumCacheNodes")
		if !ok {
			n = 1
		}
		e.cacheNodes(cc, engine, cc.Str("CacheNodeType"), n, fmt.Sprintf("NumCacheNodes %s", fmtNum(n)), 1, h)
	}
	for _, sc := range e.of("AWS::ElastiCache::ServerlessCache") {
		e.handled[sc] = true
		engine := strings.ToLower(sc.Str("Engine"))
		pre := "elasticache_serverless_" + keyPart(engine)
		vals, missing := e.prices(pre+"_usd_per_gb_hour", pre+"_usd_per_million_ecpu", pre+"_min_storage_gb")
		name := fmt.Sprintf("ElastiCache Serverless %s %s", engine, sc.Path())
		if len(missing) > 0 {
			e.unpriced(name, noKey(missing))
			continue
		}
		minGB := vals[2]
		if m, ok := sc.Num("CacheUsageLimits.DataStorage.Minimum"); ok && m > minGB {
			minGB = m
		}
		gb := max(minGB, e.u.CacheDataGB)
		e.add(name, fmt.Sprintf("%s GB (usage %s, minimum %s) × %s h × $%s + %s M ECPU (usage) × $%s", fmtNum(gb),
			fmtNum(e.u.CacheDataGB), fmtNum(minGB), fmtNum(h), fmtNum(vals[0]), fmtNum(e.u.CacheMillionECPU), fmtNum(vals[1])),
			gb*h*vals[0]+e.u.CacheMillionECPU*vals[1])
	}
}

func (e *estimator) cacheNodes(r *Resource, engine, node string, nodes float64, how string, groups, h float64) {
	key := fmt.Sprintf("elasticache_%s_%s_usd_per_hour", keyPart(engine), keyPart(node))
	name := fmt.Sprintf("ElastiCache %s %s ×%s %s", engine, node, fmtNum(nodes), r.Path())
	p, ok := e.price(key)
	if !ok {
		e.unpriced(name, fmt.Sprintf("engine %q node type %q: %s", engine, node, noKey([]string{key})))
		return
	}
	usd := nodes * h * p
	detail := fmt.Sprintf("%s × %s h × $%s (%s)", plural(int(nodes), "node"), fmtNum(h), fmtNum(p), how)
	if keep, ok := r.Num("SnapshotRetentionLimit"); ok && keep > 1 {
		// One snapshot per cluster is free; the others are billed as backup storage.
		if bp, ok := e.price("elasticache_backup_storage_usd_per_gb_month"); ok {
			gb := (keep - 1) * e.u.CacheSnapshotGB * groups
			usd += gb * bp
			detail += fmt.Sprintf(" + snapshots (%s kept, 1 free) %s GB × $%s", fmtNum(keep), fmtNum(round4(gb)), fmtNum(bp))
		}
	}
	e.add(name, detail, usd)
}

// s3 prices bucket storage from usage: data buckets share S3DataGB, each log bucket holds S3LogGBPerBucket.
func (e *estimator) s3() {
	buckets := e.of("AWS::S3::Bucket")
	if len(buckets) == 0 {
		return
	}
	var data, logs []*Resource
	for _, b := range buckets {
		e.handled[b] = true
		if e.isLogBucket(b) {
			logs = append(logs, b)
		} else {
			data = append(data, b)
		}
	}
	p, ok := e.price("s3_standard_usd_per_gb_month_first_50tb")
	if !ok {
		e.unpriced(fmt.Sprintf("S3 buckets ×%d", len(buckets)), noKey([]string{"s3_standard_usd_per_gb_month_first_50tb"}))
		return
	}
	if len(data) > 0 {
		vals, missing := e.prices("s3_put_copy_post_list_usd_per_1k_requests", "s3_get_usd_per_1k_requests")
		usd := e.u.S3DataGB * p
		detail := fmt.Sprintf("%s GB Standard (usage) × $%s", fmtNum(e.u.S3DataGB), fmtNum(p))
		if len(missing) == 0 {
			usd += e.u.S3PutRequests/1000*vals[0] + e.u.S3GetRequests/1000*vals[1]
			detail += fmt.Sprintf(" + %s PUT × $%s/1k + %s GET × $%s/1k", fmtCount(e.u.S3PutRequests), fmtNum(vals[0]),
				fmtCount(e.u.S3GetRequests), fmtNum(vals[1]))
		} else {
			e.unpriced("S3 requests", noKey(missing))
		}
		if anyLifecycleTransition(data) {
			detail += "; lifecycle transitions not modelled (Standard price: an upper bound)"
		}
		e.add(fmt.Sprintf("S3 data buckets ×%d", len(data)), detail+" ["+paths(data)+"]", usd)
	}
	if len(logs) > 0 {
		n := float64(len(logs))
		e.add(fmt.Sprintf("S3 log buckets ×%d", len(logs)), fmt.Sprintf("%s × %s GB (usage) × $%s [%s]", fmtNum(n),
			fmtNum(e.u.S3LogGBPerBucket), fmtNum(p), paths(logs)), n*e.u.S3LogGBPerBucket*p)
	}
}

func paths(rs []*Resource) string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Path())
	}
	return strings.Join(out, ", ")
}

func anyLifecycleTransition(bs []*Resource) bool {
	for _, b := range bs {
		for _, rule := range b.List("LifecycleConfiguration.Rules") {
			m, _ := rule.(map[string]any)
			if m["Transitions"] != nil || m["Transition"] != nil {
				return true
			}
		}
	}
	return false
}

// isLogBucket: a bucket that receives access logs (S3 server access logs, ALB, CloudFront) or is set up as a
// log-delivery target.
func (e *estimator) isLogBucket(b *Resource) bool {
	if b.Str("AccessControl") == "LogDeliveryWrite" {
		return true
	}
	for _, r := range e.all {
		if r.Stack != b.Stack || r == b {
			continue
		}
		switch r.Type {
		case "AWS::S3::Bucket":
			if refersTo(r.Prop("LoggingConfiguration.DestinationBucketName"), b.ID) {
				return true
			}
		case "AWS::ElasticLoadBalancingV2::LoadBalancer":
			for _, a := range r.List("LoadBalancerAttributes") {
				m, _ := a.(map[string]any)
				if m["Key"] == "access_logs.s3.bucket" && refersTo(m["Value"], b.ID) {
					return true
				}
			}
		case "AWS::CloudFront::Distribution":
			if refersTo(r.Prop("DistributionConfig.Logging.Bucket"), b.ID) {
				return true
			}
		}
	}
	return false
}

func (e *estimator) secretsManager() {
	var own []string
	for _, s := range e.of("AWS::SecretsManager::Secret") {
		e.handled[s] = true
		own = append(own, s.Path())
	}
	e.secrets = append(own, e.secrets...)
	if len(e.secrets) == 0 {
		return
	}
	vals, missing := e.prices("secrets_manager_usd_per_secret_month", "secrets_manager_usd_per_10k_api_calls")
	item := fmt.Sprintf("Secrets Manager ×%d", len(e.secrets))
	if len(missing) > 0 {
		e.unpriced(item, noKey(missing))
		return
	}
	n := float64(len(e.secrets))
	e.add(item, fmt.Sprintf("%s secrets × $%s + %s API calls (usage) × $%s/10k [%s]", fmtNum(n), fmtNum(vals[0]),
		fmtCount(e.u.SecretsAPICalls), fmtNum(vals[1]), strings.Join(e.secrets, ", ")),
		n*vals[0]+e.u.SecretsAPICalls/10000*vals[1])
}

func (e *estimator) kms() {
	keys := e.of("AWS::KMS::Key")
	for _, k := range keys {
		e.handled[k] = true
	}
	if len(keys) == 0 && len(e.secrets) == 0 {
		return
	}
	vals, missing := e.prices("kms_cmk_usd_per_key_month", "kms_requests_usd_per_10k")
	item := fmt.Sprintf("KMS keys ×%d + requests", len(keys))
	if len(keys) == 0 {
		item = "KMS requests (AWS managed keys)"
	}
	if len(missing) > 0 {
		e.unpriced(item, noKey(missing))
		return
	}
	n := float64(len(keys))
	billable := positive(e.u.KMSRequests - e.u.Free.KMSRequests)
	detail := fmt.Sprintf("%s customer keys × $%s + (%s requests (usage) − %s free share) × $%s/10k", fmtNum(n), fmtNum(vals[0]),
		fmtCount(e.u.KMSRequests), fmtCount(e.u.Free.KMSRequests), fmtNum(vals[1]))
	rot := 0
	for _, k := range keys {
		if r, _ := k.Bool("EnableKeyRotation"); r {
			rot++
		}
	}
	if rot > 0 {
		detail += fmt.Sprintf("; %d with yearly rotation: +$1/key-month after each of the first two rotations (not in this first-year figure)", rot)
	}
	if len(keys) == 0 && billable == 0 {
		return
	}
	e.add(item, detail, n*vals[0]+billable/10000*vals[1])
}

func (e *estimator) ecr() {
	repos := e.claim("AWS::ECR::Repository")
	if len(repos) == 0 {
		return
	}
	item := fmt.Sprintf("ECR repositories ×%d", len(repos))
	p, ok := e.priceOrUnpriced(item, "ecr_storage_usd_per_gb_month")
	if !ok {
		return
	}
	n := float64(len(repos))
	detail := fmt.Sprintf("%s × %s GB of images (usage) × $%s [%s]", fmtNum(n), fmtNum(e.u.EcrGB), fmtNum(p), paths(repos))
	for _, r := range repos {
		if r.Str("ImageScanningConfiguration.ScanOnPush") == "true" {
			detail += "; basic scan on push is free"
			break
		}
	}
	e.add(item, detail, n*e.u.EcrGB*p)
}
