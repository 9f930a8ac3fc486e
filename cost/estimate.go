// Package cost estimates the monthly AWS cost of each stage of a synthesized CDK app from its CloudFormation
// templates, a dated price table (pricing/prices-us-east-1.json) and per-stage usage assumptions
// (UsageFor, usage.go). Sizes, counts and schedules are read from the templates; only traffic and stored data
// come from the usage assumptions. A resource type or size with no price is reported as unpriced, never $0.
package cost

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// estimator prices one stage.
type estimator struct {
	stage   string
	u       Usage
	p       *Prices
	stacks  []*Stack
	all     []*Resource
	byType  map[string][]*Resource
	handled map[*Resource]bool
	free    map[string]int
	items   []Item

	ipv4     []ipv4Use  // public IPv4 address-hours, summed into one item
	logs     []logInput // log ingestion sources, summed into one item
	secrets  []string   // secrets billed (template secrets + RDS-managed master secrets)
	services int        // Fargate services found (custom app metrics, cross-AZ traffic)

	rdsFreeBackupGB map[*Resource]float64 // free backup allowance each database leaves after its automated backups
}

type ipv4Use struct {
	what  string
	count float64 // addresses held all month (address-hours / hours)
}

type logInput struct {
	source        string
	gb            float64
	retentionDays float64 // 0: never expires
}

// EstimateStage prices the stacks of one stage.
func EstimateStage(stage string, stacks []*Stack, u Usage, p *Prices) *StageReport {
	e := &estimator{stage: stage, u: u, p: p, stacks: stacks, byType: map[string][]*Resource{},
		handled: map[*Resource]bool{}, free: map[string]int{}, rdsFreeBackupGB: map[*Resource]float64{}}
	// Zero values of a hand-built Usage get UsageFor's defaults rather than silently pricing nothing.
	if e.u.HoursPerMonth == 0 {
		e.u.HoursPerMonth, _ = p.Get("hours_per_month")
	}
	if e.u.LogsStorageCompression <= 0 {
		e.u.LogsStorageCompression = 0.15
	}
	if e.u.LogsNoRetentionMonths <= 0 {
		e.u.LogsNoRetentionMonths = 12
	}
	for _, st := range stacks {
		if st.Template == nil {
			continue
		}
		for _, id := range sortedKeys(st.Template.Resources) {
			r := st.Template.Resources[id]
			e.all = append(e.all, r)
			e.byType[r.Type] = append(e.byType[r.Type], r)
		}
	}
	for _, family := range []func(){
		e.fargate, e.oneOffTasks, e.stepFunctions, e.loadBalancers, e.natGateways, e.gatewayEndpoints, e.elasticIPs, e.publicIPv4, e.crossAZ,
		e.rds, e.backup, e.cache, e.s3, e.secretsManager, e.kms, e.ecr,
		e.cloudFront, e.waf, e.route53, e.amplify,
		e.alarms, e.dashboards, e.customMetrics, e.containerInsights, e.cloudWatchLogs, e.xray, e.budgets,
		e.leftovers,
	} {
		family()
	}
	rep := &StageReport{Items: e.items, FreeResources: e.free, Usage: &e.u}
	if rep.Items == nil {
		rep.Items = []Item{}
	}
	total := 0.0
	for i := range rep.Items {
		rep.Items[i].USDMonth = round4(rep.Items[i].USDMonth)
		total += rep.Items[i].USDMonth
		if rep.Items[i].Unpriced {
			rep.UnpricedCount++
		}
	}
	rep.TotalUSDMonth = round4(total)
	for _, st := range stacks {
		rep.Stacks = append(rep.Stacks, st.Name)
	}
	return rep
}

// of returns the stage's resources of a type, in stack order then logical ID.
func (e *estimator) of(typ string) []*Resource { return e.byType[typ] }

// claim returns the resources of a type and marks them priced by the caller (so they are not "unpriced").
func (e *estimator) claim(typ string) []*Resource {
	rs := e.of(typ)
	for _, r := range rs {
		e.handled[r] = true
	}
	return rs
}

func (e *estimator) add(item, detail string, usd float64) {
	e.items = append(e.items, Item{Item: item, Detail: detail, USDMonth: usd})
}

func (e *estimator) unpriced(item, reason string) {
	e.items = append(e.items, Item{Item: item, Detail: UnpricedPrefix + ": " + reason, Unpriced: true})
}

// claimed is the line of a family that prices every resource of one type together.
type claimed struct {
	rs   []*Resource
	item string    // "<label> ×<count>"
	p    []float64 // the prices of the keys, in order
}

func (c claimed) n() float64 { return float64(len(c.rs)) }

// claimLine claims the resources of a type and reads the keys their one line needs; ok is false when the stage
// has none, or when a key is missing (the line is then listed unpriced).
func (e *estimator) claimLine(typ, label string, keys ...string) (c claimed, ok bool) {
	c.rs = e.claim(typ)
	if len(c.rs) == 0 {
		return c, false
	}
	c.item = fmt.Sprintf("%s ×%d", label, len(c.rs))
	c.p, ok = e.priced(c.item, "", keys...)
	return c, ok
}

// priced reads the keys an item needs. When any is missing it lists item as unpriced (why, then the missing
// keys) and reports false: the one place where a missing price becomes an UNPRICED line.
func (e *estimator) priced(item, why string, keys ...string) ([]float64, bool) {
	vals := make([]float64, len(keys))
	var missing []string
	for i, k := range keys {
		v, ok := e.p.Get(k)
		if !ok {
			missing = append(missing, k)
		}
		vals[i] = v
	}
	if len(missing) > 0 {
		if why != "" {
			why += ": "
		}
		e.unpriced(item, why+noKey(missing))
		return vals, false
	}
	return vals, true
}

// price reads a key that is not itself a price (a free allowance, a retention), or one whose absence the caller
// reports in its own way.
func (e *estimator) price(key string) (float64, bool) { return e.p.Get(key) }

// freeShare is this stage's share of an account-wide free allowance read from the price table (with the line's
// prices, so a missing allowance leaves the line unpriced): allowance × Usage.FreeShare.
func (e *estimator) freeShare(allowance float64) float64 { return allowance * e.u.FreeShare }

func noKey(keys []string) string {
	return "no price in the price table (missing key " + strings.Join(keys, ", ") + ")"
}

func (e *estimator) markFree(r *Resource) {
	e.handled[r] = true
	e.free[r.Type]++
}

// sameStackRef finds the resource of the same stack a value refers to (Ref or GetAtt).
func (e *estimator) sameStackRef(from *Resource, v any) *Resource {
	for id := range refs(v) {
		if r, ok := from.Stack.Template.Resources[id]; ok {
			return r
		}
	}
	return nil
}

// refersToResource reports whether v refers to r: by Ref/GetAtt in the same stack, or by one of its literal names.
func refersToResource(v any, r *Resource, nameProps ...string) bool {
	if refersTo(v, r.ID) {
		return true
	}
	for _, np := range nameProps {
		name := r.Str(np)
		if name == "" {
			continue
		}
		for _, s := range literalStrings(v) {
			if s == name || strings.HasSuffix(s, ":"+name) || strings.HasSuffix(s, "/"+name) || strings.Contains(s, `"`+name+`"`) {
				return true
			}
		}
	}
	return false
}

func (e *estimator) hours() float64 { return e.u.HoursPerMonth }

// positive returns max(0, x).
func positive(x float64) float64 { return math.Max(0, x) }

// leftovers reports every resource no family priced: free types are counted, the rest is unpriced by type.
func (e *estimator) leftovers() {
	unpricedByType := map[string][]string{}
	for _, r := range e.all {
		if e.handled[r] {
			continue
		}
		if isFree(r) {
			e.markFree(r)
			continue
		}
		label := r.Path()
		if r.Condition != "" {
			label += " (only if Condition " + r.Condition + ")"
		}
		unpricedByType[r.Type] = append(unpricedByType[r.Type], label)
	}
	for _, t := range sortedKeys(unpricedByType) {
		paths := unpricedByType[t]
		sort.Strings(paths)
		e.unpriced(fmt.Sprintf("%s ×%d", t, len(paths)),
			"resource type has no price in the estimator and is not known to be free: "+strings.Join(paths, ", "))
	}
}
