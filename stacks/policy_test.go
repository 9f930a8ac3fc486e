package stacks

import (
	"fmt"
	"path"
	"strings"
)

// A small evaluator of the IAM policies in synthesized templates: enough to ask "does this policy let this
// principal do this action on this resource, given these request context keys?" with CloudFormation values
// resolved for a fixed account. Anything it does not understand (an unknown condition operator, an
// unresolvable value) makes a statement not apply, so a test built on it fails closed.

// testAccount stands for the stage's account wherever a template says {"Ref": "AWS::AccountId"}.
const testAccount = "123456789012"

// resolve turns a CloudFormation value into a string: literals, pseudo parameters, Fn::Join; ok is false for
// anything else (a reference to a resource, an import), which the caller compares structurally instead.
func resolve(v interface{}) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case map[string]interface{}:
		if ref, ok := x["Ref"].(string); ok {
			pseudo := map[string]string{"AWS::AccountId": testAccount, "AWS::Region": "us-east-1", "AWS::Partition": "aws",
				"AWS::URLSuffix": "amazonaws.com"}
			s, ok := pseudo[ref]
			return s, ok
		}
		if join, ok := x["Fn::Join"].([]interface{}); ok && len(join) == 2 {
			sep, _ := join[0].(string)
			parts, _ := join[1].([]interface{})
			var out []string
			for _, p := range parts {
				s, ok := resolve(p)
				if !ok {
					return "", false
				}
				out = append(out, s)
			}
			return strings.Join(out, sep), true
		}
	}
	return "", false
}

// globMatch matches IAM wildcards (* and ?), case-sensitively as ARNs and condition values are.
func globMatch(pattern, s string) bool {
	ok, err := path.Match(strings.ReplaceAll(pattern, "/", "\x00"), strings.ReplaceAll(s, "/", "\x00"))
	return err == nil && ok
}

// request is one call to check a policy against.
type request struct {
	service  string      // the calling service principal, e.g. cloudwatch.amazonaws.com
	action   string      // e.g. sns:Publish
	resource interface{} // the resource as the template names it ({"Ref": ...}) or a literal ARN
	context  map[string]string
}

func (r request) String() string {
	return fmt.Sprintf("%s %s on %s with %v", r.service, r.action, mustJSON(r.resource), r.context)
}

// allows reports whether one of the policy document's statements allows r (explicit denies are not modelled:
// the app writes none).
func allows(document interface{}, r request) bool {
	doc, _ := document.(map[string]interface{})
	for _, raw := range list(doc["Statement"]) {
		st, _ := raw.(map[string]interface{})
		if st["Effect"] == "Allow" && principalMatches(st["Principal"], r.service) && actionMatches(st["Action"], r.action) &&
			resourceMatches(st["Resource"], r.resource) && conditionsHold(st["Condition"], r.context) {
			return true
		}
	}
	return false
}

func principalMatches(principal interface{}, service string) bool {
	p, _ := principal.(map[string]interface{})
	for _, s := range list(p["Service"]) {
		if v, ok := resolve(s); ok && v == service {
			return true
		}
	}
	return false
}

func actionMatches(actions interface{}, action string) bool {
	for _, a := range list(actions) {
		if s, ok := a.(string); ok && globMatch(strings.ToLower(s), strings.ToLower(action)) {
			return true
		}
	}
	return false
}

func resourceMatches(resources interface{}, resource interface{}) bool {
	for _, res := range list(resources) {
		if res == "*" || jsonEqual(res, resource) {
			return true
		}
		if pattern, ok := resolve(res); ok {
			if arn, ok := resource.(string); ok && globMatch(pattern, arn) {
				return true
			}
		}
	}
	return false
}

// conditionsHold evaluates the operators the app uses; a key missing from the request context fails.
func conditionsHold(conditions interface{}, context map[string]string) bool {
	blocks, _ := conditions.(map[string]interface{})
	for operator, raw := range blocks {
		keys, _ := raw.(map[string]interface{})
		for key, want := range keys {
			got, present := context[key]
			if !present {
				return false
			}
			matched := false
			for _, w := range list(want) {
				value, ok := resolve(w)
				if !ok {
					return false
				}
				switch operator {
				case "StringEquals", "ArnEquals":
					matched = matched || got == value
				case "StringLike", "ArnLike":
					matched = matched || globMatch(value, got)
				default:
					return false
				}
			}
			if !matched {
				return false
			}
		}
	}
	return true
}
