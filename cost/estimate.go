// Package cost estimates the monthly AWS cost of each stage of a synthesized CDK app from its CloudFormation
// templates, a dated price table (pricing/prices-us-east-1.json) and per-stage usage assumptions
// (config.UsageFor). Sizes, counts and schedules are read from the templates; only traffic and stored data
// come from the usage assumptions. A resource type or size with no price is reported as unpriced, never $0.
package cost

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"h2o-infra/config"
)

// estimator prices one stage.
type estimator struct {
	stage   string
	u       config.Usage
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
func EstimateStage(stage string, stacks []*Stack, u config.Usage, p *Prices) *StageReport {
	e := &estimator{stage: stage, u: u, p: p, stacks: stacks, byType: map[string][]*Resource{},
		handled: map[*Resource]bool{}, free: map[string]int{}}
	// Zero values of a hand-built Usage get config.UsageFor's defaults rather than silently pricing nothing.
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
		e.fargate, e.loadBalancers, e.natGateways, e.interfaceEndpoints, e.elasticIPs, e.publicIPv4, e.crossAZ,
		e.rds, e.cache, e.s3, e.secretsManager, e.kms, e.ecr,
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

// priceOrUnpriced reads one key; when it is missing it lists item as unpriced and reports false.
func (e *estimator) priceOrUnpriced(item, key string) (float64, bool) {
	p, ok := e.price(key)
	if !ok {
		e.unpriced(item, noKey([]string{key}))
	}
	return p, ok
}

// price reads a key; a missing key is reported by the caller as unpriced.
func (e *estimator) price(key string) (float64, bool) { return e.p.Get(key) }

// prices reads several keys; missing lists those absent.
func (e *estimator) prices(keys ...string) (vals []float64, missing []string) {
	for _, k := range keys {
		v, ok := e.p.Get(k)
		if !ok {
			missing = append(missing, k)
		}
		vals = append(vals, v)
	}
	return vals, missing
}

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
