package config

import (
	"strconv"
	"strings"
	"testing"
)

func TestRetiredPostgresMinorsAreRefused(t *testing.T) {
	// GIVEN each stage configured onto PostgreSQL minors around the retirement rounds
	for _, stage := range Stages() {
		for version, want := range map[string]string{
			// WHEN a retired minor is set THEN synth stops naming the stage, the field, the value, the floor and the source
			"17.1": "17.5 or later", "17.4": "17.5 or later", "16.8": "16.9 or later", "16.2": "16.9 or later",
			"15.12": "15.13 or later", "14.17": "14.18 or later",
			// and a minor RDS still offers passes
			"17.5": "", "17.9": "", "16.9": "", "15.13": "", "14.18": "", "18.1": "",
		} {
			_, err := Load(stage, contextOf(map[string]string{stage + ".dbEngineVersion": version}))
			if want == "" {
				if err != nil {
					t.Errorf("%s dbEngineVersion=%s refused: %v", stage, version, err)
				}
				continue
			}
			msg := ""
			if err != nil {
				msg = err.Error()
			}
			for _, part := range []string{`stage "` + stage + `"`, `dbEngineVersion = "` + version + `"`, want, "left standard support on", "AWS notice"} {
				if !strings.Contains(msg, part) {
					t.Errorf("%s dbEngineVersion=%s: error %q lacks %q", stage, version, msg, part)
				}
			}
		}
	}
}

func TestDefaultVersionsAreCurrent(t *testing.T) {
	// GIVEN each stage's defaults WHEN their engine versions are checked THEN none is retired and the PostgreSQL
	// minor is at least what RDS moved the last retired round to (17.7: the 2026-05-31 notice's upgrade target)
	for _, stage := range Stages() {
		c, err := Load(stage, contextOf(nil))
		if err != nil {
			t.Fatal(err)
		}
		if why := postgresRetired(c.DBEngineVersion); why != "" {
			t.Errorf("%s: default %s is retired: %s", stage, c.DBEngineVersion, why)
		}
		major, minor, _ := strings.Cut(c.DBEngineVersion, ".")
		if n, _ := strconv.Atoi(minor); major != "17" || n < 7 {
			t.Errorf("%s: default %s, want 17.7 or later", stage, c.DBEngineVersion)
		}
	}
}

func TestPostgresRetirementsAreOrdered(t *testing.T) {
	// GIVEN the retirement rounds WHEN read in order THEN dates and each major's last retired minor only grow, and
	// every round names its source: a round typed out of order would make postgresRetired report the wrong one
	prev := map[int]int{}
	prevEnd := ""
	for _, r := range postgresRetirements {
		if r.Ended <= prevEnd || r.StopsCreating >= r.Ended || r.Source == "" || len(r.Last) == 0 {
			t.Errorf("round %+v: out of order or without a source", r)
		}
		prevEnd = r.Ended
		for major, last := range r.Last {
			if last < prev[major] {
				t.Errorf("round %s: %d.%d below an earlier round's %d.%d", r.Ended, major, last, major, prev[major])
			}
			prev[major] = last
		}
	}
}

func TestCacheEngineVersionIsAValkeyVersion(t *testing.T) {
	// GIVEN a Valkey version ElastiCache offers and one it does not WHEN loaded THEN only the offered one passes
	if _, err := Load("prod", contextOf(map[string]string{"prod.cacheEngineVersion": "8.1"})); err != nil {
		t.Errorf("8.1 refused: %v", err)
	}
	_, err := Load("prod", contextOf(map[string]string{"prod.cacheEngineVersion": "7.1"}))
	if err == nil || !strings.Contains(err.Error(), `cacheEngineVersion = "7.1"`) || !strings.Contains(err.Error(), "8.0, 8.1") {
		t.Errorf("7.1 (a Redis OSS version) accepted or badly reported: %v", err)
	}
}

func TestVPCOriginUnsupportedZonesAreZoneIDs(t *testing.T) {
	// GIVEN the list the deploy preflight reads WHEN checked THEN every entry is a zone ID (not a name) of its region's
	// prefix, and the design's region has an entry
	prefixes := map[string]string{"us-east-1": "use1-az", "us-west-1": "usw1-az", "ap-northeast-1": "apne1-az", "ca-central-1": "cac1-az"}
	if len(VPCOriginUnsupportedAZIDs["us-east-1"]) == 0 {
		t.Error("no entry for us-east-1")
	}
	for region, ids := range VPCOriginUnsupportedAZIDs {
		for _, id := range ids {
			if prefix, ok := prefixes[region]; !ok || !strings.HasPrefix(id, prefix) {
				t.Errorf("%s: %s is not one of its zone IDs", region, id)
			}
		}
	}
}

func TestHTTPOriginBridgeNeedsADomain(t *testing.T) {
	// GIVEN httpOriginTargetGroup without a domain WHEN loaded THEN it is refused: it only bridges the deploy that adds one
	_, err := Load("dev", contextOf(map[string]string{"dev.httpOriginTargetGroup": TargetGroupPrimary}))
	if err == nil || !strings.Contains(err.Error(), `httpOriginTargetGroup = "primary"`) || !strings.Contains(err.Error(), "empty without domainName") {
		t.Errorf("accepted without a domain or badly reported: %v", err)
	}
}
