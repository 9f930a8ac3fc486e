package config

import (
	"reflect"
	"testing"
)

// The free-tier shares of the stages sharing one account must add up to one account's allowance, so the
// estimate never counts a free tier twice.
func TestUsageFreeTierSharesAddUpToOneAccount(t *testing.T) {
	var sum FreeTierShare
	for _, stage := range append(Stages(), "account") {
		f := UsageFor(stage).Free
		sum.AlarmMetrics += f.AlarmMetrics
		sum.Dashboards += f.Dashboards
		sum.CustomMetrics += f.CustomMetrics
		sum.LogsGB += f.LogsGB
		sum.CloudFrontGB += f.CloudFrontGB
		sum.CloudFrontRequests += f.CloudFrontRequests
		sum.Budgets += f.Budgets
		sum.KMSRequests += f.KMSRequests
		sum.XRayTraces += f.XRayTraces
	}
	want := FreeTierShare{AlarmMetrics: 10, Dashboards: 3, CustomMetrics: 10, LogsGB: 5, CloudFrontGB: 1024,
		CloudFrontRequests: 10_000_000, Budgets: 2, KMSRequests: 20_000, XRayTraces: 100_000}
	if sum != want {
		t.Errorf("free-tier shares add up to %+v, want one account's %+v", sum, want)
	}
}

func TestUsageValuesArePlausible(t *testing.T) {
	for _, stage := range append(Stages(), "account", "qa") {
		u := UsageFor(stage)
		if u.Stage != stage {
			t.Errorf("UsageFor(%q).Stage = %q", stage, u.Stage)
		}
		if u.HoursPerMonth != 730 || u.LogsStorageCompression <= 0 || u.LogsStorageCompression > 1 {
			t.Errorf("%s: hours %v, compression %v", stage, u.HoursPerMonth, u.LogsStorageCompression)
		}
		v := reflect.ValueOf(u)
		for i := 0; i < v.NumField(); i++ {
			if f := v.Field(i); f.Kind() == reflect.Float64 && f.Float() < 0 {
				t.Errorf("%s: %s is negative", stage, v.Type().Field(i).Name)
			}
		}
	}
	if dev, prod := UsageFor("dev"), UsageFor("prod"); dev.NatGB >= prod.NatGB || dev.CloudFrontRequests >= prod.CloudFrontRequests {
		t.Error("dev should carry less traffic than prod")
	}
	if UsageFor("account").Free != (FreeTierShare{}) {
		t.Error("the account-level stacks claim no free tier: dev and prod split it")
	}
}
