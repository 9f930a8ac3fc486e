// Command cost estimates the monthly cost of each stage of a synthesized cloud assembly (cdk.out) and writes
// cdk.out/cost-report.json. It imports no CDK/jsii code, so it builds in seconds: `make cost`.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"h2o-infra/cost"
)

func main() {
	out := flag.String("out", "cdk.out", "synthesized cloud assembly to price; the report is written into it")
	prices := flag.String("prices", cost.DefaultPriceFile, "price table (looked up from the current directory upwards)")
	report := flag.String("report", "", "JSON report path (default <out>/cost-report.json)")
	strict := flag.Bool("strict", false, "exit 3 when any item is unpriced")
	flag.Parse()
	if err := run(*out, *prices, *report, *strict); err != nil {
		fmt.Fprintln(os.Stderr, "cost:", err)
		if err == errUnpriced {
			os.Exit(3)
		}
		os.Exit(1)
	}
}

var errUnpriced = fmt.Errorf("some items are unpriced (-strict)")

func run(out, priceFile, reportPath string, strict bool) error {
	path, err := cost.FindPriceFile(".", priceFile)
	if err != nil {
		return err
	}
	p, err := cost.LoadPrices(path)
	if err != nil {
		return err
	}
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, path); err == nil {
			p.Path = rel
		}
	}
	a, err := cost.LoadAssembly(out)
	if err != nil {
		return fmt.Errorf("%w (run `make synth` first)", err)
	}
	r := cost.Estimate(a, p, cost.UsageFor)
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
