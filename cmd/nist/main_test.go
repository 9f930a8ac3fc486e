package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var testdata = filepath.Join("..", "..", "internal", "nagreport", "testdata")

func TestDiffIsPrintedAndWrittenAsTheSameMarkdown(t *testing.T) {
	// GIVEN two assemblies WHEN compared with -md THEN the file holds exactly what was printed
	md := filepath.Join(t.TempDir(), "20-nist.md")
	var out bytes.Buffer
	if err := run(&out, filepath.Join(testdata, "head"), filepath.Join(testdata, "base"), "b", "h", md); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(md)
	if err != nil || !bytes.Equal(file, out.Bytes()) || !strings.Contains(out.String(), "## Compliance (cdk-nag)") {
		t.Errorf("file %q (%v) differs from the output %q", file, err, out.String())
	}
}

func TestAMissingBuildIsAnErrorNamingIt(t *testing.T) {
	// GIVEN a base that did not synthesize WHEN compared THEN the error names the base and nothing is written
	md := filepath.Join(t.TempDir(), "20-nist.md")
	err := run(&bytes.Buffer{}, filepath.Join(testdata, "head"), filepath.Join(testdata, "missing"), "b", "h", md)
	if err == nil || !strings.HasPrefix(err.Error(), "base: ") {
		t.Errorf("err = %v, want one naming the base", err)
	}
	if _, statErr := os.Stat(md); statErr == nil {
		t.Error("a section was written for a failed comparison")
	}
}
