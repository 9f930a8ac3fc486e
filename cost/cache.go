package cost

import (
	"fmt"
	"strings"
)

// cache prices ElastiCache replication groups (cluster mode disabled: NumCacheClusters nodes, one shard).
func (e *estimator) cache() {
	h := e.hours()
	for _, rg := range e.claim("AWS::ElastiCache::ReplicationGroup") {
		engine := strings.ToLower(rg.Str("Engine"))
		if engine == "" {
			engine = "redis" // the CloudFormation default
		}
		node := rg.Str("CacheNodeType")
		name := fmt.Sprintf("ElastiCache %s %s", engine, node)
		if rg.Prop("NumNodeGroups") != nil || rg.Prop("NodeGroupConfiguration") != nil || rg.Prop("ReplicasPerNodeGroup") != nil {
			e.unpriced(name+" "+rg.Path(), "cluster mode (node groups) is not priced by the estimator")
			continue
		}
		nodes, how := 1.0, "1 node (no NumCacheClusters: default)"
		if n, ok := rg.Num("NumCacheClusters"); ok {
			nodes, how = n, fmt.Sprintf("NumCacheClusters %s", fmtNum(n))
		}
		name = fmt.Sprintf("%s ×%s %s", name, fmtNum(nodes), rg.Path())
		v, ok := e.priced(name, fmt.Sprintf("engine %q node type %q", engine, node),
			fmt.Sprintf("elasticache_%s_%s_usd_per_hour", keyPart(engine), keyPart(node)))
		if !ok {
			continue
		}
		usd := nodes * h * v[0]
		detail := fmt.Sprintf("%s × %s h × $%s (%s)", plural(int(nodes), "node"), fmtNum(h), fmtNum(v[0]), how)
		if keep, ok := rg.Num("SnapshotRetentionLimit"); ok && keep > 1 {
			// One snapshot per cluster is free; the others are billed as backup storage.
			if bp, ok := e.priced(name+" snapshots", "", "elasticache_backup_storage_usd_per_gb_month"); ok {
				gb := (keep - 1) * e.u.CacheSnapshotGB
				usd += gb * bp[0]
				detail += fmt.Sprintf(" + snapshots (%s kept, 1 free) %s GB × $%s", fmtNum(keep), fmtNum(round4(gb)), fmtNum(bp[0]))
			}
		}
		e.add(name, detail, usd)
	}
}
