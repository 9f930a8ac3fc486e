package cost

import (
	"reflect"
	"testing"
)

// The free-tier shares of the stages sharing one account must add up to one account's allowance, so the
// estimate never counts a free tier twice.
func TestUsageFreeTierSharesAddUpToOneAccount(t *testing.T) {
	stages := sortedKeys(stageUsage) // account, dev, prod
	if over := overclaimedFreeTier(stages, UsageFor); over != "" {
		t.Errorf("the stages claim more than one account's free tier: %s", over)
	}
	if got := freeShareSum(stages, UsageFor); got != 1 {
		t.Errorf("free-tier shares add up to %v, want one account's 1", got)
	}
}

// A stage the usage assumptions do not know (a new config stage) takes dev's share: an assembly with it claims
// dev's free tiers twice, and the report says so.
func TestUnknownStageOverclaimsTheFreeTier(t *testing.T) {
	over := overclaimedFreeTier([]string{"dev", "prod", "qa", AccountStage}, UsageFor)
	if over != "free-tier shares add up to 1.5 (dev 0.5 + prod 0.5 + qa 0.5)" {
		t.Errorf("qa with dev's share should overclaim the free tiers, got %q", over)
	}
}

func TestUsageValuesArePlausible(t *testing.T) {
	for _, stage := range append(sortedKeys(stageUsage), "qa") {
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
	if UsageFor(AccountStage).FreeShare != 0 {
		t.Error("the account-level stacks claim no free tier: dev and prod split it")
	}
}
