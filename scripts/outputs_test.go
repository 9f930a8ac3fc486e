package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// outputRead is one place where a script reads a stack output.
type outputRead struct {
	file, layer, key string
	line             int
	// required: the script cannot do its job without it (output_value, output_or, verify.sh's need); an
	// output_optional may be missing in a stage (WebAclArn: no WAF in dev).
	required bool
}

var (
	// output_value LAYER KEY, output_optional LAYER KEY, output_or LAYER KEY.
	outputCall = regexp.MustCompile(`\b(output_value|output_optional|output_or)\b(\(\))?\s*(\S*)\s*([^\s)]*)`)
	// verify.sh: need VAR CHECK LAYER KEY.
	needCall = regexp.MustCompile(`^\s*need\s+\w+\s+\w+\s+(\S+)\s+(\S+)`)
	// The wrappers that pass their own arguments on: output_value and output_or call output_optional "$1" "$2",
	// need calls it with "$3" "$4".
	forwarded    = map[string]bool{`"$1" "$2"`: true, `"$3" "$4"`: true}
	literalLayer = regexp.MustCompile(`^[a-z]+$`)
	literalKey   = regexp.MustCompile(`^[A-Z][A-Za-z0-9]+$`)
)

// outputReads scans every script for its stack output reads; a read the scan cannot name (a variable layer or
// key) fails the test, so none escapes the check.
func outputReads(t *testing.T) []outputRead {
	t.Helper()
	files, err := filepath.Glob("*.sh")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts found: %v", err)
	}
	var reads []outputRead
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(raw), "\n") {
			code, _, _ := strings.Cut(line, " #")
			if strings.HasPrefix(strings.TrimSpace(code), "#") {
				continue
			}
			if m := needCall.FindStringSubmatch(code); m != nil {
				reads = append(reads, outputRead{file, m[1], m[2], i + 1, true})
				continue
			}
			for _, m := range outputCall.FindAllStringSubmatch(code, -1) {
				if m[2] == "()" || forwarded[m[3]+" "+m[4]] {
					continue // the definition, or a wrapper's forwarding
				}
				if !literalLayer.MatchString(m[3]) || !literalKey.MatchString(m[4]) {
					t.Errorf("%s:%d: %s reads an output the test cannot name (want a literal layer and key): %s",
						file, i+1, m[1], strings.TrimSpace(line))
					continue
				}
				reads = append(reads, outputRead{file, m[3], m[4], i + 1, m[1] != "output_optional"})
			}
		}
	}
	return reads
}

// TestScriptsReadOnlyOutputsTheAppDefines: every stack output a script reads is defined by the synthesized
// templates of the stages that read it (every script runs for every stage): a required one by every stage's, an
// optional one by at least one stage's.
func TestScriptsReadOnlyOutputsTheAppDefines(t *testing.T) {
	t.Parallel()
	reads := outputReads(t)
	if len(reads) < 30 {
		t.Fatalf("only %d output reads found in the scripts", len(reads))
	}
	for _, r := range reads {
		var in []string
		for stage, layers := range app {
			st, ok := layers[r.layer]
			if !ok {
				t.Errorf("%s:%d reads output %s of layer %q, which stage %s does not have", r.file, r.line, r.key, r.layer, stage)
				continue
			}
			if _, ok := st.outputs[r.key]; ok {
				in = append(in, stage)
			}
		}
		slices.Sort(in)
		switch {
		case len(in) == 0:
			t.Errorf("%s:%d reads output %s of h2o-<stage>-%s, which no synthesized template has", r.file, r.line, r.key, r.layer)
		case r.required && len(in) < len(app):
			t.Errorf("%s:%d needs output %s of h2o-<stage>-%s, which only the templates of %v have", r.file, r.line, r.key, r.layer, in)
		}
	}
}

// TestDryRunPlaceholdersAreTheAppsOutputs: what a dry run answers for a stack's outputs (common.sh,
// placeholder_outputs) names outputs that stack has in that stage, and every output a script reads from it there.
func TestDryRunPlaceholdersAreTheAppsOutputs(t *testing.T) {
	t.Parallel()
	reads := outputReads(t)
	for stage, layers := range app {
		for layer, st := range layers {
			cmd := exec.Command("bash", "-c", `source ./common.sh && stage=$1 && placeholder_outputs "h2o-$1-$2"`, "bash", stage, layer)
			raw, err := cmd.Output()
			if err != nil {
				t.Fatalf("placeholder_outputs h2o-%s-%s: %v", stage, layer, err)
			}
			placeholders := map[string]bool{}
			for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
				key, _, _ := strings.Cut(line, "\t")
				if key == "" {
					continue
				}
				placeholders[key] = true
				if _, ok := st.outputs[key]; !ok {
					t.Errorf("the dry run answers output %s for %s, which its template does not have", key, st.name)
				}
			}
			for _, r := range reads {
				if _, ok := st.outputs[r.key]; r.layer == layer && ok && !placeholders[r.key] {
					t.Errorf("%s:%d reads output %s of %s, for which the dry run has no placeholder", r.file, r.line, r.key, st.name)
				}
			}
		}
	}
}
