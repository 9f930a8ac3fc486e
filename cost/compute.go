package cost

import (
	"fmt"
	"sort"
	"strings"
)

// taskSize reads a task-level Cpu (units) or Memory (MiB): "2048", 2048, or the "2 vCPU" / "4 GB" forms.
func taskSize(td *Resource, prop, unit string) (float64, bool) {
	if n, ok := td.Num(prop); ok {
		return n, true
	}
	f := strings.Fields(strings.ToLower(td.Str(prop)))
	if len(f) == 2 && f[1] == unit {
		if n, ok := literalNumber(f[0]); ok {
			return n * 1024, true
		}
	}
	return 0, false
}

// provider is one entry of a capacity provider strategy.
type provider struct {
	name         string
	base, weight float64
}

// split places n tasks on a strategy the way ECS does: each provider's base first, the rest by weight.
// Fractions are kept (the expected share), so 1 task above the base at weights 1:1 is half on each.
func split(n float64, strategy []provider) (onDemand, spot float64) {
	placed := map[string]float64{}
	rest := n
	for _, p := range strategy {
		if p.base > 0 && rest > 0 {
			b := min(p.base, rest)
			placed[p.name] += b
			rest -= b
		}
	}
	total := 0.0
	for _, p := range strategy {
		total += p.weight
	}
	if rest > 0 {
		for _, p := range strategy {
			switch {
			case total > 0:
				placed[p.name] += rest * p.weight / total
			case len(strategy) > 0 && p == strategy[0]:
				placed[p.name] += rest
			}
		}
	}
	return placed["FARGATE"], placed["FARGATE_SPOT"]
}

// capacity is the autoscaling floor and ceiling in force at some time.
type capacity struct{ min, max float64 }

func (c capacity) tasks() float64 {
	if c.max >= 0 && c.max < c.min {
		return c.max
	}
	return c.min
}

// taskHour prices one task-hour of a Fargate task definition: vCPU, memory and ephemeral storage beyond the
// free 20 GiB. ok is false (and item listed unpriced) when the size or platform cannot be priced.
func (e *estimator) taskHour(item string, td *Resource) (perTask float64, size string, ok bool) {
	cpu, okC := taskSize(td, "Cpu", "vcpu")
	mem, okM := taskSize(td, "Memory", "gb")
	if !okC || !okM {
		e.unpriced(item, "the task definition has no literal task-level Cpu/Memory")
		return 0, "", false
	}
	if osf := td.Str("RuntimePlatform.OperatingSystemFamily"); osf != "" && osf != "LINUX" {
		e.unpriced(item, "operating system "+osf+" has no Fargate price in the price table")
		return 0, "", false
	}
	arch := td.Str("RuntimePlatform.CpuArchitecture")
	if arch == "" {
		arch = "X86_64" // the ECS default
	}
	archKey := map[string]string{"ARM64": "arm", "X86_64": "x86"}[arch]
	vals, ok := e.priced(item, "architecture "+arch,
		"fargate_linux_"+archKey+"_usd_per_vcpu_hour", "fargate_linux_"+archKey+"_usd_per_gb_hour")
	if !ok {
		return 0, "", false
	}
	vcpu, gb := cpu/1024, mem/1024
	perTask = vcpu*vals[0] + gb*vals[1]
	size = fmt.Sprintf("%s vCPU/%s GB %s", fmtNum(vcpu), fmtNum(gb), arch)
	if eph, ok := td.Num("EphemeralStorage.SizeInGiB"); ok && eph > 20 {
		if v, ok := e.priced(item+" ephemeral storage", "", "fargate_ephemeral_storage_over_20gb_usd_per_gb_hour"); ok {
			perTask += (eph - 20) * v[0]
			size += fmt.Sprintf(" +%s GiB storage", fmtNum(eph-20))
		}
	}
	return perTask, size, true
}

func (e *estimator) fargate() {
	for _, svc := range e.claim("AWS::ECS::Service") {
		name := "Fargate service " + svc.Path()
		td := e.sameStackRef(svc, svc.Prop("TaskDefinition"))
		if td == nil || td.Type != "AWS::ECS::TaskDefinition" {
			e.unpriced(name, "its TaskDefinition is not a resource of the same template, so CPU/memory are unknown")
			continue
		}
		strategy, how, err := e.strategy(svc)
		if err != "" {
			e.unpriced(name, err)
			continue
		}
		perTask, sizeDetail, ok := e.taskHour(name, td)
		if !ok {
			continue
		}

		// Task count: the autoscaling floor (and its schedule), else DesiredCount.
		count, countDetail, target := e.taskCount(svc)
		var odHours, spotHours float64
		for _, st := range sortedStates(count) {
			od, sp := split(st.tasks, strategy)
			odHours += od * st.share * e.hours()
			spotHours += sp * st.share * e.hours()
		}
		extra := ""
		if target != nil && e.u.ScaleOutTaskHours > 0 {
			floor, _ := target.Num("MinCapacity")
			ceiling, _ := target.Num("MaxCapacity")
			if ceiling > floor {
				od0, sp0 := split(floor, strategy)
				od1, sp1 := split(floor+1, strategy)
				odHours += (od1 - od0) * e.u.ScaleOutTaskHours
				spotHours += (sp1 - sp0) * e.u.ScaleOutTaskHours
				extra = fmt.Sprintf("; +%s scale-out task-h (usage) placed like task %s", fmtNum(e.u.ScaleOutTaskHours), fmtNum(floor+1))
			}
		}
		spotDiscount := 0.0
		if spotHours > 0 {
			if v, ok := e.priced(name+" (Spot share)", "", "fargate_spot_discount_fraction_model"); ok {
				spotDiscount = v[0]
			} else {
				spotHours = 0
			}
		}
		usd := odHours*perTask + spotHours*perTask*(1-spotDiscount)
		detail := fmt.Sprintf("%s at $%.5f/task-h; %s%s; %s: %s task-h on-demand",
			sizeDetail, perTask, countDetail, extra, how, fmtNum(round4(odHours)))
		if spotHours > 0 {
			detail += fmt.Sprintf(" + %s task-h Spot (-%s%%)", fmtNum(round4(spotHours)), fmtNum(spotDiscount*100))
		}
		e.add(name, detail, usd)
		e.services++

		if strings.EqualFold(svc.Str("NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp"), "ENABLED") {
			e.ipv4 = append(e.ipv4, ipv4Use{what: "tasks of " + svc.Path() + " (AssignPublicIp ENABLED)",
				count: (odHours + spotHours) / e.hours()})
		}
	}
}

// oneOffTasks prices the Fargate task definitions no service runs (the migration task): OneOffTaskRuns runs a
// month of OneOffTaskMinutes each, on regular Fargate (scripts/migrate.sh: run-task --launch-type FARGATE) in
// the service's subnets, so with a public IPv4 address where the stage's service has one (dev).
func (e *estimator) oneOffTasks() {
	run, publicIP := map[*Resource]bool{}, false
	for _, svc := range e.of("AWS::ECS::Service") {
		if td := e.sameStackRef(svc, svc.Prop("TaskDefinition")); td != nil {
			run[td] = true
		}
		publicIP = publicIP || strings.EqualFold(svc.Str("NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp"), "ENABLED")
	}
	for _, td := range e.of("AWS::ECS::TaskDefinition") {
		if run[td] {
			continue
		}
		e.handled[td] = true
		name := "Fargate one-off task " + td.Path()
		perTask, size, ok := e.taskHour(name, td)
		if !ok {
			continue
		}
		hours := e.u.OneOffTaskRuns * e.u.OneOffTaskMinutes / 60
		detail := fmt.Sprintf("%s at $%.5f/task-h on-demand × %s runs (usage: one per deploy) × %s min (usage; Fargate bills a minute at least)",
			size, perTask, fmtNum(e.u.OneOffTaskRuns), fmtNum(e.u.OneOffTaskMinutes))
		if publicIP {
			if v, ok := e.priced(name+" public IPv4", "", "public_ipv4_usd_per_hour_per_address"); ok {
				perTask += v[0]
				detail += fmt.Sprintf(" + its public IPv4 × $%s/h", fmtNum(v[0]))
			}
		}
		e.add(name, detail, hours*perTask)
	}
}

// strategy returns the capacity providers of a service: its own strategy, its launch type, or the cluster's
// default strategy. err is set when the service does not run on Fargate.
func (e *estimator) strategy(svc *Resource) (strategy []provider, how, err string) {
	list := svc.List("CapacityProviderStrategy")
	how = "CapacityProviderStrategy"
	if len(list) == 0 {
		switch lt := svc.Str("LaunchType"); lt {
		case "FARGATE":
			return []provider{{name: "FARGATE", weight: 1}}, "LaunchType FARGATE", ""
		case "":
			for _, a := range e.of("AWS::ECS::ClusterCapacityProviderAssociations") {
				if a.Stack == svc.Stack && len(intersect(refs(a.Prop("Cluster")), refs(svc.Prop("Cluster")))) > 0 {
					list = a.List("DefaultCapacityProviderStrategy")
					how = "cluster default strategy"
				}
			}
			if len(list) == 0 {
				return nil, "", "no LaunchType and no capacity provider strategy: ECS defaults to EC2 instances, which are not priced"
			}
		default:
			return nil, "", "launch type " + lt + " runs on instances the estimator does not price"
		}
	}
	var parts []string
	for _, x := range list {
		m, _ := x.(map[string]any)
		cp, _ := literalString(m["CapacityProvider"])
		base, _ := literalNumber(m["Base"])
		weight, _ := literalNumber(m["Weight"])
		if cp != "FARGATE" && cp != "FARGATE_SPOT" {
			return nil, "", "capacity provider " + cp + " is not Fargate"
		}
		strategy = append(strategy, provider{name: cp, base: base, weight: weight})
		parts = append(parts, fmt.Sprintf("%s base %s weight %s", cp, fmtNum(base), fmtNum(weight)))
	}
	return strategy, how + " (" + strings.Join(parts, ", ") + ")", ""
}

func intersect(a, b map[string]bool) []string {
	var out []string
	for k := range a {
		if b[k] {
			out = append(out, k)
		}
	}
	return out
}

type countState struct{ tasks, share float64 }

func sortedStates(m map[float64]float64) []countState {
	var out []countState
	for t, s := range m {
		out = append(out, countState{t, s})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].tasks > out[j].tasks })
	return out
}

// taskCount returns the share of time each task count holds, from the ScalableTarget of the service
// (MinCapacity and its ScheduledActions) or from DesiredCount.
func (e *estimator) taskCount(svc *Resource) (shares map[float64]float64, detail string, target *Resource) {
	for _, t := range e.of("AWS::ApplicationAutoScaling::ScalableTarget") {
		if t.Stack == svc.Stack && t.Str("ScalableDimension") == "ecs:service:DesiredCount" &&
			refersToResource(t.Prop("ResourceId"), svc, "ServiceName") {
			target = t
			break
		}
	}
	if target == nil {
		n, ok := svc.Num("DesiredCount")
		if !ok {
			n = 1
			return map[float64]float64{n: 1}, "1 task (no DesiredCount: the CloudFormation default) × " + fmtNum(e.hours()) + " h", nil
		}
		return map[float64]float64{n: 1}, fmt.Sprintf("%s (DesiredCount, no autoscaling) × %s h", plural(int(n), "task"), fmtNum(e.hours())), nil
	}
	e.markFree(target)
	lo, _ := target.Num("MinCapacity")
	hi, okHi := target.Num("MaxCapacity")
	if !okHi {
		hi = -1
	}
	var events []schedEvent[capacity]
	var bad []string
	for _, a := range target.List("ScheduledActions") {
		m, _ := a.(map[string]any)
		expr, _ := literalString(m["Schedule"])
		c, err := parseCron(expr)
		if err != nil {
			bad = append(bad, err.Error())
			continue
		}
		act, _ := m["ScalableTargetAction"].(map[string]any)
		newMin, hasMin := literalNumber(act["MinCapacity"])
		newMax, hasMax := literalNumber(act["MaxCapacity"])
		events = append(events, schedEvent[capacity]{cron: c, apply: func(s capacity) capacity {
			if hasMin {
				s.min = newMin
			}
			if hasMax {
				s.max = newMax
			}
			return s
		}})
	}
	byCap := simulate(capacity{lo, hi}, events)
	shares = map[float64]float64{}
	for c, s := range byCap {
		shares[c.tasks()] += s
	}
	if len(events) == 0 {
		detail = fmt.Sprintf("%s (ScalableTarget MinCapacity) × %s h", plural(int(lo), "task"), fmtNum(e.hours()))
	} else {
		var parts []string
		for _, st := range sortedStates(shares) {
			parts = append(parts, fmt.Sprintf("%s %.1f%% of the time", plural(int(st.tasks), "task"), st.share*100))
		}
		detail = fmt.Sprintf("MinCapacity %s with %d ScheduledActions: %s", fmtNum(lo), len(events), strings.Join(parts, ", "))
	}
	if len(bad) > 0 {
		detail += " (unreadable schedules ignored: " + strings.Join(bad, "; ") + ")"
	}
	return shares, detail, target
}

func (e *estimator) ecr() {
	c, ok := e.claimLine("AWS::ECR::Repository", "ECR repositories", "ecr_storage_usd_per_gb_month")
	if !ok {
		return
	}
	detail := fmt.Sprintf("%s × %s GB of images (usage) × $%s [%s]", fmtNum(c.n()), fmtNum(e.u.EcrGB), fmtNum(c.p[0]), paths(c.rs))
	for _, r := range c.rs {
		if r.Str("ImageScanningConfiguration.ScanOnPush") == "true" {
			detail += "; basic scan on push is free"
			break
		}
	}
	e.add(c.item, detail, c.n()*e.u.EcrGB*c.p[0])
}
