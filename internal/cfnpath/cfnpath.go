// Package cfnpath reads values out of a parsed CloudFormation template (JSON decoded into maps), for the tools
// that read synthesized templates without the CDK (`make cost`, `make timing`).
package cfnpath

import "strings"

// Get returns the value at a dotted path of map keys ("Properties.DesiredCount"), or nil when a step is missing
// or not a map.
func Get(v any, path string) any {
	for _, part := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[part]
	}
	return v
}
