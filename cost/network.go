package cost

import (
	"fmt"
	"math"
	"strings"
)

func (e *estimator) loadBalancers() {
	for _, lb := range e.claim("AWS::ElasticLoadBalancingV2::LoadBalancer") {
		typ := lb.Str("Type")
		if typ == "" {
			typ = "application"
		}
		name := "Load balancer " + lb.Path()
		if typ != "application" {
			e.unpriced(name, "load balancer type "+typ+" has no price in the price table (only ALB)")
			continue
		}
		vals, ok := e.priced(name, "", "alb_usd_per_hour", "alb_usd_per_lcu_hour")
		if !ok {
			continue
		}
		h := e.hours()
		usd := h*vals[0] + e.u.AlbLCU*h*vals[1]
		e.add("ALB "+lb.Path(), fmt.Sprintf("%s h × $%s + %s LCU (usage) × %s h × $%s",
			fmtNum(h), fmtNum(vals[0]), fmtNum(e.u.AlbLCU), fmtNum(h), fmtNum(vals[1])), usd)

		scheme := lb.Str("Scheme")
		if scheme == "internal" || lb.Str("IpAddressType") == "dualstack-without-public-ipv4" {
			continue
		}
		n := float64(len(lb.List("Subnets")))
		if m := len(lb.List("SubnetMappings")); m > 0 {
			n = float64(m)
		}
		what := fmt.Sprintf("internet-facing ALB %s (one per subnet)", lb.Path())
		if n == 0 {
			n = 2
			what = fmt.Sprintf("internet-facing ALB %s (subnet list not literal: 2 AZs assumed)", lb.Path())
		}
		e.ipv4 = append(e.ipv4, ipv4Use{what: what, count: n})
	}
}

func (e *estimator) natGateways() {
	c, ok := e.claimLine("AWS::EC2::NatGateway", "NAT gateways", "nat_gateway_usd_per_hour", "nat_gateway_processed_usd_per_gb")
	if !ok {
		return
	}
	h := e.hours()
	usd := c.n()*h*c.p[0] + e.u.NatGB*c.p[1]
	e.add(c.item, fmt.Sprintf("%s × %s h × $%s + %s GB processed (usage) × $%s [%s]",
		fmtNum(c.n()), fmtNum(h), fmtNum(c.p[0]), fmtNum(e.u.NatGB), fmtNum(c.p[1]), paths(c.rs)), usd)
}

// gatewayEndpoints counts the free S3/DynamoDB gateway endpoints; any other endpoint type falls through to
// UNPRICED.
func (e *estimator) gatewayEndpoints() {
	for _, ep := range e.of("AWS::EC2::VPCEndpoint") {
		if typ := ep.Str("VpcEndpointType"); typ == "" || typ == "Gateway" {
			e.markFree(ep)
		}
	}
}

func (e *estimator) elasticIPs() {
	for _, ip := range e.claim("AWS::EC2::EIP") {
		e.ipv4 = append(e.ipv4, ipv4Use{what: "Elastic IP " + ip.Path(), count: 1})
	}
}

// publicIPv4 prices every public IPv4 address found: Elastic IPs (NAT), internet-facing ALB nodes and tasks
// with a public IP.
func (e *estimator) publicIPv4() {
	if len(e.ipv4) == 0 {
		return
	}
	total := 0.0
	var parts []string
	for _, x := range e.ipv4 {
		total += x.count
		parts = append(parts, fmt.Sprintf("%s %s", fmtNum(round4(x.count)), x.what))
	}
	item := "Public IPv4 addresses"
	if total == math.Trunc(total) {
		item += fmt.Sprintf(" ×%s", fmtNum(total))
	}
	v, ok := e.priced(item, "", "public_ipv4_usd_per_hour_per_address")
	if !ok {
		return
	}
	e.add(item, fmt.Sprintf("%s address(es) × %s h × $%s: %s", fmtNum(round4(total)), fmtNum(e.hours()), fmtNum(v[0]),
		strings.Join(parts, "; ")), total*e.hours()*v[0])
}

// crossAZ prices the traffic between tasks and the database/cache across AZs, when the stage has both.
func (e *estimator) crossAZ() {
	if e.services == 0 || len(e.of("AWS::RDS::DBInstance"))+len(e.of("AWS::ElastiCache::ReplicationGroup")) == 0 || e.u.CrossAZGB == 0 {
		return
	}
	v, ok := e.priced("Cross-AZ data transfer", "", "cross_az_transfer_usd_per_gb_each_direction")
	if !ok {
		return
	}
	e.add("Cross-AZ data transfer", fmt.Sprintf("%s GB (usage) between tasks and DB/cache in the other AZ × $%s out + $%s in",
		fmtNum(e.u.CrossAZGB), fmtNum(v[0]), fmtNum(v[0])), e.u.CrossAZGB*2*v[0])
}
