package cost

import (
	"fmt"
	"math"
	"regexp"
	"strings"
)

var regionPrefix = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d+\.`)

func (e *estimator) loadBalancers() {
	for _, lb := range e.of("AWS::ElasticLoadBalancingV2::LoadBalancer") {
		e.handled[lb] = true
		typ := lb.Str("Type")
		if typ == "" {
			typ = "application"
		}
		name := "Load balancer " + lb.Path()
		if typ != "application" {
			e.unpriced(name, "load balancer type "+typ+" has no price in the price table (only ALB)")
			continue
		}
		vals, missing := e.prices("alb_usd_per_hour", "alb_usd_per_lcu_hour")
		if len(missing) > 0 {
			e.unpriced(name, noKey(missing))
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
	nats := e.of("AWS::EC2::NatGateway")
	if len(nats) == 0 {
		return
	}
	var paths []string
	for _, n := range nats {
		e.handled[n] = true
		paths = append(paths, n.Path())
	}
	vals, missing := e.prices("nat_gateway_usd_per_hour", "nat_gateway_processed_usd_per_gb")
	item := fmt.Sprintf("NAT gateways ×%d", len(nats))
	if len(missing) > 0 {
		e.unpriced(item, noKey(missing))
		return
	}
	h := e.hours()
	n := float64(len(nats))
	usd := n*h*vals[0] + e.u.NatGB*vals[1]
	e.add(item, fmt.Sprintf("%s × %s h × $%s + %s GB processed (usage) × $%s [%s]",
		fmtNum(n), fmtNum(h), fmtNum(vals[0]), fmtNum(e.u.NatGB), fmtNum(vals[1]), strings.Join(paths, ", ")), usd)
}

func (e *estimator) interfaceEndpoints() {
	var azHours float64
	var names []string
	for _, ep := range e.of("AWS::EC2::VPCEndpoint") {
		switch typ := ep.Str("VpcEndpointType"); typ {
		case "", "Gateway":
			e.markFree(ep) // S3/DynamoDB gateway endpoints are free
		case "Interface":
			e.handled[ep] = true
			azs := float64(len(ep.List("SubnetIds")))
			label := endpointService(ep)
			note := ""
			if azs == 0 {
				azs = 2
				note = " (subnet list not literal: 2 assumed)"
			}
			azHours += azs * e.hours()
			names = append(names, fmt.Sprintf("%s×%s AZ%s", label, fmtNum(azs), note))
		default:
			e.handled[ep] = true
			e.unpriced("VPC endpoint "+ep.Path(), "endpoint type "+typ+" has no price in the price table")
		}
	}
	if azHours == 0 {
		return
	}
	vals, missing := e.prices("vpc_interface_endpoint_usd_per_hour_per_az", "vpc_interface_endpoint_processed_usd_per_gb_first_1pb")
	item := fmt.Sprintf("VPC interface endpoints ×%d", len(names))
	if len(missing) > 0 {
		e.unpriced(item, noKey(missing))
		return
	}
	usd := azHours*vals[0] + e.u.InterfaceEndpointGB*vals[1]
	e.add(item, fmt.Sprintf("%s AZ-h × $%s + %s GB (usage) × $%s [%s]", fmtNum(azHours), fmtNum(vals[0]),
		fmtNum(e.u.InterfaceEndpointGB), fmtNum(vals[1]), strings.Join(names, ", ")), usd)
}

// endpointService shortens com.amazonaws.<region>.ecr.api to ecr.api.
func endpointService(ep *Resource) string {
	s := strings.Join(literalStrings(ep.Prop("ServiceName")), "")
	if i := strings.LastIndex(s, "com.amazonaws."); i >= 0 {
		s = s[i+len("com.amazonaws."):]
	}
	s = regionPrefix.ReplaceAllString(s, "")
	s = strings.TrimLeft(s, ".")
	if s == "" {
		return ep.Path()
	}
	return s
}

func (e *estimator) elasticIPs() {
	for _, ip := range e.of("AWS::EC2::EIP") {
		e.handled[ip] = true
		e.ipv4 = append(e.ipv4, ipv4Use{what: "Elastic IP " + ip.Path(), count: 1})
	}
}

// publicIPv4 prices every public IPv4 address found: Elastic IPs (NAT), internet-facing ALB nodes and tasks
// with a public IP.
func (e *estimator) publicIPv4() {
	if len(e.ipv4) == 0 {
		return
	}
	p, ok := e.price("public_ipv4_usd_per_hour_per_address")
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
	if !ok {
		e.unpriced(item, noKey([]string{"public_ipv4_usd_per_hour_per_address"}))
		return
	}
	e.add(item, fmt.Sprintf("%s address(es) × %s h × $%s: %s", fmtNum(round4(total)), fmtNum(e.hours()), fmtNum(p),
		strings.Join(parts, "; ")), total*e.hours()*p)
}

// crossAZ prices the traffic between tasks and the database/cache across AZs, when the stage has both.
func (e *estimator) crossAZ() {
	if e.services == 0 || len(e.of("AWS::RDS::DBInstance"))+len(e.of("AWS::ElastiCache::ReplicationGroup"))+
		len(e.of("AWS::ElastiCache::CacheCluster"))+len(e.of("AWS::ElastiCache::ServerlessCache")) == 0 || e.u.CrossAZGB == 0 {
		return
	}
	p, ok := e.price("cross_az_transfer_usd_per_gb_each_direction")
	if !ok {
		e.unpriced("Cross-AZ data transfer", noKey([]string{"cross_az_transfer_usd_per_gb_each_direction"}))
		return
	}
	e.add("Cross-AZ data transfer", fmt.Sprintf("%s GB (usage) between tasks and DB/cache in the other AZ × $%s out + $%s in",
		fmtNum(e.u.CrossAZGB), fmtNum(p), fmtNum(p)), e.u.CrossAZGB*2*p)
}
