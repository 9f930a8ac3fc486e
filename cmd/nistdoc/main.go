// Command nistdoc rewrites README.md's list of NIST 800-53 rev 5 exceptions from stacks/nist.go (`make readme`).
// It builds no construct, so it starts no jsii runtime.
package main

import (
	"fmt"
	"os"

	"h2o-infra/config"
	"h2o-infra/internal/docsection"
	"h2o-infra/stacks"
)

func main() {
	if err := run("README.md"); err != nil {
		fmt.Fprintln(os.Stderr, "nistdoc:", err)
		os.Exit(1)
	}
}

func run(path string) error {
	settings, err := config.Committed()
	if err != nil {
		return err
	}
	configs := map[string]*config.Config{}
	for _, stage := range config.Stages() {
		if configs[stage], err = config.Load(stage, config.Sources{Settings: settings}); err != nil {
			return err
		}
	}
	readme, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	updated, err := docsection.Replace(string(readme), stacks.NistReadmeBegin, stacks.NistReadmeEnd, stacks.NistExceptionsMarkdown(configs))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, []byte(updated), 0o644)
}
