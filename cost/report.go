package cost

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// UnpricedPrefix starts the detail of every item the estimator could not price.
const UnpricedPrefix = "UNPRICED"

// Item is one line of a stage's estimate.
type Item struct {
	Item     string  `json:"item"`
	Detail   string  `json:"detail"`
	USDMonth float64 `json:"usd_month"`
	Unpriced bool    `json:"unpriced,omitempty"`
}

// StageReport is the estimate of one stage (or of the account-level stacks).
type StageReport struct {
	TotalUSDMonth float64        `json:"total_usd_month"`
	Items         []Item         `json:"items"`
	UnpricedCount int            `json:"unpriced_count"`
	Stacks        []string       `json:"stacks"`
	FreeResources map[string]int `json:"free_resources,omitempty"`
	Usage         *Usage         `json:"usage,omitempty"` // the assumptions this stage was priced with
}

// Report is the whole estimate, written to cdk.out/cost-report.json.
type Report struct {
	AsOf      string                  `json:"as_of"`
	Region    string                  `json:"region"`
	Currency  string                  `json:"currency"`
	PriceFile string                  `json:"price_file"`
	Assembly  string                  `json:"assembly"`
	Stages    map[string]*StageReport `json:"stages"`
	// PricesUsed lists the price-table keys the estimate read, so a reviewer can check each against its source.
	PricesUsed []string `json:"prices_used"`
	// Warnings are problems with the estimate's own assumptions (free tiers claimed twice).
	Warnings []string `json:"warnings,omitempty"`

	order []string
}

// Estimate prices every stage of an assembly with the usage usageFor returns for it.
func Estimate(a *Assembly, p *Prices, usageFor func(stage string) Usage) *Report {
	r := &Report{AsOf: p.AsOf, Region: p.Region, Currency: p.Currency, PriceFile: p.Path, Assembly: a.Dir,
		Stages: map[string]*StageReport{}}
	for _, name := range a.StageNames() {
		r.Stages[name] = EstimateStage(name, a.Stages[name], usageFor(name), p)
		r.order = append(r.order, name)
	}
	r.PricesUsed = p.Used()
	if over := overclaimedFreeTier(a.StageNames(), usageFor); over != "" {
		r.Warnings = append(r.Warnings, "the stages of this assembly claim more free tier than one account has ("+
			over+"): give every stage its own FreeShare in cost/usage.go")
	}
	return r
}

// WriteJSON writes the report to path.
func (r *Report) WriteJSON(path string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// WriteText prints one table per stage: item, $/month, what drives it; the unpriced items separately.
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "Monthly cost estimate, %s prices as of %s (%s), usage from cost/usage.go\n",
		r.Region, r.AsOf, r.PriceFile)
	for _, warning := range r.Warnings {
		fmt.Fprintf(w, "WARNING: %s\n", warning)
	}
	order := r.order
	if len(order) == 0 {
		order = sortedKeys(r.Stages)
	}
	for _, name := range order {
		s := r.Stages[name]
		fmt.Fprintf(w, "\n== %s == stacks: %s\n", name, strings.Join(s.Stacks, ", "))
		width := len("TOTAL " + name)
		for _, it := range s.Items {
			if !it.Unpriced && len(it.Item) > width {
				width = len(it.Item)
			}
		}
		fmt.Fprintf(w, "%-*s %9s  %s\n", width, "ITEM", "$/MONTH", "WHAT DRIVES IT")
		var unpriced []Item
		for _, it := range s.Items {
			if it.Unpriced {
				unpriced = append(unpriced, it)
				continue
			}
			fmt.Fprintf(w, "%-*s %9.2f  %s\n", width, it.Item, it.USDMonth, it.Detail)
		}
		fmt.Fprintf(w, "%-*s %9.2f\n", width, "TOTAL "+name, s.TotalUSDMonth)
		if len(unpriced) > 0 {
			fmt.Fprintf(w, "UNPRICED in %s (%d, not in the total):\n", name, len(unpriced))
			for _, it := range unpriced {
				fmt.Fprintf(w, "  - %s: %s\n", it.Item, it.Detail)
			}
		}
		if len(s.FreeResources) > 0 {
			var parts []string
			n := 0
			for _, t := range sortedKeys(s.FreeResources) {
				parts = append(parts, fmt.Sprintf("%s×%d", strings.TrimPrefix(t, "AWS::"), s.FreeResources[t]))
				n += s.FreeResources[t]
			}
			fmt.Fprintf(w, "No charge at this volume (%d resources): %s\n", n, strings.Join(parts, ", "))
		}
	}
}
