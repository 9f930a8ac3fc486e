// Command h2o-infra is the CDK app of the H2O Allegiant backend: one Stage per environment (dev, prod).
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"

	"h2o-infra/config"
	"h2o-infra/stacks"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	if _, err := buildApp(app); err != nil {
		fmt.Fprintln(os.Stderr, "h2o-infra: invalid configuration:\n"+err.Error())
		os.Exit(1)
	}
	assembly := app.Synth(nil)
	if errs := errorMessages(assembly); len(errs) > 0 {
		// The CLI only checks top-level stacks; ours are all inside Stages, so fail here.
		fmt.Fprintf(os.Stderr, "h2o-infra: %d error annotation(s) (cdk-nag or construct errors):\n%s\n",
			len(errs), strings.Join(errs, "\n"))
		os.Exit(1)
	}
}

// buildApp loads every selected stage's config (all of them and the account-level h2o-ci stack, unless
// `-c stage=<name>` picks one stage: what `make diff`/`make deploy` use, synthesizing only what they touch) from
// the committed settings (config/settings/*.json) and the CDK context, validates all of it before any construct
// exists, then builds the stacks.
func buildApp(app awscdk.App) ([]*stacks.H2oStage, error) {
	// All context in one jsii call, not one per key.
	context, _ := app.Node().GetAllContext(nil).(map[string]interface{})
	settings, err := config.Committed()
	if err != nil {
		return nil, err
	}
	names := config.Stages()
	only, scoped := context["stage"]
	if scoped {
		names = []string{fmt.Sprint(only)}
	}
	configs, ci, err := config.LoadApp(names, config.Sources{Settings: settings, Context: context})
	if err != nil {
		return nil, err
	}
	if !scoped {
		// Account-level, deployed once before any stage: the image repository and GitHub's deploy roles.
		stacks.NewCiStack(app, ci)
	}
	var built []*stacks.H2oStage
	for _, cfg := range configs {
		for _, problem := range cfg.DeployProblems() {
			fmt.Fprintln(os.Stderr, "h2o-infra: note: synthesized, but a deploy will be refused:", problem)
		}
		built = append(built, stacks.NewH2oStage(app, cfg))
	}
	return built, nil
}

// errorMessages lists every error-level annotation of every stack, Stages included.
func errorMessages(assembly cxapi.CloudAssembly) []string {
	var out []string
	for _, stack := range *assembly.StacksRecursively() {
		for _, m := range *stack.Messages() {
			if m.Level == cxapi.SynthesisMessageLevel_ERROR {
				out = append(out, fmt.Sprintf("  %s %s: %v", *stack.HierarchicalId(), *m.Id, m.Entry.Data))
			}
		}
	}
	return out
}
