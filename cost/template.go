package cost

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"h2o-infra/internal/cfnpath"
)

// Template is the part of a CloudFormation template the estimator reads.
type Template struct {
	Parameters map[string]struct {
		Default any `json:"Default"`
	} `json:"Parameters"`
	Resources map[string]*Resource `json:"Resources"`
}

// Resource is one CloudFormation resource.
type Resource struct {
	Type       string         `json:"Type"`
	Properties map[string]any `json:"Properties"`
	Metadata   map[string]any `json:"Metadata"`
	Condition  string         `json:"Condition"`

	// Set by the loader.
	ID    string `json:"-"`
	Stack *Stack `json:"-"`
}

// Stack is one synthesized stack of a stage.
type Stack struct {
	Name         string // CloudFormation stack name, e.g. h2o-dev-network
	DisplayName  string // construct path, e.g. dev/network
	TemplateFile string
	Template     *Template
}

// ParseTemplate parses a CloudFormation template and links its resources to the stack.
func ParseTemplate(data []byte, st *Stack) error {
	var t Template
	if err := json.Unmarshal(data, &t); err != nil {
		return err
	}
	for id, r := range t.Resources {
		if r == nil {
			return fmt.Errorf("resource %s is null", id)
		}
		r.ID = id
		r.Stack = st
		if r.Properties == nil {
			r.Properties = map[string]any{}
		}
	}
	st.Template = &t
	return nil
}

// Path is the resource's construct path when CDK recorded it, else stack/logicalID.
func (r *Resource) Path() string {
	if p, ok := r.Metadata["aws:cdk:path"].(string); ok && p != "" {
		return strings.TrimSuffix(strings.TrimSuffix(p, "/Resource"), "/Default")
	}
	if r.Stack != nil {
		return r.Stack.DisplayName + "/" + r.ID
	}
	return r.ID
}

// Prop returns a property by a dotted path ("RuntimePlatform.CpuArchitecture").
func (r *Resource) Prop(path string) any {
	return dig(r.Properties, path)
}

// dig is cfnpath.Get: a value at a dotted path of a template value.
func dig(v any, path string) any { return cfnpath.Get(v, path) }

// Str returns a literal string property ("" when absent or not a literal).
func (r *Resource) Str(path string) string {
	s, _ := literalString(r.resolve(r.Prop(path)))
	return s
}

// Num returns a literal numeric property (numbers and numeric strings); ok is false when absent or not literal.
func (r *Resource) Num(path string) (float64, bool) {
	return literalNumber(r.resolve(r.Prop(path)))
}

// Bool returns a literal boolean property (true/false or "true"/"false").
func (r *Resource) Bool(path string) (value, ok bool) {
	switch b := r.resolve(r.Prop(path)).(type) {
	case bool:
		return b, true
	case string:
		if v, err := strconv.ParseBool(b); err == nil {
			return v, true
		}
	}
	return false, false
}

// List returns a list property, or nil when absent or not a literal list.
func (r *Resource) List(path string) []any {
	l, _ := r.Prop(path).([]any)
	return l
}

// resolve replaces a Ref to a template parameter by its default value.
func (r *Resource) resolve(v any) any {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 || r.Stack == nil || r.Stack.Template == nil {
		return v
	}
	name, ok := m["Ref"].(string)
	if !ok {
		return v
	}
	if p, ok := r.Stack.Template.Parameters[name]; ok && p.Default != nil {
		return p.Default
	}
	return v
}

func literalString(v any) (string, bool) {
	switch s := v.(type) {
	case string:
		return s, true
	case float64:
		return strconv.FormatFloat(s, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(s), true
	}
	return "", false
}

func literalNumber(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
		return f, err == nil
	}
	return 0, false
}

// visit calls f on v and on every value nested inside it (map values and list items, depth first).
func visit(v any, f func(any)) {
	f(v)
	switch x := v.(type) {
	case map[string]any:
		for _, y := range x {
			visit(y, f)
		}
	case []any:
		for _, y := range x {
			visit(y, f)
		}
	}
}

// refs collects the logical IDs a value refers to through Ref, Fn::GetAtt or ${X} in Fn::Sub.
func refs(v any) map[string]bool {
	out := map[string]bool{}
	visit(v, func(v any) {
		x, ok := v.(map[string]any)
		if !ok {
			return
		}
		if id, ok := x["Ref"].(string); ok {
			out[id] = true
		}
		switch g := x["Fn::GetAtt"].(type) {
		case []any:
			if len(g) > 0 {
				if id, ok := g[0].(string); ok {
					out[id] = true
				}
			}
		case string:
			out[strings.SplitN(g, ".", 2)[0]] = true
		}
		var sub string
		switch y := x["Fn::Sub"].(type) {
		case string:
			sub = y
		case []any:
			if len(y) > 0 {
				sub, _ = y[0].(string)
			}
		}
		for _, part := range strings.Split(sub, "${")[1:] {
			if end := strings.IndexByte(part, '}'); end > 0 {
				out[strings.SplitN(part[:end], ".", 2)[0]] = true
			}
		}
	})
	return out
}

// refersTo reports whether v refers to the logical ID id.
func refersTo(v any, id string) bool { return refs(v)[id] }

// literalStrings collects the literal strings anywhere inside a value, for loose matching of names and ARNs.
func literalStrings(v any) []string {
	var out []string
	visit(v, func(v any) {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	})
	return out
}

func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }

// fmtNum prints a number without trailing zeros (2048, 0.5, 1.25).
func fmtNum(x float64) string {
	if x == math.Trunc(x) && math.Abs(x) < 1e15 {
		return strconv.FormatFloat(x, 'f', 0, 64)
	}
	s := strconv.FormatFloat(x, 'f', 4, 64)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// fmtCount prints large counts readably: 3000000 -> 3M, 20000 -> 20k.
func fmtCount(x float64) string {
	switch {
	case x >= 1e6 && math.Mod(x, 1e5) == 0:
		return fmtNum(x/1e6) + "M"
	case x >= 1e3 && math.Mod(x, 100) == 0:
		return fmtNum(x/1e3) + "k"
	}
	return fmtNum(x)
}

// plural returns "n word" or "n words".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
