package config

import (
	"fmt"
	"net/mail"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

var (
	accountRe    = regexp.MustCompile(`^[0-9]{12}$`)
	azRe         = regexp.MustCompile(`^[a-z]{2}-[a-z]+-[0-9][a-z]$`)
	repoRe       = regexp.MustCompile(`^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$`)
	userRe       = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$|^[0-9]+(:[0-9]+)?$`)
	dbClassRe    = regexp.MustCompile(`^db\.[a-z0-9]+\.[a-z0-9]+$`)
	cacheClassRe = regexp.MustCompile(`^cache\.[a-z0-9]+\.[a-z0-9]+$`)
	domainRe     = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
	envNameRe    = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)
	githubRepoRe = regexp.MustCompile(`^https://github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)
	branchRe     = regexp.MustCompile(`^[A-Za-z0-9._/-]{1,100}$`)
	secretNameRe = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]{1,512}$`)
	slackIdRe    = regexp.MustCompile(`^[A-Z0-9]{9,11}$`)
	namespaceRe  = regexp.MustCompile(`^[A-Za-z0-9/_.#:-]{1,255}$`)
	cronRe       = regexp.MustCompile(`^cron\(\S+ \S+ \S+ \S+ \S+ \S+\)$`)
	zoneIdRe     = regexp.MustCompile(`^Z[A-Z0-9]{1,31}$`)
	prefixListRe = regexp.MustCompile(`^pl-[0-9a-f]{8,17}$`)
	pgVersionRe  = regexp.MustCompile(`^1[4-8]\.[0-9]{1,2}$`)
	// AWS ARNs of what the stage may copy to.
	backupVaultArnRe = regexp.MustCompile(`^arn:aws:backup:[a-z0-9-]+:[0-9]{12}:backup-vault:[A-Za-z0-9_.-]{2,50}$`)
	s3BucketArnRe    = regexp.MustCompile(`^arn:aws:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	kmsKeyArnRe      = regexp.MustCompile(`^arn:aws:kms:[a-z0-9-]+:[0-9]{12}:key/[a-f0-9-]{36}$`)
)

// LogRetentionChoices returns the retention values (days) LogRetentionDays accepts.
func LogRetentionChoices() []int { return slices.Clone(logRetentionDays) }

// logRetentionDays are the values CloudWatch Logs accepts (0, "never expire", is left out on purpose).
var logRetentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
	2192, 2557, 2922, 3288, 3653}

// fargateMemory maps each Fargate CPU value to the memory sizes (MiB) AWS accepts with it.
var fargateMemory = map[int][]int{
	256:   {512, 1024, 2048},
	512:   steps(1024, 4096, 1024),
	1024:  steps(2048, 8192, 1024),
	2048:  steps(4096, 16384, 1024),
	4096:  steps(8192, 30720, 1024),
	8192:  steps(16384, 61440, 4096),
	16384: steps(32768, 122880, 8192),
}

func steps(from, to, by int) []int {
	var out []int
	for v := from; v <= to; v += by {
		out = append(out, v)
	}
	return out
}

// Validate returns every problem of c; an empty result means c is safe to build.
func (c *Config) Validate() []error { return c.validate(nil) }

// validate is Validate naming, in each problem, where the value came from (origins).
func (c *Config) validate(origins Origins) []error {
	v := validator{stage: c.Stage, origins: origins}
	v.check(c.Account == "" || accountRe.MatchString(c.Account), "account", c.Account,
		"12 digits, or empty to use the deploying credentials' account")
	c.validateBounds(&v) // every whole-number and enumerated setting (bounds.go)
	c.validateNetwork(&v)
	c.validateCompute(&v)
	c.validateData(&v)
	addr, err := mail.ParseAddress(c.AlarmEmail)
	v.check(err == nil && addr.Address == c.AlarmEmail && strings.Contains(c.AlarmEmail[strings.LastIndex(c.AlarmEmail, "@")+1:], "."),
		"alarmEmail", c.AlarmEmail, "an e-mail address such as ops@example.com")
	c.validateDomain(&v)
	c.validateEdge(&v)
	c.validateObservability(&v)
	return v.errs
}

func (c *Config) validateNetwork(v *validator) {
	azs := strings.Join(c.AvailabilityZones, ",")
	v.check(len(c.AvailabilityZones) >= 2, "availabilityZones", azs,
		"at least 2 zones (Multi-AZ database, cache failover and RDS subnet groups need two)")
	for _, az := range c.AvailabilityZones {
		v.check(azRe.MatchString(az) && strings.HasPrefix(az, c.Region), "availabilityZones", az,
			"zones of "+c.Region+" such as "+c.Region+"a")
	}
	v.check(len(slices.Compact(slices.Sorted(slices.Values(c.AvailabilityZones)))) == len(c.AvailabilityZones),
		"availabilityZones", azs, "distinct zones")
	prefix, err := netip.ParsePrefix(c.VPCCIDR)
	v.check(err == nil && prefix.Addr().Is4() && prefix.Masked() == prefix && prefix.Bits() >= 16 && prefix.Bits() <= 21,
		"vpcCidr", c.VPCCIDR, "an IPv4 network from /16 to /21 (room for three /24 subnet tiers in each AZ)")
}

func (c *Config) validateCompute(v *validator) {
	v.check(c.ContainerUser == "" || userRe.MatchString(c.ContainerUser), "containerUser", c.ContainerUser,
		`a user name, uid or uid:gid, or "" for the image's own USER`)
	c.validateSchedule(v)
}

func (c *Config) validateSchedule(v *validator) {
	v.check((c.ScaleDownCron == "") == (c.ScaleUpCron == ""), "scaleUpCron", c.ScaleUpCron,
		"set together with scaleDownCron (both or neither)")
	for field, expr := range map[string]string{"scaleDownCron": c.ScaleDownCron, "scaleUpCron": c.ScaleUpCron} {
		v.check(expr == "" || cronRe.MatchString(expr), field, expr, "an EventBridge cron expression such as cron(0 20 ? * MON-FRI *)")
	}
	scheduled := c.ScaleDownCron != ""
	_, tzErr := time.LoadLocation(c.ScheduleTimeZone)
	v.check((c.ScheduleTimeZone == "" && !scheduled) || (c.ScheduleTimeZone != "" && tzErr == nil), "scheduleTimeZone",
		c.ScheduleTimeZone, "an IANA time zone such as UTC or Europe/Madrid")
	v.check(!c.StopDatabaseOffHours || scheduled, "stopDatabaseOffHours", "true", "false unless scaleDownCron/scaleUpCron are set")
	v.check(!c.StopDatabaseOffHours || !c.DeletionProtection, "stopDatabaseOffHours", "true",
		"false for a stage with deletion protection (a production database is not stopped)")
	if c.StopDatabaseOffHours && cronRe.MatchString(c.ScaleUpCron) {
		_, err := c.DatabaseStartCron()
		v.check(err == nil, "scaleUpCron", c.ScaleUpCron, fmt.Sprintf("a cron whose minute and hour are plain numbers at least "+
			"dbStartLeadMinutes (%d) after midnight, so the database start can be scheduled that much earlier the same day", c.DBStartLeadMinutes))
	}
}

func (c *Config) validateData(v *validator) {
	v.check(dbClassRe.MatchString(c.DBInstanceClass), "dbInstanceClass", c.DBInstanceClass, "an RDS class such as db.t4g.micro")
	v.check(pgVersionRe.MatchString(c.DBEngineVersion), "dbEngineVersion", c.DBEngineVersion,
		"a full PostgreSQL minor version from 14.x to 18.x such as 17.9 (a bare major lets the instance drift from the template)")
	if retired := postgresRetired(c.DBEngineVersion); retired != "" && pgVersionRe.MatchString(c.DBEngineVersion) {
		major, _, _ := strings.Cut(c.DBEngineVersion, ".")
		n, _ := strconv.Atoi(major)
		v.check(false, "dbEngineVersion", c.DBEngineVersion, fmt.Sprintf("a minor RDS still offers, %s or later: %s", postgresFloor(n), retired))
	}
	v.check(len(c.AppSecretKeys) > 0, "appSecretKeys", "", "at least one key")
	seenKeys := map[string]bool{}
	for _, k := range c.AppSecretKeys {
		v.check(envNameRe.MatchString(k), "appSecretKeys", k, "an environment variable name such as AI_API_KEY")
		v.check(!seenKeys[k], "appSecretKeys", k, "each key once")
		seenKeys[k] = true
	}
	v.check(c.BackupCopyVaultARN == "" || backupVaultArnRe.MatchString(c.BackupCopyVaultARN), "backupCopyVaultArn",
		c.BackupCopyVaultARN, "arn:aws:backup:<region>:<account>:backup-vault:<name>, or empty for no copy")
	v.check(c.BackupCopyVaultARN == "" || (c.BackupPlan && c.CustomerManagedDataKey), "backupCopyVaultArn", c.BackupCopyVaultARN,
		"empty unless backupPlan and customerManagedDataKey are on (copies of an RDS backup to another account need a customer-managed key)")
	v.check(c.PDFReplicationBucketARN == "" || s3BucketArnRe.MatchString(c.PDFReplicationBucketARN), "pdfReplicationBucketArn",
		c.PDFReplicationBucketARN, "arn:aws:s3:::<bucket>, or empty for no replication")
	v.check((c.PDFReplicationKMSKeyARN != "") == (c.PDFReplicationBucketARN != "" && c.CustomerManagedDataKey), "pdfReplicationKmsKeyArn",
		c.PDFReplicationKMSKeyARN, "the destination's KMS key ARN when pdfReplicationBucketArn is set with customerManagedDataKey, empty otherwise")
	v.check(c.PDFReplicationKMSKeyARN == "" || kmsKeyArnRe.MatchString(c.PDFReplicationKMSKeyARN), "pdfReplicationKmsKeyArn",
		c.PDFReplicationKMSKeyARN, "arn:aws:kms:<region>:<account>:key/<id>")
	v.check(cacheClassRe.MatchString(c.CacheNodeType), "cacheNodeType", c.CacheNodeType, "a node type such as cache.t4g.micro")
}

func (c *Config) validateDomain(v *validator) {
	v.check(c.DomainName == "" || domainRe.MatchString(c.DomainName), "domainName", c.DomainName,
		"a lowercase DNS name such as example.com, or empty for no custom domain")
	if c.DomainName != "" {
		v.check(zoneIdRe.MatchString(c.HostedZoneID), "hostedZoneId", c.HostedZoneID,
			"the Route 53 hosted zone id of domainName, such as Z0123456789ABCDEFGHIJ")
	} else {
		v.check(c.HostedZoneID == "", "hostedZoneId", c.HostedZoneID, "empty when domainName is empty")
	}
	v.check(slices.Contains([]string{"", TargetGroupPrimary, TargetGroupAlternate}, c.HTTPOriginTargetGroup), "httpOriginTargetGroup",
		c.HTTPOriginTargetGroup, TargetGroupPrimary+" or "+TargetGroupAlternate+" (the target group holding the live tasks), or empty")
	v.check(c.HTTPOriginTargetGroup == "" || c.DomainName != "", "httpOriginTargetGroup", c.HTTPOriginTargetGroup,
		"empty without domainName: it only bridges the deploy that adds a domain (docs/runbook.md)")
}

func (c *Config) validateEdge(v *validator) {
	v.check(prefixListRe.MatchString(c.CloudFrontPrefixListID), "cloudFrontPrefixListId", c.CloudFrontPrefixListID,
		"a managed prefix list id such as pl-3b927c52 (aws ec2 describe-managed-prefix-lists --filters "+
			"Name=prefix-list-name,Values=com.amazonaws.global.cloudfront.origin-facing)")
	v.check(!c.WAFLogging || c.WAFMode != WAFOff, "wafLogging", "true", "false when wafMode is off (there is no web ACL to log)")
	v.check(c.WAFBodyLimitKiB == 0 || c.WAFMode != WAFOff, "wafBodyLimitKiB", strconv.Itoa(c.WAFBodyLimitKiB),
		"0 when wafMode is off (there is no web ACL to enforce it)")
	v.check(c.FrontendRepository == "" || githubRepoRe.MatchString(c.FrontendRepository), "frontendRepository",
		c.FrontendRepository, "https://github.com/<org>/<repo>, or empty for no Amplify app")
	v.check(branchRe.MatchString(c.FrontendBranch), "frontendBranch", c.FrontendBranch, "a git branch name")
	v.check(secretNameRe.MatchString(c.FrontendTokenSecretName), "frontendTokenSecretName", c.FrontendTokenSecretName,
		"a Secrets Manager secret name")
}

func (c *Config) validateObservability(v *validator) {
	v.check((c.SlackWorkspaceID == "") == (c.SlackChannelID == ""), "slackChannelId", c.SlackChannelID,
		"set together with slackWorkspaceId (both or neither)")
	v.check(c.SlackWorkspaceID == "" || slackIdRe.MatchString(c.SlackWorkspaceID), "slackWorkspaceId", c.SlackWorkspaceID,
		"a Slack workspace id such as T0123ABCD")
	v.check(c.SlackChannelID == "" || slackIdRe.MatchString(c.SlackChannelID), "slackChannelId", c.SlackChannelID,
		"a Slack channel id such as C0123ABCD")
	v.check(namespaceRe.MatchString(c.MetricsNamespace) && !strings.HasPrefix(c.MetricsNamespace, "AWS/"), "metricsNamespace",
		c.MetricsNamespace, "a custom CloudWatch namespace (not AWS/...)")
	v.check(namespaceRe.MatchString(c.AIDurationMetric), "aiDurationMetric", c.AIDurationMetric, "a CloudWatch metric name")
}

type validator struct {
	stage   string
	origins Origins // where each value came from; a problem names it unless it is the default
	errs    []error
}

func (v *validator) check(ok bool, field, value, allowed string) {
	if !ok {
		source := v.origins[field]
		if source == "default" {
			source = ""
		}
		v.errs = append(v.errs, &FieldError{Stage: v.stage, Field: field, Value: value, Allowed: allowed, Source: source})
	}
}

func joinInts(values []int) string {
	parts := make([]string, len(values))
	for i, n := range values {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ", ")
}

// DeployProblems are what may be synthesized but must not be deployed: settings still holding a placeholder.
// Offline synth and `cdk diff` accept them; a deploy refuses them (stacks add a CloudFormation rule, `make deploy`
// checks first).
func (c *Config) DeployProblems() []string {
	var out []string
	if isPlaceholderEmail(c.AlarmEmail) {
		out = append(out, fmt.Sprintf("stage %q: alarmEmail %q is a placeholder: set a real address in %s (or -c %s.alarmEmail=) "+
			"before deploying, or no alarm reaches anyone", c.Stage, c.AlarmEmail, SettingsFile(c.Stage), c.Stage))
	}
	return out
}

// isPlaceholderEmail: an address in a domain reserved for documentation and tests (RFC 2606, RFC 6761), which
// no mail reaches.
func isPlaceholderEmail(address string) bool {
	domain := strings.ToLower(address[strings.LastIndex(address, "@")+1:])
	for _, reserved := range []string{"example.com", "example.net", "example.org"} {
		if domain == reserved || strings.HasSuffix(domain, "."+reserved) {
			return true
		}
	}
	for _, tld := range []string{".example", ".test", ".invalid", ".localhost"} {
		if strings.HasSuffix(domain, tld) {
			return true
		}
	}
	return false
}

// DatabaseStartCron is ScaleUpCron moved DBStartLeadMinutes earlier on the same days: when a stopped database
// starts, so the tasks scaling up at ScaleUpCron find it available.
func (c *Config) DatabaseStartCron() (string, error) {
	fields := strings.Fields(strings.TrimSuffix(strings.TrimPrefix(c.ScaleUpCron, "cron("), ")"))
	if len(fields) != 6 {
		return "", fmt.Errorf("not a 6-field cron: %s", c.ScaleUpCron)
	}
	minute, errM := strconv.Atoi(fields[0])
	hour, errH := strconv.Atoi(fields[1])
	at := hour*60 + minute - c.DBStartLeadMinutes
	if errM != nil || errH != nil || at < 0 {
		return "", fmt.Errorf("cannot move %s %d minutes earlier on the same day", c.ScaleUpCron, c.DBStartLeadMinutes)
	}
	fields[0], fields[1] = strconv.Itoa(at%60), strconv.Itoa(at/60)
	return "cron(" + strings.Join(fields, " ") + ")", nil
}
