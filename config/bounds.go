package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Bounds of the whole-number and enumerated settings, in one table that validation enforces and
// config/bounds_test.go checks at both ends of each (lowest and highest accepted, one step beyond each refused).
// A whole-number setting without an entry fails that test.

// intRule is what a whole-number setting accepts: lo to hi (inclusive), or one of values when values is set. Either
// may depend on other settings; values returns nil when it cannot be checked because another setting it depends on
// is itself invalid (that setting's error is reported instead).
type intRule struct {
	lo, hi func(c *Config) int
	values func(c *Config) []int
	// allowed is the message's "want ..." text; it names the bounds.
	allowed func(c *Config) string
}

// span is a fixed range; note (may be "") says why, after the bounds.
func span(lo, hi int, note string) intRule {
	return intRule{lo: fixed(lo), hi: fixed(hi), allowed: func(*Config) string { return fmt.Sprintf("%d to %d%s", lo, hi, note) }}
}

func fixed(n int) func(*Config) int { return func(*Config) int { return n } }

// oneOf is a fixed list of values; what says what they are.
func oneOf(what string, values []int) intRule {
	return intRule{values: func(*Config) []int { return values },
		allowed: func(*Config) string { return what + ": " + joinInts(values) }}
}

// intRules are the whole-number settings' bounds, by key.
var intRules = map[string]intRule{
	"natGateways": {lo: fixed(0), hi: func(c *Config) int { return len(c.AvailabilityZones) },
		allowed: func(c *Config) string {
			return fmt.Sprintf("0 to %d (at most one per availability zone)", len(c.AvailabilityZones))
		}},
	"taskCpu": oneOf("a Fargate CPU value", fargateCPUs()),
	"taskMemoryMiB": {values: func(c *Config) []int { return fargateMemory[c.TaskCPU] },
		allowed: func(c *Config) string {
			return fmt.Sprintf("a Fargate memory size for %d CPU units: %s", c.TaskCPU, joinInts(fargateMemory[c.TaskCPU]))
		}},
	"workers":       span(1, 64, ""),
	"containerPort": span(1024, 65535, " (a non-root process cannot bind lower ports)"),
	"healthCheckGraceSeconds": span(10, 80,
		" seconds (the ALB's unhealthy threshold, at most 10 checks 10 s apart, must outlast it)"),
	"errorRateMinRequests":   span(1, 100000, " requests a minute"),
	"canaryPercent":          span(1, 50, " percent (a canary is a minority of the requests)"),
	"canaryBakeMinutes":      span(1, 60, " minutes"),
	"deployBakeMinutes":      span(0, 60, " minutes"),
	"deployFailureThreshold": span(1, 10, " failed tasks"),
	// minTasks' ceiling is maxTasks' (a floor above it could never be met).
	"minTasks": span(1, maxTasksCeiling, ""),
	"maxTasks": {lo: func(c *Config) int { return c.MinTasks }, hi: fixed(maxTasksCeiling),
		allowed: func(c *Config) string { return fmt.Sprintf("from minTasks (%d) to %d", c.MinTasks, maxTasksCeiling) }},
	"onDemandBaseTasks": {lo: fixed(0), hi: func(c *Config) int {
		if c.FargateSpot {
			return c.MinTasks
		}
		return 0
	}, allowed: func(c *Config) string {
		if c.FargateSpot {
			return fmt.Sprintf("0 to minTasks (%d)", c.MinTasks)
		}
		return "0 without fargateSpot (every task is on regular Fargate then)"
	}},
	"dbStartLeadMinutes": span(0, 120, " minutes"),
	// gp3 holds up to 65536 GiB; the allocated size stays one below, so storage autoscaling has room above it.
	"dbAllocatedStorageGiB": span(20, gp3MaxGiB-1, " (gp3 limits; below dbMaxAllocatedStorageGiB)"),
	"dbMaxAllocatedStorageGiB": {lo: func(c *Config) int { return c.DBAllocatedStorageGiB + 1 }, hi: fixed(gp3MaxGiB),
		allowed: func(c *Config) string {
			return fmt.Sprintf("%d to %d: more than dbAllocatedStorageGiB (%d), at most the gp3 limit",
				c.DBAllocatedStorageGiB+1, gp3MaxGiB, c.DBAllocatedStorageGiB)
		}},
	"backupRetentionDays":      span(1, 35, " (0 would turn off backups and point-in-time recovery)"),
	"pdfNoncurrentVersionDays": span(1, 3650, " days"),
	"cacheReplicas":            span(0, 5, ""),
	"logRetentionDays":         oneOf("a CloudWatch Logs retention in days", logRetentionDays),
	"monthlyBudgetUsd":         span(1, 1000000, " US dollars"),
	"requestTimeoutSeconds": span(1, 120,
		" seconds (CloudFront's response timeout quota per origin; more needs a quota increase)"),
	"wafRateLimit": span(10, 2000000000, " requests per IP per 5 minutes (WAF limits)"),
	"wafBodyLimitKiB": span(0, 16,
		" KiB, 0 for no limit: a CloudFront web ACL inspects the first 16 KiB of a body; larger limits belong in the app"),
}

const (
	maxTasksCeiling = 50
	gp3MaxGiB       = 65536
)

// stringChoice is what an enumerated text setting accepts.
type stringChoice struct {
	values []string
	note   string // why, after the values
}

// stringChoices are the enumerated text settings' values, by key.
var stringChoices = map[string]stringChoice{
	"region":          {[]string{"us-east-1"}, " (CloudFront's WAF and certificates must live there)"},
	"cpuArchitecture": {[]string{ArchARM64, ArchX8664}, ""},
	"backupVaultLock": {[]string{BackupLockCompliance, BackupLockGovernance}, ""},
	"wafMode":         {[]string{WAFBlock, WAFCount, WAFOff}, ""},
	// What ElastiCache offers for Valkey (versions.go says where the list comes from).
	"cacheEngineVersion": {ValkeyVersions, " (ElastiCache for Valkey)"},
}

func (s stringChoice) allowed() string {
	return "one of " + joinStrings(s.values) + s.note
}

// validateBounds checks every setting of intRules and stringChoices, in field order.
func (c *Config) validateBounds(v *validator) {
	for _, f := range StageFields() {
		if rule, ok := intRules[f.Key]; ok {
			n := f.intValue(c)
			if ok, checked := rule.accepts(c, n); checked {
				v.check(ok, f.Key, strconv.Itoa(n), rule.allowed(c))
			}
		}
		if choice, ok := stringChoices[f.Key]; ok {
			value := f.stringValue(c)
			v.check(slices.Contains(choice.values, value), f.Key, value, choice.allowed())
		}
	}
}

// accepts reports whether n is allowed; checked is false when the rule cannot be judged (values returns nil).
func (r intRule) accepts(c *Config, n int) (ok, checked bool) {
	if r.values != nil {
		values := r.values(c)
		return slices.Contains(values, n), values != nil
	}
	return n >= r.lo(c) && n <= r.hi(c), true
}

func fargateCPUs() []int {
	cpus := make([]int, 0, len(fargateMemory))
	for cpu := range fargateMemory {
		cpus = append(cpus, cpu)
	}
	slices.Sort(cpus)
	return cpus
}

func joinStrings(values []string) string {
	if len(values) < 2 {
		return strings.Join(values, "")
	}
	return strings.Join(values[:len(values)-1], ", ") + " or " + values[len(values)-1]
}
