package cost

import (
	"fmt"
	"strings"
)

func (e *estimator) secretsManager() {
	var own []string
	for _, s := range e.claim("AWS::SecretsManager::Secret") {
		own = append(own, s.Path())
	}
	e.secrets = append(own, e.secrets...)
	if len(e.secrets) == 0 {
		return
	}
	item := fmt.Sprintf("Secrets Manager ×%d", len(e.secrets))
	vals, ok := e.priced(item, "", "secrets_manager_usd_per_secret_month", "secrets_manager_usd_per_10k_api_calls")
	if !ok {
		return
	}
	n := float64(len(e.secrets))
	e.add(item, fmt.Sprintf("%s secrets × $%s + %s API calls (usage) × $%s/10k [%s]", fmtNum(n), fmtNum(vals[0]),
		fmtCount(e.u.SecretsAPICalls), fmtNum(vals[1]), strings.Join(e.secrets, ", ")),
		n*vals[0]+e.u.SecretsAPICalls/10000*vals[1])
}

func (e *estimator) kms() {
	keys := e.claim("AWS::KMS::Key")
	if len(keys) == 0 && len(e.secrets) == 0 {
		return
	}
	item := fmt.Sprintf("KMS keys ×%d + requests", len(keys))
	if len(keys) == 0 {
		item = "KMS requests (AWS managed keys)"
	}
	vals, ok := e.priced(item, "", "kms_cmk_usd_per_key_month", "kms_requests_usd_per_10k", "kms_free_requests_per_month")
	if !ok {
		return
	}
	n := float64(len(keys))
	free := e.freeShare(vals[2])
	// CloudWatch Logs calls KMS itself for every log group encrypted with a customer managed key (KmsKeyId):
	// requests this stage pays for, by the number of such groups in the templates.
	groups := 0.0
	for _, g := range e.of("AWS::Logs::LogGroup") {
		if g.Prop("KmsKeyId") != nil {
			groups++
		}
	}
	requests := e.u.KMSRequests + groups*e.u.KMSRequestsPerLogGroup
	billable := positive(requests - free)
	used := fmt.Sprintf("%s requests (usage)", fmtCount(e.u.KMSRequests))
	if groups > 0 {
		used = fmt.Sprintf("%s requests (usage) + %s encrypted log groups × %s (usage)", fmtCount(e.u.KMSRequests), fmtNum(groups),
			fmtCount(e.u.KMSRequestsPerLogGroup))
	}
	detail := fmt.Sprintf("%s customer keys × $%s + (%s − %s free share) × $%s/10k", fmtNum(n), fmtNum(vals[0]),
		used, fmtCount(free), fmtNum(vals[1]))
	rot := 0
	for _, k := range keys {
		if r, _ := k.Bool("EnableKeyRotation"); r {
			rot++
		}
	}
	if rot > 0 {
		detail += fmt.Sprintf("; %d with yearly rotation: +$%s/key-month after each of the first two rotations (not in this first-year figure)",
			rot, fmtNum(vals[0]))
	}
	if len(keys) > 0 {
		paths := make([]string, len(keys))
		for i, k := range keys {
			paths[i] = k.Path()
		}
		detail += " [" + strings.Join(paths, ", ") + "]"
	}
	if len(keys) == 0 && billable == 0 {
		return
	}
	e.add(item, detail, n*vals[0]+billable/10000*vals[1])
}
