package cost

import (
	"math"
	"regexp"
	"sort"
	"strings"
)

// Change says how a line item of the estimate differs between two builds.
type Change string

const (
	Added   Change = "added"
	Removed Change = "removed"
	Changed Change = "changed"
)

// LineDiff is one line item that differs between the base and the head build.
type LineDiff struct {
	Change Change
	Before *Item // nil when Added
	After  *Item // nil when Removed
}

// Delta is what the line adds to the stage's priced total: an unpriced side is $0 there (the estimator never
// gives an unpriced item an amount) and makes the stage's change incomplete, see StageDiff.Incomplete.
func (l LineDiff) Delta() float64 { return round4(usdOf(l.After) - usdOf(l.Before)) }

// Unpriced reports whether either side of the line has no price.
func (l LineDiff) Unpriced() bool {
	return (l.Before != nil && l.Before.Unpriced) || (l.After != nil && l.After.Unpriced)
}

func usdOf(it *Item) float64 {
	if it == nil {
		return 0
	}
	return it.USDMonth
}

// StageDiff compares one stage (or the account-level stacks) between two builds.
type StageDiff struct {
	Stage  string
	Before *StageReport // nil: the stage is new in the head build
	After  *StageReport // nil: the head build has no such stage
	Lines  []LineDiff
	// FreeChanges are the resource types priced at no charge whose count changed: head count − base count.
	FreeChanges map[string]int
}

// Delta is the change of the stage's priced monthly total.
func (s StageDiff) Delta() float64 { return round4(totalOf(s.After) - totalOf(s.Before)) }

// Changed reports whether anything of the stage's estimate differs.
func (s StageDiff) Changed() bool { return len(s.Lines) > 0 || len(s.FreeChanges) > 0 }

// Incomplete reports whether an unpriced item was added, removed or changed (or a line went from priced to
// unpriced or back): the true change of the stage's cost is then not Delta.
func (s StageDiff) Incomplete() bool {
	for _, l := range s.Lines {
		if l.Unpriced() {
			return true
		}
	}
	return false
}

func totalOf(r *StageReport) float64 {
	if r == nil {
		return 0
	}
	return r.TotalUSDMonth
}

// Diff is the cost difference between two builds, priced with the same price table and usage model.
type Diff struct {
	Base, Head           *Report
	BaseLabel, HeadLabel string // what was built: a git revision, "work tree"
	Stages               []StageDiff
}

// Compare diffs two estimates stage by stage: the head's stages in its order, then stages only the base has.
func Compare(base, head *Report) *Diff {
	d := &Diff{Base: base, Head: head}
	seen := map[string]bool{}
	names := append(append([]string{}, head.stageOrder()...), base.stageOrder()...)
	for _, name := range names {
		if seen[name] {
			continue
		}
		seen[name] = true
		s := StageDiff{Stage: name, Before: base.Stages[name], After: head.Stages[name]}
		s.Lines = diffItems(itemsOf(s.Before), itemsOf(s.After))
		s.FreeChanges = diffCounts(freeOf(s.Before), freeOf(s.After))
		d.Stages = append(d.Stages, s)
	}
	return d
}

func (r *Report) stageOrder() []string {
	if len(r.order) > 0 {
		return r.order
	}
	return sortedKeys(r.Stages)
}

func itemsOf(r *StageReport) []Item {
	if r == nil {
		return nil
	}
	return r.Items
}

func freeOf(r *StageReport) map[string]int {
	if r == nil {
		return nil
	}
	return r.FreeResources
}

func diffCounts(before, after map[string]int) map[string]int {
	out := map[string]int{}
	for t, n := range after {
		if n != before[t] {
			out[t] = n - before[t]
		}
	}
	for t, n := range before {
		if _, ok := after[t]; !ok {
			out[t] = -n
		}
	}
	return out
}

// A line's label carries its quantity ("NAT gateways ×2", "CloudWatch Logs (7 sources)"); without it, the label
// names the same line in both builds.
var quantityInLabel = regexp.MustCompile(` ×\d+| \(\d+ sources?\)`)

func lineKey(label string) string { return quantityInLabel.ReplaceAllString(label, "") }

// diffItems pairs the lines of two builds: first by label without its quantity, then a line whose label
// changed in more than its quantity (an instance class, a node type) with the one line of the other build that
// starts with the same word and names the same resource path. The rest are added or removed.
func diffItems(before, after []Item) []LineDiff {
	var out []LineDiff
	byKey := map[string][]int{}
	for i, it := range before {
		byKey[lineKey(it.Item)] = append(byKey[lineKey(it.Item)], i)
	}
	usedBefore := make([]bool, len(before))
	var added []int
	for j, it := range after {
		k := lineKey(it.Item)
		if idx := byKey[k]; len(idx) > 0 {
			i := idx[0]
			byKey[k] = idx[1:]
			usedBefore[i] = true
			if before[i] != it {
				out = append(out, LineDiff{Change: Changed, Before: &before[i], After: &after[j]})
			}
			continue
		}
		added = append(added, j)
	}
	var removed []int
	for i := range before {
		if !usedBefore[i] {
			removed = append(removed, i)
		}
	}
	pairs := pairBySubject(before, removed, after, added)
	for _, i := range removed {
		if j, ok := pairs[i]; ok {
			out = append(out, LineDiff{Change: Changed, Before: &before[i], After: &after[j]})
			continue
		}
		out = append(out, LineDiff{Change: Removed, Before: &before[i]})
	}
	paired := map[int]bool{}
	for _, j := range pairs {
		paired[j] = true
	}
	for _, j := range added {
		if !paired[j] {
			out = append(out, LineDiff{Change: Added, After: &after[j]})
		}
	}
	sortLines(out)
	return out
}

// subject is a label's family (its first word) and the resource path it ends with, or "" when it names none.
func subject(label string) string {
	fields := strings.Fields(label)
	if len(fields) < 2 || !strings.Contains(fields[len(fields)-1], "/") {
		return ""
	}
	return fields[0] + " " + fields[len(fields)-1]
}

// pairBySubject maps removed lines to added lines of the same subject, where the subject is unique on both sides.
func pairBySubject(before []Item, removed []int, after []Item, added []int) map[int]int {
	index := func(items []Item, idx []int) map[string][]int {
		m := map[string][]int{}
		for _, i := range idx {
			if s := subject(items[i].Item); s != "" {
				m[s] = append(m[s], i)
			}
		}
		return m
	}
	from, to := index(before, removed), index(after, added)
	pairs := map[int]int{}
	for s, is := range from {
		if js := to[s]; len(is) == 1 && len(js) == 1 {
			pairs[is[0]] = js[0]
		}
	}
	return pairs
}

// sortLines puts priced lines first, largest change first, then the unpriced ones; ties by label.
func sortLines(ls []LineDiff) {
	sort.SliceStable(ls, func(a, b int) bool {
		if ls[a].Unpriced() != ls[b].Unpriced() {
			return !ls[a].Unpriced()
		}
		da, db := math.Abs(ls[a].Delta()), math.Abs(ls[b].Delta())
		if da != db {
			return da > db
		}
		return ls[a].label() < ls[b].label()
	})
}

// label is the line's name in the head build, or in the base build when it was removed.
func (l LineDiff) label() string {
	if l.After != nil {
		return l.After.Item
	}
	return l.Before.Item
}
