package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// boundCompanions are the other settings a value needs to be valid as a whole, when a cross-field rule ties them:
// given the stage's config and the value under test, the -c overrides (key → value) that go with it.
var boundCompanions = map[string]func(c *Config, value string) map[string]string{
	"taskCpu": func(_ *Config, value string) map[string]string {
		cpu, _ := strconv.Atoi(value)
		if mems := fargateMemory[cpu]; len(mems) > 0 {
			return map[string]string{"taskMemoryMiB": strconv.Itoa(mems[0])}
		}
		return nil
	},
	"minTasks": func(c *Config, value string) map[string]string {
		n, _ := strconv.Atoi(value)
		return map[string]string{"maxTasks": strconv.Itoa(max(c.MaxTasks, n)), "onDemandBaseTasks": strconv.Itoa(max(0, min(c.OnDemandBaseTasks, n)))}
	},
	"dbAllocatedStorageGiB": func(c *Config, value string) map[string]string {
		n, _ := strconv.Atoi(value)
		return map[string]string{"dbMaxAllocatedStorageGiB": strconv.Itoa(max(c.DBMaxAllocatedStorageGiB, n+1))}
	},
	"wafBodyLimitKiB": func(c *Config, value string) map[string]string {
		if value != "0" && c.WAFMode == WAFOff {
			return map[string]string{"wafMode": WAFCount}
		}
		return nil
	},
	"wafMode": func(_ *Config, value string) map[string]string {
		if value == WAFOff {
			return map[string]string{"wafLogging": "false", "wafBodyLimitKiB": "0"}
		}
		return nil
	},
}

func TestEveryWholeNumberAndEnumeratedSettingHasBounds(t *testing.T) {
	// GIVEN every field of Config and CI WHEN its kind is read THEN each whole number has an entry in intRules, each
	// entry of intRules and stringChoices names a field of its kind, and every rule can say what it allows
	checked := 0
	for _, f := range StageFields() {
		_, isInt := intRules[f.Key]
		_, isEnum := stringChoices[f.Key]
		if (f.kind == reflect.Int) != isInt {
			t.Errorf("setting %s (%s): a whole-number setting needs its bounds in intRules (config/bounds.go), and only one", f.Key, f.kind)
		}
		if isEnum && f.kind != reflect.String {
			t.Errorf("setting %s (%s) has string choices but is not text", f.Key, f.kind)
		}
		if isInt || isEnum {
			checked++
		}
	}
	for _, f := range CIFields() {
		if f.kind == reflect.Int {
			t.Errorf("h2o-ci setting %s is a whole number without bounds (intRules covers the stages' settings only)", f.Key)
		}
	}
	for key, rule := range intRules {
		if _, ok := findField(StageFields(), key); !ok {
			t.Errorf("intRules names %s, which is no setting", key)
		}
		if rule.allowed == nil || (rule.values == nil && (rule.lo == nil || rule.hi == nil)) {
			t.Errorf("%s: the rule needs both bounds (or its values) and the text naming them", key)
		}
	}
	for key, choice := range stringChoices {
		if _, ok := findField(StageFields(), key); !ok || len(choice.values) == 0 {
			t.Errorf("stringChoices names %s, which is no setting or has no values", key)
		}
	}
	if checked != len(intRules)+len(stringChoices) {
		t.Errorf("checked %d settings, want the %d with bounds", checked, len(intRules)+len(stringChoices))
	}
}

// boundCase is one value of a setting and whether the stage must accept it.
type boundCase struct {
	value  string
	accept bool
}

// boundCases are, for one setting on one stage's config, its lowest and highest allowed values (every value of a
// list) and one step beyond each end (and a value between two listed ones); names are the bounds an error must name.
func boundCases(c *Config, key string) (cases []boundCase, names []string) {
	if rule, ok := intRules[key]; ok {
		if rule.values != nil {
			values := rule.values(c)
			for _, v := range values {
				cases = append(cases, boundCase{strconv.Itoa(v), true})
			}
			first, last := values[0], values[len(values)-1]
			cases = append(cases, boundCase{strconv.Itoa(first - 1), false}, boundCase{strconv.Itoa(last + 1), false})
			for v := first + 1; v < last; v++ {
				if !slices.Contains(values, v) {
					cases = append(cases, boundCase{strconv.Itoa(v), false}) // the first gap between two values
					break
				}
			}
			return cases, []string{strconv.Itoa(first), strconv.Itoa(last)}
		}
		lo, hi := rule.lo(c), rule.hi(c)
		return []boundCase{{strconv.Itoa(lo), true}, {strconv.Itoa(hi), true}, {strconv.Itoa(lo - 1), false}, {strconv.Itoa(hi + 1), false}},
			[]string{strconv.Itoa(lo), strconv.Itoa(hi)}
	}
	choice := stringChoices[key]
	for _, v := range choice.values {
		cases = append(cases, boundCase{v, true})
	}
	cases = append(cases, boundCase{choice.values[0] + "-other", false}, boundCase{strings.ToLower(choice.values[0]) + "X", false})
	return cases, choice.values
}

func TestEveryBoundAcceptsItsEndsAndRefusesOneStepBeyond(t *testing.T) {
	for _, stage := range Stages() {
		base, err := Load(stage, contextOf(nil))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range StageFields() {
			_, isInt := intRules[f.Key]
			if _, isEnum := stringChoices[f.Key]; !isInt && !isEnum {
				continue
			}
			cases, bounds := boundCases(base, f.Key)
			for _, tc := range cases {
				t.Run(fmt.Sprintf("%s/%s=%s", stage, f.Key, tc.value), func(t *testing.T) {
					// GIVEN -c <stage>.<key>=<value> (with what a cross-field rule needs beside it)
					ctx := map[string]string{stage + "." + f.Key: tc.value}
					if companions := boundCompanions[f.Key]; companions != nil {
						for k, v := range companions(base, tc.value) {
							ctx[stage+"."+k] = v
						}
					}
					// WHEN the stage loads
					_, err := Load(stage, contextOf(ctx))
					// THEN an allowed value is accepted; one beyond is refused naming stage, key, value and the bounds
					if tc.accept {
						if err != nil {
							t.Errorf("%s=%s is within %v but refused: %v", f.Key, tc.value, bounds, err)
						}
						return
					}
					var named *FieldError
					for _, e := range unjoin(err) {
						if fe, ok := e.(*FieldError); ok && fe.Field == f.Key && fe.Value == tc.value {
							named = fe
						}
					}
					if named == nil {
						t.Fatalf("%s=%s is beyond %v but no error names it: %v", f.Key, tc.value, bounds, err)
					}
					msg := named.Error()
					for _, want := range []string{`stage "` + stage + `"`, f.Key + ` = "` + tc.value + `"`, "-c " + stage + "." + f.Key} {
						if !strings.Contains(msg, want) {
							t.Errorf("error %q does not name %q", msg, want)
						}
					}
					// Each bound appears in what is allowed as a word of its own ("1" is not found in "10 to 80").
					words := wordRe.FindAllString(named.Allowed, -1)
					for _, bound := range bounds {
						if !slices.Contains(words, bound) {
							t.Errorf("error %q does not name the bound %s", msg, bound)
						}
					}
				})
			}
		}
	}
}

// wordRe splits an allowed text into its words (numbers, versions such as 8.2, names, ARN-free identifiers such as
// us-east-1); a sentence's final period is not part of a word.
var wordRe = regexp.MustCompile(`[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*`)

// unjoin lists the errors errors.Join combined (err itself when it is a single one, nothing for nil).
func unjoin(err error) []error {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range joined.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	if err == nil {
		return nil
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		return []error{fe}
	}
	return []error{err}
}
