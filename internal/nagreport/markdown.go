package nagreport

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// maxListed bounds each list of a section (a PR comment holds 65536 characters, shared with other sections).
const maxListed = 40

// WriteSummary writes, as markdown, one assembly's counts per pack and stage and its suppressed and failing rules
// (`make nist`).
func WriteSummary(w io.Writer, a *Assembly) {
	writeStale(w, a)
	fmt.Fprint(w, "A check is one rule on one resource: a rule suppressed on three resources is three suppressed checks.\n\n")
	for _, p := range Packs {
		rows := a.Of(p.ID, "*")
		if len(rows) == 0 {
			fmt.Fprintf(w, "### %s\n\nNo %s reports in %s.\n\n", p.Title, p.ID, a.Dir)
			continue
		}
		stages := Stages(rows)
		fmt.Fprintf(w, "### %s\n\n| Stage | Rules checked | Compliant checks | Suppressed checks | Failing checks (synth fails) |\n|---|---:|---:|---:|---:|\n", p.Title)
		for _, s := range stages {
			c := Count(a.Of(p.ID, s))
			fmt.Fprintf(w, "| %s | %d | %d | %d | %d |\n", StageName(s), c.Rules, c.Compliant, c.Suppressed, c.Failing())
		}
		fmt.Fprintln(w)
		writeRuleTable(w, "Resources suppressed or failing, per rule", stages, func(stage string) map[string]string {
			out := map[string]string{}
			for rule, n := range ByRule(a.Of(p.ID, stage), func(r Row) bool { return r.Compliance == Suppressed }) {
				out[rule] = fmt.Sprint(n)
			}
			for rule, n := range ByRule(a.Of(p.ID, stage), Row.Failing) {
				out[rule] = strings.TrimPrefix(out[rule]+" + ", " + ") + fmt.Sprintf("**%d failing**", n)
			}
			return out
		})
	}
}

// WriteDiff writes, as markdown, what the head build changes in compliance against the base build: per pack,
// each stage's counts before and after, the suppressed rules whose resources changed, the suppressions added and
// removed (with their reasons) and every finding synth fails on in the head.
func WriteDiff(w io.Writer, base, head *Assembly, baseLabel, headLabel string) {
	fmt.Fprintf(w, "## Compliance (cdk-nag)\n\n%s → %s. Synth fails on any unsuppressed finding; a suppression names its reason.\n\n", baseLabel, headLabel)
	writeStale(w, base)
	writeStale(w, head)
	for _, p := range Packs {
		writePackDiff(w, p.ID, p.Title, base, head)
	}
}

func writePackDiff(w io.Writer, pack, title string, base, head *Assembly) {
	b, h := base.Of(pack, "*"), head.Of(pack, "*")
	fmt.Fprintf(w, "### %s\n\n", title)
	switch {
	case len(b) == 0 && len(h) == 0:
		fmt.Fprintf(w, "Neither build ran the %s pack.\n\n", pack)
		return
	case len(b) == 0:
		fmt.Fprintf(w, "The base did not run the %s pack: everything below is new.\n\n", pack)
	case len(h) == 0:
		fmt.Fprintf(w, "**This change stops running the %s pack.**\n\n", pack)
	}
	stages := Stages(b, h)
	fmt.Fprint(w, "| Stage | Rules checked | Suppressed checks | Failing checks (synth fails) |\n|---|---|---|---|\n")
	for _, s := range stages {
		cb, ch := Count(base.Of(pack, s)), Count(head.Of(pack, s))
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", StageName(s), change(cb.Rules, ch.Rules), change(cb.Suppressed, ch.Suppressed),
			change(cb.Failing(), ch.Failing()))
	}
	fmt.Fprintln(w)
	writeRuleTable(w, "Suppressed resources per rule, where they changed", stages, func(stage string) map[string]string {
		before := ByRule(base.Of(pack, stage), func(r Row) bool { return r.Compliance == Suppressed })
		after := ByRule(head.Of(pack, stage), func(r Row) bool { return r.Compliance == Suppressed })
		out := map[string]string{}
		for _, rule := range union(before, after) {
			if before[rule] != after[rule] {
				out[rule] = change(before[rule], after[rule])
			}
		}
		return out
	})
	added, removed := suppressionChanges(b, h)
	writeSuppressions(w, "Suppressions added", added)
	writeSuppressions(w, "Suppressions removed", removed)
	var failing []Row
	for _, r := range h {
		if r.Failing() {
			failing = append(failing, r)
		}
	}
	if len(failing) > 0 {
		fmt.Fprintf(w, "**%d finding(s) fail synth in this build:**\n\n| Stage | Rule | Resource | Outcome |\n|---|---|---|---|\n", len(failing))
		for i, r := range failing {
			if i == maxListed {
				fmt.Fprintf(w, "| … | %d more | | |\n", len(failing)-maxListed)
				break
			}
			fmt.Fprintf(w, "| %s | %s | `%s` | %s |\n", StageName(r.Stage), r.Rule, r.Resource, r.Compliance)
		}
		fmt.Fprintln(w)
	}
}

// suppression is one suppressed rule, with its reason, on the resources it covers in each stage.
type suppression struct {
	rule, reason string
	resources    []string // "<stage>: <path>"
}

// suppressionChanges compares the suppressed lines of two builds by stage, rule and resource; a suppression whose
// reason changed counts as removed (old reason) and added (new one).
func suppressionChanges(base, head []Row) (added, removed []suppression) {
	key := func(r Row) string { return r.Stage + "\x00" + r.Rule + "\x00" + r.Resource + "\x00" + r.Reason }
	in := func(rows []Row) map[string]Row {
		out := map[string]Row{}
		for _, r := range rows {
			if r.Compliance == Suppressed {
				out[key(r)] = r
			}
		}
		return out
	}
	b, h := in(base), in(head)
	diff := func(from, to map[string]Row) []suppression {
		groups := map[string]*suppression{}
		for k, r := range from {
			if _, ok := to[k]; ok {
				continue
			}
			finding, reason := splitFinding(r.Reason)
			g := groups[r.Rule+"\x00"+reason]
			if g == nil {
				g = &suppression{rule: r.Rule, reason: reason}
				groups[r.Rule+"\x00"+reason] = g
			}
			where := StageName(r.Stage) + ": `" + r.Resource + "`"
			if finding != "" {
				where += " (`" + finding + "`)"
			}
			g.resources = append(g.resources, where)
		}
		var out []suppression
		for _, g := range groups {
			sort.Strings(g.resources)
			out = append(out, *g)
		}
		sort.Slice(out, func(i, j int) bool {
			if out[i].rule != out[j].rule {
				return out[i].rule < out[j].rule
			}
			return out[i].reason < out[j].reason
		})
		return out
	}
	return diff(h, b), diff(b, h)
}

// splitFinding separates the finding cdk-nag puts before the reason of a granular rule's suppression
// ("[Resource::arn:...] reason"; "[] reason" for a rule it could not evaluate), so one reason groups its findings.
func splitFinding(reason string) (finding, rest string) {
	if strings.HasPrefix(reason, "[") {
		if end := strings.Index(reason, "] "); end > 0 {
			return reason[1:end], reason[end+2:]
		}
	}
	return "", reason
}

func writeSuppressions(w io.Writer, title string, list []suppression) {
	if len(list) == 0 {
		return
	}
	n := 0
	for _, s := range list {
		n += len(s.resources)
	}
	fmt.Fprintf(w, "<details><summary>%s: %d rule(s), %d resource(s)</summary>\n\n| Rule | Resources | Reason |\n|---|---|---|\n", title, len(list), n)
	for i, s := range list {
		if i == maxListed {
			fmt.Fprintf(w, "| … | %d more rules | |\n", len(list)-maxListed)
			break
		}
		resources := s.resources
		if len(resources) > 6 {
			resources = append(resources[:6:6], fmt.Sprintf("and %d more", len(s.resources)-6))
		}
		fmt.Fprintf(w, "| %s | %s | %s |\n", s.rule, strings.Join(resources, "<br>"), cell(s.reason))
	}
	fmt.Fprint(w, "\n</details>\n\n")
}

// writeRuleTable writes a rule × stage table of the cells cellsOf returns per stage; nothing when it is empty.
func writeRuleTable(w io.Writer, title string, stages []string, cellsOf func(stage string) map[string]string) {
	cells := map[string]map[string]string{}
	rules := map[string]bool{}
	for _, s := range stages {
		cells[s] = cellsOf(s)
		for rule := range cells[s] {
			rules[rule] = true
		}
	}
	if len(rules) == 0 {
		return
	}
	fmt.Fprintf(w, "%s:\n\n| Rule |", title)
	for _, s := range stages {
		fmt.Fprintf(w, " %s |", StageName(s))
	}
	fmt.Fprint(w, "\n|---|"+strings.Repeat("---|", len(stages))+"\n")
	for _, rule := range sortedSet(rules) {
		fmt.Fprintf(w, "| %s |", rule)
		for _, s := range stages {
			v := cells[s][rule]
			if v == "" {
				v = "·"
			}
			fmt.Fprintf(w, " %s |", v)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
}

// change is "n" when equal, else "before → after (±d)".
func change(before, after int) string {
	if before == after {
		return fmt.Sprint(after)
	}
	return fmt.Sprintf("%d → %d (%+d)", before, after, after-before)
}

// cell makes text safe inside a markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ").Replace(s)
}

func union(a, b map[string]int) []string {
	set := map[string]bool{}
	for k := range a {
		set[k] = true
	}
	for k := range b {
		set[k] = true
	}
	return sortedSet(set)
}

func sortedSet(set map[string]bool) []string {
	var out []string
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// writeStale names the reports an assembly holds for stacks its manifests no longer list (Load skips them).
func writeStale(w io.Writer, a *Assembly) {
	if len(a.Stale) == 0 {
		return
	}
	fmt.Fprintf(w, "Not read: %d report(s) in %s of stacks its manifest no longer names (left by an earlier synth): %s\n\n",
		len(a.Stale), a.Dir, strings.Join(a.Stale, ", "))
}
