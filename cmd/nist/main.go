// Command nist reads the cdk-nag reports of a synthesized cloud assembly: `make nist` prints, per pack (NIST 800-53
// rev 5, AWS Solutions) and stage, the rules checked and what is suppressed or failing. With -base it compares two
// assemblies and prints, as markdown, what the head changes: `make nist-diff`, the PR comment's 20-nist section.
// It imports no CDK/jsii code, so it builds in seconds.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"

	"h2o-infra/internal/nagreport"
)

func main() {
	out := flag.String("out", "cdk.out", "synthesized cloud assembly (the head build with -base)")
	base := flag.String("base", "", "diff mode: the assembly of the base build")
	baseLabel := flag.String("base-label", "base", "diff mode: what the base build is (a git revision)")
	headLabel := flag.String("head-label", "head", "diff mode: what the head build is")
	md := flag.String("md", "", "also write the markdown to this file")
	flag.Parse()
	if err := run(os.Stdout, *out, *base, *baseLabel, *headLabel, *md); err != nil {
		fmt.Fprintln(os.Stderr, "nist:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, out, base, baseLabel, headLabel, mdPath string) error {
	head, err := nagreport.Load(out)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if base == "" {
		nagreport.WriteSummary(&buf, head)
	} else {
		b, err := nagreport.Load(base)
		if err != nil {
			return fmt.Errorf("base: %w", err)
		}
		nagreport.WriteDiff(&buf, b, head, baseLabel, headLabel)
	}
	if mdPath != "" {
		if err := os.WriteFile(mdPath, buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	_, err = w.Write(buf.Bytes())
	return err
}
