// Package nagreport reads the compliance reports cdk-nag writes into a synthesized cloud assembly and compares two
// builds: which rules were checked, what is suppressed (and why), what would fail synth. It imports no CDK code.
package nagreport

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// cdk-nag's NagReportLogger writes one CSV per pack and stack into the App's output directory, named
// <pack>-<stage>-<stack name>-NagReport.csv ("" as stage for a stack outside a Stage), with one line per rule and
// resource it evaluated: "Rule ID,Resource ID,Compliance,Exception Reason,Rule Level,Rule Info" (cdk-nag 2.38.2,
// lib/nag-logger.js). A suppressed line keeps its reason; a rule cdk-nag could not evaluate is UNKNOWN.
const (
	Compliant    = "Compliant"
	NonCompliant = "Non-Compliant"
	Suppressed   = "Suppressed"
	Unknown      = "UNKNOWN"
)

// Packs are the rule packs the app runs, in the order reports show them, with their titles.
var Packs = []struct{ ID, Title string }{
	{"NIST.800.53.R5", "NIST 800-53 rev 5"},
	{"AwsSolutions", "AWS Solutions"},
}

// Row is one line of a report: one rule on one resource.
type Row struct {
	Pack, Stage, Stack string
	Rule               string // the rule id without its pack prefix
	Resource           string // the construct path, e.g. prod/data/CacheAuthToken/Resource
	Compliance, Reason string
	Level, Description string
}

// Failing is whether synth fails on the row: an unsuppressed finding, or a rule cdk-nag could not evaluate
// (reported as a warning, which the tests refuse too).
func (r Row) Failing() bool { return r.Compliance == NonCompliant || r.Compliance == Unknown }

// Assembly is every report row of one synthesized cloud assembly.
type Assembly struct {
	Dir  string
	Rows []Row
	// Stale are the reports of stacks the assembly's manifests no longer name: a synth into an existing cdk.out
	// leaves the reports of a renamed or removed stack behind. They are not read.
	Stale []string
}

// Load reads every cdk-nag report of the cloud assembly in dir. A directory without any is an error: cdk-nag
// writes a report for every stack it checks, so the app did not synthesize (or ran no pack).
func Load(dir string) (*Assembly, error) {
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		return nil, fmt.Errorf("%s is not a directory (a synthesized cloud assembly)", dir)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*-NagReport.csv"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no cdk-nag reports (*-NagReport.csv) in %s: did it synthesize?", dir)
	}
	current, err := stacksOf(dir)
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	a := &Assembly{Dir: dir}
	for _, f := range files {
		pack, stage, stack, ok := parseName(filepath.Base(f))
		if !ok {
			return nil, fmt.Errorf("%s: not a <pack>-<stage>-<stack>-NagReport.csv name", f)
		}
		if !current[stage+"/"+stack] {
			a.Stale = append(a.Stale, filepath.Base(f))
			continue
		}
		rows, err := loadFile(f, pack, stage, stack)
		if err != nil {
			return nil, err
		}
		a.Rows = append(a.Rows, rows...)
	}
	return a, nil
}

// manifest is the part of a cloud assembly's manifest.json that says which stacks and stage assemblies it holds
// (aws-cdk cloud-assembly-schema: an artifact of type aws:cloudformation:stack has its stack name in
// properties.stackName, or its artifact id when absent; a cdk:cloud-assembly is a Stage's, in directoryName).
type manifest struct {
	Artifacts map[string]struct {
		Type       string `json:"type"`
		Properties struct {
			StackName     string `json:"stackName"`
			DirectoryName string `json:"directoryName"`
			DisplayName   string `json:"displayName"`
		} `json:"properties"`
	} `json:"artifacts"`
}

// stacksOf lists the stacks the assembly in dir names, as "<stage>/<stack name>" ("" as stage for the app's own).
func stacksOf(dir string) (map[string]bool, error) {
	out := map[string]bool{}
	var read func(sub, stage string) error
	read = func(sub, stage string) error {
		path := filepath.Join(dir, sub, "manifest.json")
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("%s: a synthesized cloud assembly has a manifest.json: %w", dir, err)
		}
		var m manifest
		if err := json.Unmarshal(data, &m); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for id, art := range m.Artifacts {
			switch art.Type {
			case "aws:cloudformation:stack":
				name := art.Properties.StackName
				if name == "" {
					name = id
				}
				out[stage+"/"+name] = true
			case "cdk:cloud-assembly":
				if err := read(art.Properties.DirectoryName, art.Properties.DisplayName); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return out, read("", "")
}

func loadFile(path, pack, stage, stack string) ([]Row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(records) == 0 || strings.Join(records[0], ",") != "Rule ID,Resource ID,Compliance,Exception Reason,Rule Level,Rule Info" {
		return nil, fmt.Errorf("%s: not a cdk-nag CSV report (header %v)", path, records)
	}
	var rows []Row
	for i, rec := range records[1:] {
		if len(rec) != 6 {
			return nil, fmt.Errorf("%s line %d: %d columns, want 6", path, i+2, len(rec))
		}
		rows = append(rows, Row{Pack: pack, Stage: stage, Stack: stack, Rule: strings.TrimPrefix(rec[0], pack+"-"),
			Resource: rec[1], Compliance: rec[2], Reason: rec[3], Level: rec[4], Description: rec[5]})
	}
	return rows, nil
}

// parseName splits <pack>-<stage>-<stack>-NagReport.csv; a stack outside a Stage has an empty stage
// (AwsSolutions--h2o-ci-NagReport.csv). Pack ids and stage names hold no "-".
func parseName(name string) (pack, stage, stack string, ok bool) {
	rest, found := strings.CutSuffix(name, "-NagReport.csv")
	if !found {
		return "", "", "", false
	}
	pack, rest, found = strings.Cut(rest, "-")
	if !found || pack == "" {
		return "", "", "", false
	}
	stage, stack, found = strings.Cut(rest, "-")
	return pack, stage, stack, found && stack != ""
}

// Stages lists the stages of the rows in a fixed order ("" for account-level stacks last).
func Stages(rows ...[]Row) []string {
	seen := map[string]bool{}
	for _, rs := range rows {
		for _, r := range rs {
			seen[r.Stage] = true
		}
	}
	var out []string
	for s := range seen {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if (out[i] == "") != (out[j] == "") {
			return out[j] == ""
		}
		return out[i] < out[j]
	})
	return out
}

// StageName is how reports name a stage: "" is the account-level stacks.
func StageName(stage string) string {
	if stage == "" {
		return "account (h2o-ci)"
	}
	return stage
}

// Of returns the rows of one pack (and stage, unless stage is "*").
func (a *Assembly) Of(pack, stage string) []Row {
	var out []Row
	for _, r := range a.Rows {
		if r.Pack == pack && (stage == "*" || r.Stage == stage) {
			out = append(out, r)
		}
	}
	return out
}

// Counts summarizes rows: how many rules were checked and how many resource lines each outcome has.
type Counts struct {
	Rules                                        int
	Compliant, Suppressed, NonCompliant, Unknown int
}

// Failing is what synth fails on.
func (c Counts) Failing() int { return c.NonCompliant + c.Unknown }

// Count summarizes rows.
func Count(rows []Row) Counts {
	var c Counts
	rules := map[string]bool{}
	for _, r := range rows {
		rules[r.Rule] = true
		switch r.Compliance {
		case Compliant:
			c.Compliant++
		case Suppressed:
			c.Suppressed++
		case NonCompliant:
			c.NonCompliant++
		case Unknown:
			c.Unknown++
		}
	}
	c.Rules = len(rules)
	return c
}

// ByRule counts the rows of one outcome per rule.
func ByRule(rows []Row, keep func(Row) bool) map[string]int {
	out := map[string]int{}
	for _, r := range rows {
		if keep(r) {
			out[r.Rule]++
		}
	}
	return out
}
