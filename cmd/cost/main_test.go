package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"h2o-infra/cost"
)

func TestDiffModePrintsAndWritesTheSameMarkdown(t *testing.T) {
	// GIVEN the small test assembly (dev, prod, account) as base and real prod templates as head
	md := filepath.Join(t.TempDir(), "cost.md")
	var out bytes.Buffer
	// WHEN the command runs in diff mode
	err := runDiff(&out, "../../cost/testdata/cdk.out", "../../cost/testdata/diff/base", cost.DefaultPriceFile, "main", "pr", md)
	// THEN stdout and the file hold the same markdown, naming both builds and every stage of either
	if err != nil {
		t.Fatal(err)
	}
	written, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(written, out.Bytes()) {
		t.Errorf("file and stdout differ")
	}
	for _, want := range []string{cost.CostDiffHeading, "main → pr", "| dev | ", "stage removed", "| prod | ", "### prod: "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestDiffModeNamesTheBuildThatFailedToLoad(t *testing.T) {
	for _, c := range []struct{ base, head, want string }{
		{t.TempDir(), "../../cost/testdata/cdk.out", "base: "},
		{"../../cost/testdata/cdk.out", t.TempDir(), "head: "},
	} {
		var out bytes.Buffer
		err := runDiff(&out, c.base, c.head, cost.DefaultPriceFile, "b", "h", "")
		if err == nil || !strings.HasPrefix(err.Error(), c.want) || out.Len() != 0 {
			t.Errorf("want an error starting %q and no output, got %v (%d bytes)", c.want, err, out.Len())
		}
	}
}
