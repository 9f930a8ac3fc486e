package cost

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testdataReport(t *testing.T) *Report {
	t.Helper()
	a, err := LoadAssembly("testdata/cdk.out")
	if err != nil {
		t.Fatal(err)
	}
	return Estimate(a, testPrices(t), func(stage string) Usage {
		u := usage730()
		u.Stage = stage
		if stage == AccountStage {
			u.EcrGB = 5
		}
		return u
	})
}

func TestLoadAssemblyStagesAndAccountStack(t *testing.T) {
	a, err := LoadAssembly("testdata/cdk.out")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(a.StageNames(), ",")
	if got != "dev,prod,account" {
		t.Fatalf("stages = %s, want dev,prod,account", got)
	}
	if n := a.Stages["dev"][0].Name; n != "h2o-dev-network" {
		t.Errorf("dev stack name = %s", n)
	}
}

// TestReportJSONSchema checks cdk.out/cost-report.json has exactly the agreed shape:
// {"as_of": "...", "stages": {"<stage>": {"total_usd_month": N, "items": [{"item", "detail", "usd_month"}]}}}.
func TestReportJSONSchema(t *testing.T) {
	r := testdataReport(t)
	path := filepath.Join(t.TempDir(), "cost-report.json")
	if err := r.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if asOf, ok := doc["as_of"].(string); !ok || asOf != "2026-11-26" {
		t.Errorf("as_of = %v, want the price table's date 2026-11-26", doc["as_of"])
	}
	stages, ok := doc["stages"].(map[string]any)
	if !ok {
		t.Fatalf("stages is %T", doc["stages"])
	}
	for _, name := range []string{"dev", "prod", "account"} {
		s, ok := stages[name].(map[string]any)
		if !ok {
			t.Fatalf("stage %s missing or not an object: %v", name, stages[name])
		}
		total, ok := s["total_usd_month"].(float64)
		if !ok {
			t.Fatalf("%s.total_usd_month is %T", name, s["total_usd_month"])
		}
		items, ok := s["items"].([]any)
		if !ok || len(items) == 0 {
			t.Fatalf("%s.items is %T (%d)", name, s["items"], len(items))
		}
		sum := 0.0
		for i, x := range items {
			it, ok := x.(map[string]any)
			if !ok {
				t.Fatalf("%s.items[%d] is %T", name, i, x)
			}
			label, ok1 := it["item"].(string)
			detail, ok2 := it["detail"].(string)
			usd, ok3 := it["usd_month"].(float64)
			if !ok1 || !ok2 || !ok3 || label == "" || detail == "" {
				t.Fatalf("%s.items[%d] lacks item/detail/usd_month: %v", name, i, it)
			}
			if strings.HasPrefix(detail, UnpricedPrefix) && usd != 0 {
				t.Errorf("unpriced item %s has usd_month %v", label, usd)
			}
			sum += usd
		}
		if math.Abs(sum-total) > 0.0001 {
			t.Errorf("%s total %v != sum of items %v", name, total, sum)
		}
	}
	prod := stages["prod"].(map[string]any)
	approx(t, "prod total", prod["total_usd_month"].(float64), 0.064*730+20*0.23+2*0.0256*730+0.4) // 89.096
	approx(t, "account total", stages["account"].(map[string]any)["total_usd_month"].(float64), 0.5)
}

func TestUnpricedInJSONAndListedSeparatelyInText(t *testing.T) {
	r := testdataReport(t)
	dev := r.Stages["dev"]
	it := item(t, dev, "AWS::Foo::Bar")
	if !it.Unpriced || it.USDMonth != 0 || !strings.HasPrefix(it.Detail, "UNPRICED") || !strings.Contains(it.Detail, "dev/network/Mystery") {
		t.Errorf("unknown type: %+v", it)
	}
	var buf bytes.Buffer
	r.WriteText(&buf)
	out := buf.String()
	for _, want := range []string{"== dev ==", "== prod ==", "== account ==", "TOTAL dev", "UNPRICED in dev (1, not in the total):",
		"  - AWS::Foo::Bar ×1: UNPRICED", "NAT gateways ×1", "as of 2026-11-26"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	// The unpriced item is not a row of the priced table.
	table := out[strings.Index(out, "== dev =="):strings.Index(out, "UNPRICED in dev")]
	if strings.Contains(table, "AWS::Foo::Bar") {
		t.Errorf("unpriced item printed among priced rows:\n%s", table)
	}
}

func TestLoadAssemblyErrors(t *testing.T) {
	if _, err := LoadAssembly(t.TempDir()); err == nil {
		t.Error("an empty directory should be an error")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x.template.json"), []byte(`{"Resources": {"B": {"Type": "AWS::S3::Bucket"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := LoadAssembly(dir)
	if err != nil || len(a.Stages[AccountStage]) != 1 {
		t.Errorf("a bare template directory should load as the account entry: %v %v", a, err)
	}
}

func TestPriceTableKeepsDateAndSources(t *testing.T) {
	data, err := os.ReadFile("../" + DefaultPriceFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		AsOf         string                     `json:"as_of"`
		Sources      map[string]json.RawMessage `json:"sources"`
		PriceSources map[string][]string        `json:"price_sources"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.AsOf == "" || len(doc.Sources) == 0 {
		t.Fatal("the price table must keep as_of and sources")
	}
	p := testPrices(t)
	for key := range p.values {
		if key == "hours_per_month" {
			continue
		}
		refs := doc.PriceSources[key]
		if len(refs) == 0 {
			t.Errorf("price %s has no source", key)
		}
		for _, s := range refs {
			if _, ok := doc.Sources[s]; !ok {
				t.Errorf("price %s cites unknown source %s", key, s)
			}
		}
	}
}
