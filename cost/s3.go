package cost

import (
	"fmt"
	"strings"
)

// s3 prices bucket storage from usage: data buckets share S3DataGB, each log bucket holds S3LogGBPerBucket.
func (e *estimator) s3() {
	buckets := e.claim("AWS::S3::Bucket")
	if len(buckets) == 0 {
		return
	}
	var data, logs []*Resource
	for _, b := range buckets {
		if e.isLogBucket(b) {
			logs = append(logs, b)
		} else {
			data = append(data, b)
		}
	}
	v, ok := e.priced(fmt.Sprintf("S3 buckets ×%d", len(buckets)), "", "s3_standard_usd_per_gb_month_first_50tb")
	if !ok {
		return
	}
	p := v[0]
	if len(data) > 0 {
		usd := e.u.S3DataGB * p
		detail := fmt.Sprintf("%s GB Standard (usage) × $%s", fmtNum(e.u.S3DataGB), fmtNum(p))
		if req, ok := e.priced("S3 requests", "", "s3_put_copy_post_list_usd_per_1k_requests", "s3_get_usd_per_1k_requests"); ok {
			usd += e.u.S3PutRequests/1000*req[0] + e.u.S3GetRequests/1000*req[1]
			detail += fmt.Sprintf(" + %s PUT × $%s/1k + %s GET × $%s/1k", fmtCount(e.u.S3PutRequests), fmtNum(req[0]),
				fmtCount(e.u.S3GetRequests), fmtNum(req[1]))
		}
		if anyLifecycleTransition(data) {
			detail += "; lifecycle transitions not modelled (Standard price: an upper bound)"
		}
		e.add(fmt.Sprintf("S3 data buckets ×%d", len(data)), detail+" ["+paths(data)+"]", usd)
	}
	if len(logs) > 0 {
		// S3LogGBPerBucket is what a bucket holds until its logs expire; a versioned bucket keeps each expired log
		// its noncurrent days longer: that many more days of logs.
		buckets, extra := 0.0, []string{}
		for _, b := range logs {
			factor := 1.0
			if expire, kept := lifecycleDays(b); expire > 0 && kept > 0 {
				factor = (expire + kept) / expire
				extra = append(extra, fmt.Sprintf("%s ×%s (noncurrent %s d after %s d)", b.Path(), fmtNum(factor), fmtNum(kept), fmtNum(expire)))
			}
			buckets += factor
		}
		detail := fmt.Sprintf("%s × %s GB (usage) × $%s [%s]", fmtNum(float64(len(logs))), fmtNum(e.u.S3LogGBPerBucket), fmtNum(p), paths(logs))
		if len(extra) > 0 {
			detail += "; versioned: " + strings.Join(extra, ", ")
		}
		e.add(fmt.Sprintf("S3 log buckets ×%d", len(logs)), detail, buckets*e.u.S3LogGBPerBucket*p)
	}
}

// lifecycleDays: a versioned bucket's current-object expiration and noncurrent-version expiration, in days (0
// when either is missing).
func lifecycleDays(b *Resource) (expire, noncurrent float64) {
	if b.Str("VersioningConfiguration.Status") != "Enabled" {
		return 0, 0
	}
	for _, rule := range b.List("LifecycleConfiguration.Rules") {
		m, _ := rule.(map[string]any)
		if d, ok := m["ExpirationInDays"].(float64); ok {
			expire = d
		}
		if nv, ok := m["NoncurrentVersionExpiration"].(map[string]any); ok {
			if d, ok := nv["NoncurrentDays"].(float64); ok {
				noncurrent = d
			}
		}
	}
	return expire, noncurrent
}

func paths(rs []*Resource) string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Path())
	}
	return strings.Join(out, ", ")
}

func anyLifecycleTransition(bs []*Resource) bool {
	for _, b := range bs {
		for _, rule := range b.List("LifecycleConfiguration.Rules") {
			m, _ := rule.(map[string]any)
			if m["Transitions"] != nil || m["Transition"] != nil {
				return true
			}
		}
	}
	return false
}

// isLogBucket: a bucket that receives access logs (S3 server access logs, ALB, CloudFront) or is set up as a
// log-delivery target.
func (e *estimator) isLogBucket(b *Resource) bool {
	if b.Str("AccessControl") == "LogDeliveryWrite" {
		return true
	}
	for _, r := range e.all {
		if r.Stack != b.Stack || r == b {
			continue
		}
		switch r.Type {
		case "AWS::S3::Bucket":
			if refersTo(r.Prop("LoggingConfiguration.DestinationBucketName"), b.ID) {
				return true
			}
		case "AWS::ElasticLoadBalancingV2::LoadBalancer":
			for _, a := range r.List("LoadBalancerAttributes") {
				m, _ := a.(map[string]any)
				if m["Key"] == "access_logs.s3.bucket" && refersTo(m["Value"], b.ID) {
					return true
				}
			}
		case "AWS::CloudFront::Distribution":
			if refersTo(r.Prop("DistributionConfig.Logging.Bucket"), b.ID) {
				return true
			}
		}
	}
	return false
}
