// Command cost estimates the monthly cost of each stage of a synthesized cloud assembly (cdk.out) and writes
// cdk.out/cost-report.json: `make cost`. With -base it prices two assemblies instead and prints, as markdown,
// what changed between them: `make cost-diff`. It imports no CDK/jsii code, so it builds in seconds.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"h2o-infra/cost"
)

func main() {
	out := flag.String("out", "cdk.out", "synthesized cloud assembly to price; the report is written into it")
	prices := flag.String("prices", cost.DefaultPriceFile, "price table (looked up from the current directory upwards)")
	report := flag.String("report", "", "JSON report path (default <out>/cost-report.json)")
	strict := flag.Bool("strict", false, "exit 3 when any item is unpriced")
	base := flag.String("base", "", "diff mode: the assembly of the base build; -out is the head build. Prints markdown, writes no report")
	baseLabel := flag.String("base-label", "base", "diff mode: what the base build is (a git revision)")
	headLabel := flag.String("head-label", "head", "diff mode: what the head build is")
	md := flag.String("md", "", "diff mode: also write the markdown to this file")
	flag.Parse()
	var err error
	if *base != "" {
		err = runDiff(os.Stdout, *base, *out, *prices, *baseLabel, *headLabel, *md)
	} else {
		err = run(*out, *prices, *report, *strict)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cost:", err)
		if err == errUnpriced {
			os.Exit(3)
		}
		os.Exit(1)
	}
}

var errUnpriced = fmt.Errorf("some items are unpriced (-strict)")

func run(out, priceFile, reportPath string, strict bool) error {
	p, err := loadPrices(priceFile)
	if err != nil {
		return err
	}
	r, err := estimate(out, p)
	if err != nil {
		return err
	}
	r.WriteText(os.Stdout)
	if reportPath == "" {
		reportPath = filepath.Join(out, "cost-report.json")
	}
	if err := r.WriteJSON(reportPath); err != nil {
		return err
	}
	fmt.Printf("\nwrote %s\n", reportPath)
	if strict {
		for _, s := range r.Stages {
			if s.UnpricedCount > 0 {
				return errUnpriced
			}
		}
	}
	return nil
}

// runDiff prices both builds with the same price table and usage model and prints what changed to w (and to
// mdPath, if set).
func runDiff(w io.Writer, baseOut, headOut, priceFile, baseLabel, headLabel, mdPath string) error {
	p, err := loadPrices(priceFile)
	if err != nil {
		return err
	}
	base, err := estimate(baseOut, p)
	if err != nil {
		return fmt.Errorf("base: %w", err)
	}
	head, err := estimate(headOut, p)
	if err != nil {
		return fmt.Errorf("head: %w", err)
	}
	d := cost.Compare(base, head)
	d.BaseLabel, d.HeadLabel = baseLabel, headLabel
	var buf bytes.Buffer
	d.WriteMarkdown(&buf)
	if mdPath != "" {
		if err := os.WriteFile(mdPath, buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	_, err = w.Write(buf.Bytes())
	return err
}

func loadPrices(priceFile string) (*cost.Prices, error) {
	path, err := cost.FindPriceFile(".", priceFile)
	if err != nil {
		return nil, err
	}
	p, err := cost.LoadPrices(path)
	if err != nil {
		return nil, err
	}
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, path); err == nil {
			p.Path = rel
		}
	}
	return p, nil
}

func estimate(out string, p *cost.Prices) (*cost.Report, error) {
	a, err := cost.LoadAssembly(out)
	if err != nil {
		return nil, fmt.Errorf("%w (run `make synth` first)", err)
	}
	return cost.Estimate(a, p, cost.UsageFor), nil
}
