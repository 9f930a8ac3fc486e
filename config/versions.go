package config

import (
	"fmt"
	"strconv"
	"strings"
)

// What AWS retires or does not support, as data, each with its source: validation refuses a stage configured onto
// it, and scripts can read it (VPCOriginUnsupportedAZIDs is for deploy.sh's preflight).

// postgresRetirement is one round of RDS for PostgreSQL minors leaving standard support: from StopsCreating RDS
// refuses new instances on them (a new stage, a restore), and after Ended it upgrades running instances in their
// maintenance window, whatever AutoMinorVersionUpgrade says ("This is a mandatory engine version upgrade, and it
// requires downtime"). Last is the highest retired minor of each major; RDS retires minors oldest first, so every
// minor up to it is gone.
type postgresRetirement struct {
	Ended, StopsCreating string
	Last                 map[int]int // major → highest retired minor
	Source               string
}

// postgresRetirements are the rounds AWS announced by e-mail and AWS Health, as quoted in public threads; the
// release calendar (https://docs.aws.amazon.com/AmazonRDS/latest/PostgreSQLReleaseNotes/postgresql-release-calendar.html)
// lists the same dates. Add the next round when AWS announces it (make test then names every stage configured
// onto one of its minors).
var postgresRetirements = []postgresRetirement{
	{Ended: "2025-03-31", StopsCreating: "2024-12-09", Last: map[int]int{13: 14, 14: 11, 15: 6, 16: 2},
		Source: "AWS notice quoted in aws/aws-cdk#33663"},
	{Ended: "2025-10-31", StopsCreating: "2025-10-01", Last: map[int]int{13: 16, 14: 13, 15: 8, 16: 4},
		Source: "AWS notice quoted in ministryofjustice/modernisation-platform#11245"},
	{Ended: "2026-05-31", StopsCreating: "2026-05-01", Last: map[int]int{14: 17, 15: 12, 16: 8, 17: 4},
		Source: "AWS notice quoted in the saayam-for-all/database wiki, \"AWS RDS instances - Health Checks\" (2026-05-30)"},
}

// postgresRetired says why RDS no longer offers version (major.minor), or "" while it does as far as the rounds
// above know. A version that is not major.minor is left to the format check.
func postgresRetired(version string) string {
	majorText, minorText, ok := strings.Cut(version, ".")
	major, errMajor := strconv.Atoi(majorText)
	minor, errMinor := strconv.Atoi(minorText)
	if !ok || errMajor != nil || errMinor != nil {
		return ""
	}
	for i := len(postgresRetirements) - 1; i >= 0; i-- {
		r := postgresRetirements[i]
		if last, known := r.Last[major]; known && minor <= last {
			return fmt.Sprintf("RDS for PostgreSQL %d.%d and older %d.x minors left standard support on %s: RDS refuses new "+
				"instances on them since %s and upgrades running ones in their maintenance window (%s)",
				major, last, major, r.Ended, r.StopsCreating, r.Source)
		}
	}
	return ""
}

// postgresFloor is the lowest minor of major still offered as far as the rounds know ("" when none retired).
func postgresFloor(major int) string {
	for i := len(postgresRetirements) - 1; i >= 0; i-- {
		if last, known := postgresRetirements[i].Last[major]; known {
			return fmt.Sprintf("%d.%d", major, last+1)
		}
	}
	return ""
}

// ValkeyVersions are the ElastiCache for Valkey versions cacheEngineVersion accepts: what ElastiCache offered when
// cfn-lint 1.51's engine list was generated from the AWS API (cfnlint/data/schemas/extensions/
// aws_elasticache_cachecluster/engine_version.json: 7.2, 8.0, 8.1, 8.2, 9.0). AWS publishes no end-of-life dates
// for Valkey (the only ElastiCache schedule is "End of life schedule for Redis OSS versions"), and node-based
// clusters are never upgraded by AWS ("version upgrades don't occur automatically. You must initiate them":
// ElastiCache developer guide, "Version Management for ElastiCache"). ElastiCache documents 9.1 too; it joins the
// list when the pinned cfn-lint knows it.
var ValkeyVersions = []string{"7.2", "8.0", "8.1", "8.2", "9.0"}

// VPCOriginUnsupportedAZIDs are the availability zone IDs, by region, where CloudFront VPC origins are reported as
// unavailable, so a load balancer (and a stage) must not use them. AWS lists them on "Restrict access with VPC
// origins" (CloudFront developer guide, section "Supported AWS Regions for VPC origins"); that section was not
// retrievable offline, so the list is as two public threads quote it: braintrustdata/
// terraform-aws-braintrust-data-plane#298 (2026-07-22: use1-az3, usw1-az2, apne1-az3, cac1-az3) and
// aws-samples/amazon-bedrock-samples#606 (2025-06-26). Both agree on use1-az3 for us-east-1. Zone names map to
// different zone IDs in each account (AWS Regions and Availability Zones guide, "AZ IDs"), so only a preflight with credentials
// (aws ec2 describe-availability-zones) can check a stage's availabilityZones against it: deploy.sh's preflight.
var VPCOriginUnsupportedAZIDs = map[string][]string{
	"us-east-1":      {"use1-az3"},
	"us-west-1":      {"usw1-az2"},
	"ap-northeast-1": {"apne1-az3"},
	"ca-central-1":   {"cac1-az3"},
}
