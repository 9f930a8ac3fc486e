package config

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"
)

// Sources are where settings come from, lowest precedence first: the defaults in this package, Settings (the
// committed settings/<name>.json files), then Context: `-c <key>=<value>` for every stage, then
// `-c <stage>.<key>=<value>` for one.
type Sources struct {
	// Settings are the committed settings by stage name ("ci" for the account-level h2o-ci stack).
	Settings map[string]map[string]any
	// Context is the CDK context (cdk.json, cdk.context.json and -c, as the CLI merges them). Keys the CDK and
	// its CLI own are ignored; every other key must name a setting.
	Context map[string]any
}

// ciName is the settings-file and context prefix of the account-level h2o-ci stack.
const ciName = "ci"

//go:embed settings/*.json
var settingsFiles embed.FS

// SettingsFile is the repository path of a stage's committed settings, as messages name it.
func SettingsFile(name string) string { return "config/settings/" + name + ".json" }

// Committed returns the committed settings (settings/*.json, embedded in the binary at build time).
func Committed() (map[string]map[string]any, error) {
	entries, err := settingsFiles.ReadDir("settings")
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]any{}
	var errs []error
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".json")
		raw, err := settingsFiles.ReadFile(path.Join("settings", e.Name()))
		var values map[string]any
		if err == nil {
			err = json.Unmarshal(raw, &values)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: not a JSON object of settings: %v", SettingsFile(name), err))
			continue
		}
		out[name] = values
	}
	return out, errors.Join(errs...)
}

// Origins says where each setting's value came from: "default", a settings file, or the -c key.
type Origins map[string]string

// LoadApp validates every source (unknown keys, unknown stages) and loads the named stages and h2o-ci, all
// problems joined into one error.
func LoadApp(stages []string, src Sources) ([]*Config, *CI, error) {
	errs := checkKeys(src)
	ci, _, ciErrs := resolveCI(src)
	errs = append(errs, ciErrs...)
	var configs []*Config
	for _, s := range stages {
		c, _, stageErrs := resolve(s, src, ci)
		errs = append(errs, stageErrs...)
		if len(stageErrs) == 0 {
			configs = append(configs, c)
		}
	}
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	return configs, ci, nil
}

// Load returns one stage's config, or every problem of the sources and of that stage.
func Load(stage string, src Sources) (*Config, error) {
	c, _, err := Resolve(stage, src)
	return c, err
}

// Resolve is Load with the origin of every value.
func Resolve(stage string, src Sources) (*Config, Origins, error) {
	errs := checkKeys(src)
	ci, _, ciErrs := resolveCI(src)
	errs = append(errs, ciErrs...)
	c, origins, stageErrs := resolve(stage, src, ci)
	if errs = append(errs, stageErrs...); len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	return c, origins, nil
}

// resolve builds one stage from the defaults and the sources (whose keys checkKeys has vetted) and validates it.
func resolve(stage string, src Sources, ci *CI) (*Config, Origins, []error) {
	apply, ok := stageDefaults[stage]
	if !ok {
		return nil, nil, []error{&FieldError{Stage: stage, Field: "stage", Value: stage,
			Allowed: "one of " + strings.Join(Stages(), ", ")}}
	}
	c := defaults(stage)
	apply(&c)
	if ci != nil {
		c.RepositoryName = ci.RepositoryName
	}
	origins, errs := applySources(stage, &c, StageFields(), src)
	if len(errs) > 0 {
		return nil, nil, errs
	}
	return &c, origins, c.validate(origins)
}

// layer is one source's value of a setting.
type layer struct {
	origin string
	value  any
}

// applySources sets target's fields from the settings file of name, then `-c <key>`, then `-c <name>.<key>`.
func applySources(name string, target any, fields []Field, src Sources) (Origins, []error) {
	origins := Origins{}
	var errs []error
	for _, f := range fields {
		origins[f.Key] = "default"
		var layers []layer
		if v, ok := src.Settings[name][f.Key]; ok {
			layers = append(layers, layer{SettingsFile(name), v})
		}
		for _, key := range []string{f.Key, name + "." + f.Key} {
			if v, ok := src.Context[key]; ok && v != nil {
				layers = append(layers, layer{"-c " + key, v})
			}
		}
		for _, l := range layers {
			if allowed, ok := f.set(target, l.value); !ok {
				errs = append(errs, &FieldError{Stage: name, Field: f.Key, Value: display(l.value), Allowed: allowed, Source: l.origin})
				continue
			}
			origins[f.Key] = l.origin
		}
	}
	return origins, errs
}

// display renders a raw setting as its text (strings as they are, anything else as JSON).
func display(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	raw, _ := json.Marshal(v) // values decoded from JSON always marshal
	return string(raw)
}

// retiredKeys are former settings, with what replaced them.
var retiredKeys = map[string]string{
	"imageTag": "the image is the compute stack's ImageTag parameter now: `make deploy STAGE=<stage> IMAGE_TAG=<tag>` " +
		"(cdk deploy --parameters h2o-<stage>-compute:ImageTag=<tag>); a deploy without it keeps the image the stage runs",
	"enableXRay": "the X-Ray daemon is out of support from 2027-02-25 (X-Ray developer guide, \"X-Ray SDK and daemon end of support " +
		"timeline\"): set tracing=true for the AWS Distro for OpenTelemetry collector, which sends the backend's OTLP traces to X-Ray " +
		"(README, \"Container contract\")",
}

// cdkOwned are the context keys of the CDK and its CLI: feature flags (@aws-cdk/...), what the CLI sets
// (aws:cdk:...), lookup results cached in cdk.context.json (<kind>:account=...), acknowledged notices.
func cdkOwned(key string) bool {
	return strings.HasPrefix(key, "@aws-cdk") || strings.HasPrefix(key, "aws:") || strings.HasPrefix(key, "cdk-") ||
		strings.HasPrefix(key, "cdk:") || lookupKeyRe.MatchString(key) || key == "acknowledged-issue-numbers"
}

// lookupKeyRe matches the keys of cached context lookups, e.g. availability-zones:account=123456789012:region=...
var lookupKeyRe = regexp.MustCompile(`^[a-z0-9-]+:account=`)

// checkKeys reports every key of the sources that names no setting: in the settings files (unknown file,
// unknown key) and in the context (unknown key, unknown stage, retired key).
func checkKeys(src Sources) []error {
	var errs []error
	known := func(name string) ([]Field, bool) {
		if name == ciName {
			return CIFields(), true
		}
		_, ok := stageDefaults[name]
		return StageFields(), ok
	}
	names := append(Stages(), ciName)
	for _, name := range sortedKeys(src.Settings) {
		fields, ok := known(name)
		if !ok {
			errs = append(errs, &KeyError{Key: name, Where: SettingsFile(name), Problem: "is not a stage's settings file",
				Suggestion: closest(name, names)})
			continue
		}
		for _, key := range sortedKeys(src.Settings[name]) {
			if _, ok := findField(fields, key); !ok {
				errs = append(errs, unknownSetting(key, SettingsFile(name), name, fields))
			}
		}
	}
	for _, key := range sortedKeys(src.Context) {
		if cdkOwned(key) || key == "stage" {
			continue
		}
		if why, retired := retiredKeys[key]; retired {
			errs = append(errs, &KeyError{Key: key, Where: "-c " + key, Problem: "is no longer a setting: " + why})
			continue
		}
		if stage, field, colon := strings.Cut(key, ":"); colon && slices.Contains(names, stage) {
			errs = append(errs, &KeyError{Key: key, Where: "-c " + key, Problem: "is not a setting (a stage's settings take a dot)",
				Suggestion: stage + "." + field})
			continue
		}
		scope, field, scoped := strings.Cut(key, ".")
		if !scoped {
			_, inStage := findField(StageFields(), key)
			_, inCI := findField(CIFields(), key)
			if !inStage && !inCI {
				errs = append(errs, unknownSetting(key, "-c "+key, "", append(StageFields(), CIFields()...)))
			}
			continue
		}
		fields, ok := known(scope)
		switch {
		case !ok:
			errs = append(errs, &KeyError{Key: key, Where: "-c " + key, Problem: fmt.Sprintf("names no stage %q (known: %s)",
				scope, strings.Join(names, ", ")), Suggestion: suggestScoped(closest(scope, names), field)})
		case retiredKeys[field] != "":
			errs = append(errs, &KeyError{Key: key, Where: "-c " + key, Problem: "is no longer a setting: " + retiredKeys[field]})
		default:
			if _, ok := findField(fields, field); !ok {
				e := unknownSetting(field, "-c "+key, scope, fields)
				e.Key = key
				if s := e.Suggestion; s != "" {
					e.Suggestion = scope + "." + s
				}
				errs = append(errs, e)
			}
		}
	}
	return errs
}

func suggestScoped(scope, field string) string {
	if scope == "" {
		return ""
	}
	return scope + "." + field
}

func unknownSetting(key, where, scope string, fields []Field) *KeyError {
	keys := make([]string, len(fields))
	for i, f := range fields {
		keys[i] = f.Key
	}
	problem := "is not a setting"
	if scope != "" {
		problem = fmt.Sprintf("is not a setting of %q", scope)
	}
	return &KeyError{Key: key, Where: where, Problem: problem, Suggestion: closest(key, keys)}
}

// closest is the known word nearest to word (case-insensitive edit distance, transpositions counted once), or
// "" when none is near enough to be a plausible typo.
func closest(word string, known []string) string {
	best, bestDist := "", 0
	for _, k := range slices.Sorted(slices.Values(known)) {
		d := editDistance(strings.ToLower(word), strings.ToLower(k))
		if best == "" || d < bestDist {
			best, bestDist = k, d
		}
	}
	if best == "" || bestDist > max(2, len(word)/3) {
		return ""
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// FieldError is one invalid setting value.
type FieldError struct {
	Stage, Field, Value, Allowed string
	// Source is where the value came from (a settings file or a -c key); "" for a default.
	Source string
}

func (e *FieldError) Error() string {
	msg := fmt.Sprintf("stage %q: %s = %q is invalid: want %s", e.Stage, e.Field, e.Value, e.Allowed)
	if e.Source != "" {
		msg += " (set by " + e.Source + ")"
	}
	return msg
}

// KeyError is a settings key or context key that names no setting.
type KeyError struct {
	Key, Where, Problem, Suggestion string
}

func (e *KeyError) Error() string {
	msg := fmt.Sprintf("%s: %q %s", e.Where, e.Key, e.Problem)
	if e.Suggestion != "" {
		msg += fmt.Sprintf("; did you mean %q?", e.Suggestion)
	}
	return msg
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
