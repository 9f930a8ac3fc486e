package stacks

import (
	"fmt"
	"slices"
	"testing"
)

// prefixListRules maps each security group (by logical ID) to the distinct rules (protocol and ports) by which it
// admits prefixList, over all the given templates' ingress rules (ingressRules: inline and separate
// AWS::EC2::SecurityGroupIngress alike). A deploy from one template to the next can hold the union of both at once:
// CloudFormation may add a group's new rule before it revokes the old one.
func prefixListRules(prefixList string, templates ...map[string][]map[string]interface{}) map[string][]string {
	out := map[string][]string{}
	for _, rules := range templates {
		for group, rs := range rules {
			for _, r := range rs {
				if r["SourcePrefixListId"] != prefixList {
					continue
				}
				rule := fmt.Sprintf("%v %v-%v", r["IpProtocol"], r["FromPort"], r["ToPort"])
				if !slices.Contains(out[group], rule) {
					out[group] = append(out[group], rule)
				}
			}
		}
	}
	return out
}

// overQuota lists the groups that reference prefixList more than once in the union of the templates' rules: the
// CloudFront origin-facing list weighs 55 of a group's 60 inbound rules (admitCloudFront), so a second reference
// fails the deploy (RulesPerSecurityGroupLimitExceeded).
func overQuota(prefixList string, templates ...map[string][]map[string]interface{}) []string {
	var out []string
	for group, rules := range prefixListRules(prefixList, templates...) {
		if len(rules) > 1 {
			out = append(out, fmt.Sprintf("%s admits the list by %v", group, rules))
		}
	}
	slices.Sort(out)
	return out
}

// TestOverQuotaSeesAPortChangeInOneGroup: the check behind checkPrefixListOncePerGroup finds the shape the domain
// path used to have (one group moving its CloudFront rule from 80 to 443 between deploys), and accepts a rule that
// stays as it is or moves to another group.
func TestOverQuotaSeesAPortChangeInOneGroup(t *testing.T) {
	const list = "pl-3b927c52"
	rule := func(port float64) map[string]interface{} {
		return map[string]interface{}{"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "SourcePrefixListId": list}
	}
	http := map[string][]map[string]interface{}{"AlbGroup": {rule(80)}}
	httpsSameGroup := map[string][]map[string]interface{}{"AlbGroup": {rule(443)}}
	httpsOwnGroup := map[string][]map[string]interface{}{"AlbGroup": nil, "HttpsGroup": {rule(443)}}
	if got := overQuota(list, http, httpsSameGroup); len(got) != 1 {
		t.Errorf("a group moving its rule from 80 to 443 is not reported: %v", got)
	}
	if got := overQuota(list, http, http); len(got) != 0 {
		t.Errorf("an unchanged rule is reported: %v", got)
	}
	if got := overQuota(list, http, httpsOwnGroup); len(got) != 0 {
		t.Errorf("443 in a group of its own is reported: %v", got)
	}
	if got := overQuota("pl-other", http, httpsSameGroup); len(got) != 0 {
		t.Errorf("rules for another prefix list are counted: %v", got)
	}
}

// checkPrefixListOncePerGroup: across each deploy of adding a domain (no domain → bridge, bridge → final), no
// security group of compute references CloudFront's origin-facing list more than once in the union of its rules
// before and after, and the group admitting 443 keeps its logical ID from the bridge to the final template (the
// final deploy leaves it alone; a stage created with its domain has it under the same ID).
func checkPrefixListOncePerGroup(t *testing.T, from, bridge, to *H2oStage, prefixList string) {
	t.Helper()
	noDomain, bridged, final := ingressRules(t, from.Compute.Stack), ingressRules(t, bridge.Compute.Stack), ingressRules(t, to.Compute.Stack)
	for _, step := range []struct {
		name         string
		before, next map[string][]map[string]interface{}
	}{{"no domain -> bridge", noDomain, bridged}, {"bridge -> final", bridged, final}} {
		if over := overQuota(prefixList, step.before, step.next); len(over) > 0 {
			t.Errorf("%s: a security group references %s more than once during the deploy: %v", step.name, prefixList, over)
		}
	}
	httpsGroup := func(name string, rules map[string][]map[string]interface{}) string {
		var groups []string
		for group, rs := range prefixListRules(prefixList, rules) {
			if slices.Contains(rs, "tcp 443-443") {
				groups = append(groups, group)
			}
		}
		if len(groups) != 1 {
			t.Errorf("%s: %d groups admit %s on 443 (%v), want 1", name, len(groups), prefixList, groups)
			return ""
		}
		return groups[0]
	}
	if b, f := httpsGroup("bridge", bridged), httpsGroup("final", final); b != f {
		t.Errorf("the HTTPS origin's group is %s in the bridge and %s in the final template: the final deploy would replace it", b, f)
	}
	if got := prefixListRules(prefixList, noDomain); len(got) != 1 {
		t.Errorf("without a domain %d groups admit %s (%v), want the load balancer's own group on 80", len(got), prefixList, got)
	}
}
