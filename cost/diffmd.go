package cost

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// CostDiffHeading starts the markdown of WriteMarkdown: the cost section of the pull-request comment.
const CostDiffHeading = "## Monthly cost"

// WriteMarkdown prints the diff as markdown that reads in a terminal too: one summary row per stage, then, per
// stage that changed, every line item that changed (before, after, change) and what drives it (resources,
// quantities, prices). A total that leaves out unpriced items says so; a change involving an unpriced item
// marks the stage's change incomplete.
func (d *Diff) WriteMarkdown(w io.Writer) {
	fmt.Fprintf(w, "%s\n\n", CostDiffHeading)
	fmt.Fprintf(w, "%s → %s, each priced offline from its synthesized templates with the same price table (%s, as of %s, `%s`) "+
		"and usage model (`cost/usage.go`), so a change of those alone shows no difference here: `make cost` prices it.\n\n",
		orDefault(d.BaseLabel, "base"), orDefault(d.HeadLabel, "head"), d.Head.Region, d.Head.AsOf, d.Head.PriceFile)
	for _, warning := range d.Head.Warnings {
		fmt.Fprintf(w, "**Warning:** %s\n\n", warning)
	}
	fmt.Fprintln(w, "| Stage | Before | After | Change a month |")
	fmt.Fprintln(w, "|---|--:|--:|--:|")
	for _, s := range d.Stages {
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", cell(s.name()), totalCell(s.Before), totalCell(s.After), changeCell(s))
	}
	for _, s := range d.Stages {
		if s.Changed() {
			s.writeMarkdown(w)
		}
	}
	fmt.Fprintln(w, "\nA total marked \"+ N unpriced\" leaves out the items the estimator has no price for (never counted as $0);"+
		" `make cost` lists them.")
}

func (s StageDiff) name() string {
	if s.Stage != AccountStage {
		return s.Stage
	}
	r := s.After
	if r == nil {
		r = s.Before
	}
	return AccountStage + " (" + strings.Join(r.Stacks, ", ") + ")"
}

func (s StageDiff) writeMarkdown(w io.Writer) {
	fmt.Fprintf(w, "\n### %s: %s → %s (%s a month)\n\n", s.name(), totalCell(s.Before), totalCell(s.After), signedUSD(s.Delta()))
	if s.Incomplete() {
		fmt.Fprintf(w, "**Incomplete:** %s without a price changed (below): %s's cost changes by %s plus their unknown cost.\n\n",
			plural(s.unpricedLines(), "line"), s.name(), signedUSD(s.Delta()))
	}
	if len(s.Lines) > 0 {
		fmt.Fprintln(w, "| Line item | Before | After | Change |")
		fmt.Fprintln(w, "|---|--:|--:|--:|")
		for _, l := range s.Lines {
			fmt.Fprintf(w, "| %s | %s | %s | %s |\n", cell(l.title()), itemCell(l.Before), itemCell(l.After), l.changeCell())
		}
		fmt.Fprintln(w, "\nWhat drives each line:")
		for _, l := range s.Lines {
			fmt.Fprintf(w, "- **%s**", l.title())
			if l.Change != Changed {
				fmt.Fprintf(w, " (%s)", l.Change)
			}
			fmt.Fprintln(w)
			switch {
			case l.Before != nil && l.After != nil:
				fmt.Fprintf(w, "  - before: %s\n  - after: %s\n", l.Before.Detail, l.After.Detail)
			case l.Before != nil:
				fmt.Fprintf(w, "  - was: %s\n", l.Before.Detail)
			default:
				fmt.Fprintf(w, "  - %s\n", l.After.Detail)
			}
		}
	}
	if len(s.FreeChanges) > 0 {
		var parts []string
		for _, t := range sortedKeys(s.FreeChanges) {
			parts = append(parts, fmt.Sprintf("%+d %s", s.FreeChanges[t], strings.TrimPrefix(t, "AWS::")))
		}
		fmt.Fprintf(w, "\nNo charge at this volume (not in the totals): %s\n", strings.Join(parts, ", "))
	}
}

func (s StageDiff) unpricedLines() int {
	n := 0
	for _, l := range s.Lines {
		if l.Unpriced() {
			n++
		}
	}
	return n
}

// title names the line: its label, or "old → new" (the words they share said once) when the label changed.
func (l LineDiff) title() string {
	switch {
	case l.Before == nil:
		return l.After.Item
	case l.After == nil || l.Before.Item == l.After.Item:
		return l.Before.Item
	}
	before, after := strings.Fields(l.Before.Item), strings.Fields(l.After.Item)
	n := 0
	for n < len(before)-1 && n < len(after)-1 && before[n] == after[n] {
		n++
	}
	return strings.Join(before, " ") + " → " + strings.Join(after[n:], " ")
}

func (l LineDiff) changeCell() string {
	switch {
	case !l.Unpriced():
		return signedUSD(l.Delta())
	case l.Change == Added:
		return "unknown (unpriced, added)"
	case l.Change == Removed:
		return "unknown (unpriced, removed)"
	}
	return "unknown (unpriced)"
}

func itemCell(it *Item) string {
	switch {
	case it == nil:
		return "—"
	case it.Unpriced:
		return "unpriced"
	}
	return usd(it.USDMonth)
}

func totalCell(r *StageReport) string {
	if r == nil {
		return "—"
	}
	if r.UnpricedCount > 0 {
		return fmt.Sprintf("%s + %d unpriced", usd(r.TotalUSDMonth), r.UnpricedCount)
	}
	return usd(r.TotalUSDMonth)
}

func changeCell(s StageDiff) string {
	if !s.Changed() {
		return "none"
	}
	out := "**" + signedUSD(s.Delta()) + "**"
	if s.Before != nil && s.Before.TotalUSDMonth > 0 && s.Delta() != 0 {
		out += fmt.Sprintf(" (%+.1f %%)", 100*s.Delta()/s.Before.TotalUSDMonth)
	}
	switch {
	case s.Before == nil:
		out += ", new stage"
	case s.After == nil:
		out += ", stage removed"
	}
	if s.Incomplete() {
		out += ", incomplete: unpriced items changed"
	}
	return out
}

func usd(x float64) string { return fmt.Sprintf("$%.2f", x) }

// signedUSD prints +$1.23 / -$1.23; a change under half a cent is +<$0.01 / -<$0.01 (never a +$0.00 that reads
// as "no change"), and only no change at all is +$0.00.
func signedUSD(x float64) string {
	switch {
	case x != 0 && math.Round(x*100) == 0 && x > 0:
		return "+<$0.01"
	case x != 0 && math.Round(x*100) == 0:
		return "-<$0.01"
	case math.Round(x*100) < 0:
		return "-" + usd(-x)
	}
	return "+" + usd(math.Abs(x))
}

// cell makes text safe inside a markdown table cell.
func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
