package cost

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The cost diff is tested on real templates: testdata/diff/base is prod as synthesized from the committed config,
// and each case directory holds the templates a config change rewrote (testdata/diff/SOURCE.md names the
// `cdk synth -c` of each; `make cost-fixtures` regenerates them). Both sides are priced with the real price
// table and usage model (UsageFor), and every expected change is computed from the price table, the usage
// model and the templates' own values, never typed as a dollar figure.

// fixtureDir copies testdata/diff/base to a temporary directory and lays the templates of a case over it.
func fixtureDir(t *testing.T, overlay string) string {
	t.Helper()
	dir := t.TempDir()
	for _, src := range []string{"base", overlay} {
		if src == "" {
			continue
		}
		root := filepath.Join("testdata", "diff", src)
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(rel)), 0o755); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, rel), data, 0o644)
		})
		if err != nil {
			t.Fatalf("fixture %s: %v", root, err)
		}
	}
	return dir
}

func loadFixture(t *testing.T, dir string) *Assembly {
	t.Helper()
	a, err := LoadAssembly(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := a.Stages["prod"]; !ok {
		t.Fatalf("%s: no prod stage (stages %v)", dir, a.StageNames())
	}
	return a
}

// priceAll prices an assembly the way `make cost` does: the real price table and usage model.
func priceAll(t *testing.T, a *Assembly) *Report { return Estimate(a, testPrices(t), UsageFor) }

// ofType returns prod's resources of a type.
func ofType(a *Assembly, typ string) []*Resource {
	var out []*Resource
	for _, st := range a.Stages["prod"] {
		for _, id := range sortedKeys(st.Template.Resources) {
			if r := st.Template.Resources[id]; r.Type == typ {
				out = append(out, r)
			}
		}
	}
	return out
}

func onlyOne(t *testing.T, a *Assembly, typ string) *Resource {
	t.Helper()
	rs := ofType(a, typ)
	if len(rs) != 1 {
		t.Fatalf("want 1 %s in prod, found %d", typ, len(rs))
	}
	return rs[0]
}

func num(t *testing.T, r *Resource, path string) float64 {
	t.Helper()
	v, ok := r.Num(path)
	if !ok {
		t.Fatalf("%s has no number at %s", r.Path(), path)
	}
	return v
}

func price(t *testing.T, key string) float64 {
	t.Helper()
	v, ok := testPrices(t).Get(key)
	if !ok {
		t.Fatalf("price table has no %s", key)
	}
	return v
}

func stageDiff(t *testing.T, d *Diff, stage string) StageDiff {
	t.Helper()
	for _, s := range d.Stages {
		if s.Stage == stage {
			return s
		}
	}
	t.Fatalf("diff has no stage %s", stage)
	return StageDiff{}
}

func markdown(d *Diff) string {
	var buf bytes.Buffer
	d.WriteMarkdown(&buf)
	return buf.String()
}

func near(t *testing.T, what string, got, want, tolerance float64) {
	t.Helper()
	if math.Abs(got-want) > tolerance {
		t.Errorf("%s = %.4f, want %.4f", what, got, want)
	}
}

func mustContain(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q:\n%s", want, out)
		}
	}
}

func TestCostDiffProdTaskCountDoubled(t *testing.T) {
	// GIVEN prod as committed and prod with its task count doubled (minTasks 2→4, maxTasks 3→6)
	baseA, headA := loadFixture(t, fixtureDir(t, "")), loadFixture(t, fixtureDir(t, "prod-tasks-doubled"))
	// WHEN both are priced and compared
	d := Compare(priceAll(t, baseA), priceAll(t, headA))
	// THEN the one line that changed is the service, by the added tasks' hours at the Spot price: the strategy
	// keeps `Base` tasks on FARGATE (weight 0) and puts every other task on FARGATE_SPOT, and the scale-out hours
	// (ceiling above the floor in both builds) land on Spot before and after.
	svc := onlyOne(t, headA, "AWS::ECS::Service")
	strategy := svc.List("CapacityProviderStrategy")
	if len(strategy) != 2 || fmt.Sprint(strategy[0].(map[string]any)["CapacityProvider"]) != "FARGATE" ||
		fmt.Sprint(strategy[0].(map[string]any)["Weight"]) != "0" || fmt.Sprint(strategy[1].(map[string]any)["CapacityProvider"]) != "FARGATE_SPOT" {
		t.Fatalf("the expected change assumes FARGATE (base, weight 0) then FARGATE_SPOT: %v", strategy)
	}
	onDemandBase := strategy[0].(map[string]any)["Base"].(float64)
	before := onlyOne(t, baseA, "AWS::ApplicationAutoScaling::ScalableTarget")
	after := onlyOne(t, headA, "AWS::ApplicationAutoScaling::ScalableTarget")
	minBefore, minAfter := num(t, before, "MinCapacity"), num(t, after, "MinCapacity")
	if minAfter != 2*minBefore || minBefore <= onDemandBase || num(t, before, "MaxCapacity") <= minBefore || num(t, after, "MaxCapacity") <= minAfter {
		t.Fatalf("fixture: MinCapacity %v → %v, on-demand base %v", minBefore, minAfter, onDemandBase)
	}
	var td *Resource
	for _, r := range ofType(headA, "AWS::ECS::TaskDefinition") {
		if refersTo(svc.Prop("TaskDefinition"), r.ID) {
			td = r
		}
	}
	if td == nil || td.Str("RuntimePlatform.CpuArchitecture") != "ARM64" {
		t.Fatalf("the service's ARM64 task definition not found: %v", td)
	}
	taskHour := num(t, td, "Cpu")/1024*price(t, "fargate_linux_arm_usd_per_vcpu_hour") + num(t, td, "Memory")/1024*price(t, "fargate_linux_arm_usd_per_gb_hour")
	want := (minAfter - minBefore) * UsageFor("prod").HoursPerMonth * taskHour * (1 - price(t, "fargate_spot_discount_fraction_model"))

	prod := stageDiff(t, d, "prod")
	if len(prod.Lines) != 1 {
		t.Fatalf("want the service's line alone, got %d: %+v", len(prod.Lines), prod.Lines)
	}
	l := prod.Lines[0]
	if l.Change != Changed || l.After.Item != "Fargate service "+svc.Path() {
		t.Errorf("line = %s %q", l.Change, l.title())
	}
	near(t, "service line change", l.Delta(), want, 0.0001)
	near(t, "prod total change", prod.Delta(), want, 0.001)
	if prod.Incomplete() {
		t.Error("no unpriced item changed: the change is complete")
	}
	out := markdown(d)
	mustContain(t, out,
		fmt.Sprintf("| prod | $%.2f + 1 unpriced | $%.2f + 1 unpriced | **+$%.2f**", prod.Before.TotalUSDMonth, prod.After.TotalUSDMonth, want),
		fmt.Sprintf("| Fargate service %s | $%.2f | $%.2f | +$%.2f |", svc.Path(), l.Before.USDMonth, l.After.USDMonth, want),
		fmt.Sprintf("before: 2 vCPU/4 GB ARM64 at $%.5f/task-h; %v tasks (ScalableTarget MinCapacity)", taskHour, minBefore),
		fmt.Sprintf("after: 2 vCPU/4 GB ARM64 at $%.5f/task-h; %v tasks (ScalableTarget MinCapacity)", taskHour, minAfter))
}

func TestCostDiffProdNATGatewaysHalved(t *testing.T) {
	// GIVEN prod with a NAT gateway per AZ and prod with natGateways 1
	baseA, headA := loadFixture(t, fixtureDir(t, "")), loadFixture(t, fixtureDir(t, "prod-nat-gateways-1"))
	natBefore, natAfter := len(ofType(baseA, "AWS::EC2::NatGateway")), len(ofType(headA, "AWS::EC2::NatGateway"))
	eipBefore, eipAfter := len(ofType(baseA, "AWS::EC2::EIP")), len(ofType(headA, "AWS::EC2::EIP"))
	if natAfter >= natBefore || eipAfter != natAfter || eipBefore != natBefore {
		t.Fatalf("fixture: NAT gateways %d → %d, Elastic IPs %d → %d", natBefore, natAfter, eipBefore, eipAfter)
	}
	// WHEN both are priced and compared
	d := Compare(priceAll(t, baseA), priceAll(t, headA))
	// THEN the NAT gateways' hours and their Elastic IPs' public IPv4 hours go; the processed GB (the stage's
	// traffic, usage model) stays
	hours := UsageFor("prod").HoursPerMonth
	wantNAT := float64(natAfter-natBefore) * hours * price(t, "nat_gateway_usd_per_hour")
	wantIPv4 := float64(eipAfter-eipBefore) * hours * price(t, "public_ipv4_usd_per_hour_per_address")
	prod := stageDiff(t, d, "prod")
	if len(prod.Lines) != 2 {
		t.Fatalf("want the NAT and public IPv4 lines, got %+v", prod.Lines)
	}
	byTitle := map[string]LineDiff{}
	for _, l := range prod.Lines {
		byTitle[l.title()] = l
		if l.Change != Changed {
			t.Errorf("%s is %s: a line whose quantity changed must pair with itself", l.title(), l.Change)
		}
	}
	natTitle := fmt.Sprintf("NAT gateways ×%d → ×%d", natBefore, natAfter)
	ipTitle := fmt.Sprintf("Public IPv4 addresses ×%d → ×%d", eipBefore, eipAfter)
	near(t, "NAT line", byTitle[natTitle].Delta(), wantNAT, 0.0001)
	near(t, "public IPv4 line", byTitle[ipTitle].Delta(), wantIPv4, 0.0001)
	near(t, "prod total change", prod.Delta(), wantNAT+wantIPv4, 0.001)
	mustContain(t, markdown(d),
		fmt.Sprintf("**-$%.2f**", -(wantNAT+wantIPv4)),
		fmt.Sprintf("| %s | $%.2f | $%.2f | -$%.2f |", natTitle, byTitle[natTitle].Before.USDMonth, byTitle[natTitle].After.USDMonth, -wantNAT),
		fmt.Sprintf("after: %d × %s h × $%s", natAfter, fmtNum(hours), fmtNum(price(t, "nat_gateway_usd_per_hour"))))
}

// addResource adds a resource to the template of one stack of a fixture directory, as a code change would.
func addResource(t *testing.T, dir, stackDisplayName, id string, resource map[string]any) {
	t.Helper()
	a := loadFixture(t, dir)
	for _, st := range a.Stages["prod"] {
		if st.DisplayName != stackDisplayName {
			continue
		}
		data, err := os.ReadFile(st.TemplateFile)
		if err != nil {
			t.Fatal(err)
		}
		var tmpl map[string]any
		if err := json.Unmarshal(data, &tmpl); err != nil {
			t.Fatal(err)
		}
		tmpl["Resources"].(map[string]any)[id] = resource
		if data, err = json.Marshal(tmpl); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(st.TemplateFile, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("no stack %s in %s", stackDisplayName, dir)
}

// A dead-letter queue for the AI jobs: a type this app has never created, with no price in the table.
var deadLetterQueue = map[string]any{"Type": "AWS::SQS::Queue", "Properties": map[string]any{"MessageRetentionPeriod": 1209600},
	"Metadata": map[string]any{"aws:cdk:path": "prod/data/JobsDeadLetterQueue/Resource"}}

func TestCostDiffNewResourceTypeWithoutPriceIsListedNotZero(t *testing.T) {
	// GIVEN prod, and prod with an SQS queue added to its data stack
	for key := range testPrices(t).values {
		if strings.Contains(key, "sqs") {
			t.Fatalf("the price table has %s: pick a type it lacks", key)
		}
	}
	headDir := fixtureDir(t, "")
	addResource(t, headDir, "prod/data", "JobsDeadLetterQueue", deadLetterQueue)
	base, head := priceAll(t, loadFixture(t, fixtureDir(t, ""))), priceAll(t, loadFixture(t, headDir))
	// WHEN compared, both ways
	added, removed := stageDiff(t, Compare(base, head), "prod"), stageDiff(t, Compare(head, base), "prod")
	// THEN the queue is a line of its own, unpriced: the priced total does not move, and the change is incomplete
	for _, c := range []struct {
		s    StageDiff
		want Change
		it   func(LineDiff) *Item
	}{{added, Added, func(l LineDiff) *Item { return l.After }}, {removed, Removed, func(l LineDiff) *Item { return l.Before }}} {
		if len(c.s.Lines) != 1 || c.s.Lines[0].Change != c.want {
			t.Fatalf("want one %s line, got %+v", c.want, c.s.Lines)
		}
		it := c.it(c.s.Lines[0])
		if !it.Unpriced || it.USDMonth != 0 || it.Item != "AWS::SQS::Queue ×1" || !strings.Contains(it.Detail, "prod/data/JobsDeadLetterQueue") {
			t.Errorf("%s line: %+v", c.want, it)
		}
		if c.s.Delta() != 0 || c.s.Lines[0].Delta() != 0 || !c.s.Incomplete() {
			t.Errorf("%s: delta %v (line %v), incomplete %v: want 0 and incomplete", c.want, c.s.Delta(), c.s.Lines[0].Delta(), c.s.Incomplete())
		}
	}
	if head.Stages["prod"].UnpricedCount != base.Stages["prod"].UnpricedCount+1 {
		t.Errorf("unpriced count %d → %d", base.Stages["prod"].UnpricedCount, head.Stages["prod"].UnpricedCount)
	}
	mustContain(t, markdown(Compare(base, head)),
		fmt.Sprintf("+ %d unpriced | **+$0.00**, incomplete: unpriced items changed |", head.Stages["prod"].UnpricedCount),
		"| AWS::SQS::Queue ×1 | — | unpriced | unknown (unpriced, added) |",
		"**Incomplete:** 1 line without a price changed")
	mustContain(t, markdown(Compare(head, base)), "| AWS::SQS::Queue ×1 | unpriced | — | unknown (unpriced, removed) |")
}

func TestCostDiffPricedChangeBesideAnUnpricedOneIsMarkedIncomplete(t *testing.T) {
	// GIVEN prod, and prod with one NAT gateway and a new SQS queue
	headDir := fixtureDir(t, "prod-nat-gateways-1")
	addResource(t, headDir, "prod/data", "JobsDeadLetterQueue", deadLetterQueue)
	baseA, headA := loadFixture(t, fixtureDir(t, "")), loadFixture(t, headDir)
	// WHEN compared
	prod := stageDiff(t, Compare(priceAll(t, baseA), priceAll(t, headA)), "prod")
	// THEN the priced change is the NAT gateway's and its address's hours, and the total says it is incomplete
	gone := float64(len(ofType(baseA, "AWS::EC2::NatGateway")) - len(ofType(headA, "AWS::EC2::NatGateway")))
	want := -gone * UsageFor("prod").HoursPerMonth * (price(t, "nat_gateway_usd_per_hour") + price(t, "public_ipv4_usd_per_hour_per_address"))
	near(t, "prod priced change", prod.Delta(), want, 0.001)
	if !prod.Incomplete() || len(prod.Lines) != 3 || !prod.Lines[2].Unpriced() {
		t.Errorf("want 2 priced lines then the unpriced queue, incomplete: %+v", prod.Lines)
	}
}

func TestCostDiffOfTheSameBuildShowsNoChange(t *testing.T) {
	// GIVEN the same assembly twice (dev, prod and the account stacks)
	a, err := LoadAssembly("testdata/cdk.out")
	if err != nil {
		t.Fatal(err)
	}
	r := priceAll(t, a)
	// WHEN compared
	d := Compare(r, r)
	// THEN every stage is listed with no change, and no stage has a section
	if len(d.Stages) != 3 {
		t.Fatalf("want dev, prod, account: %+v", d.Stages)
	}
	for _, s := range d.Stages {
		if s.Changed() || s.Delta() != 0 {
			t.Errorf("%s changed: %+v", s.Stage, s)
		}
	}
	out := markdown(d)
	mustContain(t, out, CostDiffHeading, "| dev | ", "| account (h2o-ci) | $0.50 | $0.50 | none |")
	if strings.Contains(out, "\n### ") {
		t.Errorf("an unchanged stage has a section:\n%s", out)
	}
}

func TestCostDiffStageAddedOrRemoved(t *testing.T) {
	// GIVEN an estimate with dev, prod and the account stacks, and one without dev
	a, err := LoadAssembly("testdata/cdk.out")
	if err != nil {
		t.Fatal(err)
	}
	full := priceAll(t, a)
	delete(a.Stages, "dev")
	partial := priceAll(t, a)
	// WHEN compared both ways
	// THEN dev's every line is added (or removed), and its change is its whole total
	for _, c := range []struct {
		d    *Diff
		want Change
		sign float64
		note string
	}{{Compare(partial, full), Added, 1, "new stage"}, {Compare(full, partial), Removed, -1, "stage removed"}} {
		dev := stageDiff(t, c.d, "dev")
		if len(dev.Lines) != len(full.Stages["dev"].Items) {
			t.Errorf("%s: %d lines, want every item of dev (%d)", c.want, len(dev.Lines), len(full.Stages["dev"].Items))
		}
		for _, l := range dev.Lines {
			if l.Change != c.want {
				t.Errorf("%s is %s, want %s", l.title(), l.Change, c.want)
			}
		}
		near(t, "dev change", dev.Delta(), c.sign*full.Stages["dev"].TotalUSDMonth, 0.0001)
		mustContain(t, markdown(c.d), c.note)
	}
}

func TestCostDiffPairsALineWhoseNameChanged(t *testing.T) {
	db := "prod/data/Database"
	small := Item{Item: "RDS postgres db.t4g.small Multi-AZ " + db, Detail: "small", USDMonth: 51.32}
	medium := Item{Item: "RDS postgres db.t4g.medium Multi-AZ " + db, Detail: "medium", USDMonth: 98.04}
	unknown := Item{Item: "RDS instance postgres db.x9.huge " + db, Detail: UnpricedPrefix + ": no key", Unpriced: true}
	storage := Item{Item: "RDS storage " + db, Detail: "20 GB", USDMonth: 4.6}
	backup := Item{Item: "AWS Backup of " + db, Detail: "snapshots", USDMonth: 4.07}

	// GIVEN a new instance class: THEN the line pairs with itself, named old → new
	ls := diffItems([]Item{small, backup}, []Item{medium, backup})
	if len(ls) != 1 || ls[0].Change != Changed || ls[0].title() != small.Item+" → db.t4g.medium Multi-AZ "+db {
		t.Fatalf("class change: %+v", ls)
	}
	near(t, "class change", ls[0].Delta(), medium.USDMonth-small.USDMonth, 1e-9)

	// GIVEN a class the price table lacks, which splits the line into an unpriced instance and priced storage:
	// THEN nothing pairs (two candidates), the priced line is removed and both new lines added
	ls = diffItems([]Item{small, backup}, []Item{unknown, storage, backup})
	changes := map[Change]int{}
	for _, l := range ls {
		changes[l.Change]++
	}
	if len(ls) != 3 || changes[Removed] != 1 || changes[Added] != 2 || !ls[len(ls)-1].Unpriced() {
		t.Errorf("split line: %+v", ls)
	}

	// GIVEN only a quantity in the label changed: THEN it pairs by the label without it
	ls = diffItems([]Item{{Item: "CloudWatch Logs (5 sources)", USDMonth: 1}}, []Item{{Item: "CloudWatch Logs (6 sources)", USDMonth: 1.5}})
	if len(ls) != 1 || ls[0].Change != Changed {
		t.Errorf("sources count: %+v", ls)
	}
}

func TestAChangeUnderACentNeverReadsAsNoChange(t *testing.T) {
	// GIVEN line deltas around zero WHEN printed THEN only a zero delta prints +$0.00
	for x, want := range map[float64]string{0: "+$0.00", 0.004: "+<$0.01", -0.004: "-<$0.01", 0.005: "+$0.01",
		-0.006: "-$0.01", 12.345: "+$12.35", -3: "-$3.00"} {
		if got := signedUSD(x); got != want {
			t.Errorf("signedUSD(%v) = %q, want %q", x, got, want)
		}
	}
}
