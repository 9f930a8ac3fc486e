// Command config prints the effective settings of a stage with where each value came from (`make config`), or
// regenerates README.md's configuration tables (`make readme`). Offline; it builds no CDK code.
//
//	go run ./cmd/config -stage dev [-c key=value ...]   as `cdk synth` would see them (cdk.json, cdk.context.json, -c)
//	go run ./cmd/config -stage ci                       h2o-ci's settings
//	go run ./cmd/config -readme                         rewrite README.md's generated section
//	go run ./cmd/config -stage prod -deploy-check       exit 1 if a deploy would be refused (placeholder settings)
//	go run ./cmd/config -stage prod -placement          the stage's region, zone names and the zone IDs VPC origins
//	                                                    are unsupported in (scripts/deploy.sh's preflight)
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"strings"

	"h2o-infra/config"
	"h2o-infra/internal/cdkcontext"
)

// contextFlags collects repeated `-c key=value`, as the CDK CLI passes them (strings).
type contextFlags map[string]any

func (c contextFlags) String() string { return fmt.Sprint(map[string]any(c)) }

func (c contextFlags) Set(v string) error {
	key, value, ok := strings.Cut(v, "=")
	if !ok || key == "" {
		return errors.New("want key=value")
	}
	c[key] = value
	return nil
}

func main() {
	stage := flag.String("stage", "dev", "stage to describe (dev, prod) or ci for h2o-ci")
	readme := flag.Bool("readme", false, "rewrite README.md's generated configuration tables")
	deployCheck := flag.Bool("deploy-check", false, "exit 1 when the stage's settings hold a placeholder a deploy refuses")
	placement := flag.Bool("placement", false, "print the stage's region, availability zone names and the zone IDs where CloudFront VPC origins are unsupported")
	overrides := contextFlags{}
	flag.Var(overrides, "c", "context key=value, as `cdk synth -c` (repeatable)")
	flag.Parse()
	if err := run(*stage, *readme, *deployCheck, *placement, overrides); err != nil {
		fmt.Fprintln(os.Stderr, "config:", err)
		os.Exit(1)
	}
}

func run(stage string, readme, deployCheck, placement bool, overrides contextFlags) error {
	settings, err := config.Committed()
	if err != nil {
		return err
	}
	if readme {
		tables, err := config.ReadmeTables(config.Sources{Settings: settings})
		if err != nil {
			return err
		}
		raw, err := os.ReadFile("README.md")
		if err != nil {
			return err
		}
		updated, err := config.UpdateReadme(string(raw), tables)
		if err != nil {
			return err
		}
		return os.WriteFile("README.md", []byte(updated), 0o644)
	}
	// The CLI's context, highest first: -c, cdk.json's "context", cdk.context.json, ~/.cdk.json (aws-cdk
	// lib/cli/user-configuration.js loadConfigFiles: the first bag holding a key wins). cdk.context.json holds
	// lookup results, one flat object; ~/.cdk.json is the user's and left out here.
	context := map[string]any{}
	if raw, err := os.ReadFile("cdk.context.json"); err == nil {
		if err := json.Unmarshal(raw, &context); err != nil {
			return fmt.Errorf("cdk.context.json: %w", err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	project, err := cdkcontext.Load("cdk.json")
	if err != nil {
		return fmt.Errorf("cdk.json: %w", err)
	}
	maps.Copy(context, project)
	for k, v := range overrides {
		context[k] = v
	}
	src := config.Sources{Settings: settings, Context: context}
	if placement {
		cfg, err := config.Load(stage, src)
		if err != nil {
			return err
		}
		// One "key value..." line each, for a shell's `read`: zone names map to zone IDs only in an account, so the
		// check itself is the deploy's (config.VPCOriginUnsupportedAZIDs).
		fmt.Printf("region %s\nzones %s\nunsupported %s\n", cfg.Region, strings.Join(cfg.AvailabilityZones, " "),
			strings.Join(config.VPCOriginUnsupportedAZIDs[cfg.Region], " "))
		return nil
	}
	if deployCheck {
		cfg, err := config.Load(stage, src)
		if err != nil {
			return err
		}
		if problems := cfg.DeployProblems(); len(problems) > 0 {
			return errors.New(strings.Join(problems, "\n"))
		}
		return nil
	}
	out, err := config.Describe(stage, src)
	if err != nil {
		return err
	}
	fmt.Printf("%s: defaults < config/settings/%s.json < -c <key> < -c %s.<key>\n%s", stage, stage, stage, out)
	return nil
}
