package stacks

import (
	"path/filepath"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"h2o-infra/config"
)

// moved is dev and prod with every setting of settingEffects moved off its default at once (prod also stops its
// database off hours in Europe/Madrid, listens on another port, times out at 90 s, has a domain): one App, built the
// first time a test asks for it and shared. TestEverySettingChangesTheTemplateWhereItShould reads it, and the
// contracts between layers are checked on it too, so a contract that holds only for the default values fails.
var moved struct {
	once    sync.Once
	stages  map[string]*H2oStage
	configs map[string]*config.Config
	err     error
}

// movedContext is `-c <stage>.<key>=<value>` for every setting of settingEffects, with settingCompanions.
func movedContext() map[string]string {
	ctx := map[string]string{}
	for k, v := range settingCompanions {
		ctx[k] = v
	}
	for key, e := range settingEffects {
		ctx[e.base+"."+key] = e.value
	}
	return ctx
}

// movedStages builds the moved stages once (the validator off: TestMain's synth validates this code).
func movedStages(t *testing.T) (map[string]*H2oStage, map[string]*config.Config) {
	t.Helper()
	moved.once.Do(func() {
		app := awscdk.NewApp(&awscdk.AppProps{Context: cdkJSONContext(), Outdir: jsii.String(filepath.Join(outdir, "moved")),
			BuiltinCloudFormationValidation: jsii.Bool(false)})
		moved.stages, moved.configs = map[string]*H2oStage{}, map[string]*config.Config{}
		for _, stage := range config.Stages() {
			cfg, err := config.Load(stage, sources(movedContext()))
			if err != nil {
				moved.err = err
				return
			}
			moved.configs[stage], moved.stages[stage] = cfg, NewH2oStage(app, cfg)
		}
		app.Synth(nil)
	})
	if moved.err != nil {
		t.Fatalf("the moved stages do not load: %v", moved.err)
	}
	return moved.stages, moved.configs
}

// build is one synthesized stage and its config.
type build struct {
	name string
	s    *H2oStage
	cfg  *config.Config
}

// contractBuilds are the stages a contract between layers is checked on: dev, prod, the all-options variant and
// the moved dev and prod.
func contractBuilds(t *testing.T) []build {
	t.Helper()
	var out []build
	for _, name := range config.Stages() {
		out = append(out, build{name, built[name], mustLoad(name, nil)})
	}
	out = append(out, build{"variant", withDomain, withDomainConfig})
	stages, configs := movedStages(t)
	for _, name := range config.Stages() {
		out = append(out, build{"moved-" + name, stages[name], configs[name]})
	}
	return out
}

// forEachContractBuild runs f as a subtest per contract build.
func forEachContractBuild(t *testing.T, f func(t *testing.T, s *H2oStage, cfg *config.Config)) {
	t.Helper()
	for _, b := range contractBuilds(t) {
		t.Run(b.name, func(t *testing.T) { f(t, b.s, b.cfg) })
	}
}
