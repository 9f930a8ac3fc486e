// Package cfnpath reads values out of a parsed CloudFormation template (JSON decoded into maps and lists), for
// the tools that read synthesized templates without the CDK (`make cost`, `make timing`) and for the tests.
package cfnpath

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Get returns the value at a dotted path of map keys and list indexes ("Properties.Origins.0.Id"), or nil when a
// step is missing or of the wrong shape.
func Get(v any, path string) any {
	found, _ := Walk(v, path)
	return found
}

// Walk follows a dotted path of map keys and list indexes; when a step cannot be taken the error says which and
// where it stopped. The empty path is v itself.
func Walk(v any, path string) (any, error) {
	if path == "" {
		return v, nil
	}
	segments := strings.Split(path, ".")
	for i, seg := range segments {
		here := strings.Join(segments[:i], ".")
		if here == "" {
			here = "the top"
		}
		switch x := v.(type) {
		case map[string]any:
			next, ok := x[seg]
			if !ok {
				return nil, fmt.Errorf("no key %q at %s (keys %v)", seg, here, slices.Sorted(maps.Keys(x)))
			}
			v = next
		case []any:
			n, err := strconv.Atoi(seg)
			if err != nil || n < 0 || n >= len(x) {
				return nil, fmt.Errorf("no index %q at %s (a list of %d)", seg, here, len(x))
			}
			v = x[n]
		default:
			return nil, fmt.Errorf("want a map or a list at %s, got %T", here, v)
		}
	}
	return v, nil
}
