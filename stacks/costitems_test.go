package stacks

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"h2o-infra/cost"
)

// costStage is one stage's resources as the estimator reads them.
type costStage []*cost.Resource

func (rs costStage) of(typ string) costStage {
	var out costStage
	for _, r := range rs {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

func (rs costStage) has(typ string) bool { return len(rs.of(typ)) > 0 }

// refersTo is whether v names the resource by Ref or Fn::GetAtt.
func refersTo(v interface{}, id string) bool {
	raw, _ := json.Marshal(v)
	return strings.Contains(string(raw), `"Ref":"`+id+`"`) || strings.Contains(string(raw), `"Fn::GetAtt":["`+id+`"`)
}

// hasSecrets: secrets of the templates, or RDS-managed master secrets.
func (rs costStage) hasSecrets() bool {
	return rs.has("AWS::SecretsManager::Secret") || slices.ContainsFunc(rs.of("AWS::RDS::DBInstance"), func(db *cost.Resource) bool {
		return db.Prop("ManageMasterUserPassword") == true
	})
}

// logBuckets are the buckets another resource delivers logs to (S3 access logs, ALB access logs, CloudFront logs).
func (rs costStage) logBuckets() costStage {
	var out costStage
	for _, b := range rs.of("AWS::S3::Bucket") {
		for _, r := range rs {
			if refersTo(r.Prop("LoggingConfiguration"), b.ID) || refersTo(r.Prop("LoadBalancerAttributes"), b.ID) ||
				refersTo(r.Prop("DistributionConfig.Logging"), b.ID) {
				out = append(out, b)
				break
			}
		}
	}
	return out
}

// costLineItem is one kind of line of the estimate.
type costLineItem struct {
	name     string // a regular expression the item's name matches from its start
	needs    func(rs costStage) bool
	unpriced bool // listed as UNPRICED, never in the total
}

func (li costLineItem) matches(it cost.Item) bool {
	return regexp.MustCompile("^" + li.name).MatchString(it.Item)
}

// costLineItems are the estimator's line items (by the start of their name) and what in a stage's templates calls
// for each. TestEveryCostLineItemIsPricedWhereTheTemplatesNeedIt holds both ways: an item the templates call for is
// there (dropping it fails), and every item the estimator prints is listed here (a new one must be added).
var costLineItems = []costLineItem{
	{"Fargate service ", func(rs costStage) bool { return rs.has("AWS::ECS::Service") }, false},
	{"Fargate one-off task ", func(rs costStage) bool {
		for _, td := range rs.of("AWS::ECS::TaskDefinition") {
			if !slices.ContainsFunc(rs.of("AWS::ECS::Service"), func(s *cost.Resource) bool { return refersTo(s.Prop("TaskDefinition"), td.ID) }) {
				return true
			}
		}
		return false
	}, false},
	{"Step Functions ", func(rs costStage) bool { return rs.has("AWS::StepFunctions::StateMachine") }, false},
	{"ALB ", func(rs costStage) bool { return rs.has("AWS::ElasticLoadBalancingV2::LoadBalancer") }, false},
	{"NAT gateways ", func(rs costStage) bool { return rs.has("AWS::EC2::NatGateway") }, false},
	{"Public IPv4 addresses", func(rs costStage) bool {
		return rs.has("AWS::EC2::EIP") || slices.ContainsFunc(rs.of("AWS::ECS::Service"), func(s *cost.Resource) bool {
			return s.Prop("NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp") == "ENABLED"
		})
	}, false},
	{"Cross-AZ data transfer", func(rs costStage) bool {
		return rs.has("AWS::ECS::Service") && (rs.has("AWS::RDS::DBInstance") || rs.has("AWS::ElastiCache::ReplicationGroup"))
	}, false},
	{"RDS ", func(rs costStage) bool { return rs.has("AWS::RDS::DBInstance") }, false},
	{"AWS Backup of ", func(rs costStage) bool { return rs.has("AWS::Backup::BackupPlan") }, false},
	{"AWS Backup copies of ", func(rs costStage) bool {
		return slices.ContainsFunc(rs.of("AWS::Backup::BackupPlan"), func(p *cost.Resource) bool {
			return strings.Contains(fmt.Sprint(p.Prop("BackupPlan.BackupPlanRule")), "CopyActions")
		})
	}, false},
	{`AWS Backup \S+ cross-region copy transfer of `, func(rs costStage) bool {
		return slices.ContainsFunc(rs.of("AWS::Backup::BackupPlan"), func(p *cost.Resource) bool {
			return strings.Contains(fmt.Sprint(p.Prop("BackupPlan.BackupPlanRule")), "CopyActions")
		})
	}, true},
	{"ElastiCache ", func(rs costStage) bool { return rs.has("AWS::ElastiCache::ReplicationGroup") }, false},
	{"S3 data buckets ", func(rs costStage) bool { return len(rs.of("AWS::S3::Bucket")) > len(rs.logBuckets()) }, false},
	{"S3 log buckets ", func(rs costStage) bool { return len(rs.logBuckets()) > 0 }, false},
	{"Secrets Manager ", costStage.hasSecrets, false},
	// Customer keys, or the requests to AWS-managed keys that secrets make.
	{"KMS ", func(rs costStage) bool { return rs.has("AWS::KMS::Key") || rs.hasSecrets() }, false},
	{"ECR repositories ", func(rs costStage) bool { return rs.has("AWS::ECR::Repository") }, false},
	{"CloudFront ", func(rs costStage) bool { return rs.has("AWS::CloudFront::Distribution") }, false},
	{"WAF web ACL ", func(rs costStage) bool { return rs.has("AWS::WAFv2::WebACL") }, false},
	{"Route 53 ", func(rs costStage) bool { return rs.has("AWS::Route53::RecordSet") }, false},
	{"Amplify Hosting ", func(rs costStage) bool { return rs.has("AWS::Amplify::App") }, false},
	{"CloudWatch alarms ", func(rs costStage) bool { return rs.has("AWS::CloudWatch::Alarm") }, false},
	{"CloudWatch dashboards ", func(rs costStage) bool { return rs.has("AWS::CloudWatch::Dashboard") }, false},
	{"CloudWatch custom metrics", func(rs costStage) bool { return rs.has("AWS::Logs::MetricFilter") }, false},
	{"CloudWatch Logs ", func(rs costStage) bool { return rs.has("AWS::Logs::LogGroup") }, false},
	{"X-Ray traces", func(rs costStage) bool {
		return slices.ContainsFunc(rs.of("AWS::ECS::TaskDefinition"), func(td *cost.Resource) bool {
			return strings.Contains(fmt.Sprint(td.Prop("ContainerDefinitions")), "xray")
		})
	}, false},
	{"AWS Budgets ", func(rs costStage) bool { return rs.has("AWS::Budgets::Budget") }, false},
	{"Container Insights ", func(rs costStage) bool {
		return slices.ContainsFunc(rs.of("AWS::ECS::Cluster"), func(c *cost.Resource) bool {
			return strings.Contains(fmt.Sprint(c.Prop("ClusterSettings")), "containerInsights")
		})
	}, true},
}

// TestEveryCostLineItemIsPricedWhereTheTemplatesNeedIt runs the estimator (`make cost`) over every synthesized
// assembly of the tests (dev, prod and h2o-ci; the all-options variant; the moved stages): each line item the stage's
// templates call for is in its estimate (an estimator that stops pricing NAT gateways, keys or the WAF fails here),
// every item it prints is one of costLineItems, only the items known to be unpriced are, and every entry of
// costLineItems shows up in some stage.
func TestEveryCostLineItemIsPricedWhereTheTemplatesNeedIt(t *testing.T) {
	prices, err := cost.LoadPrices(filepath.Join("..", cost.DefaultPriceFile))
	if err != nil {
		t.Fatal(err)
	}
	movedStages(t) // synthesized into outdir/moved
	seen := map[string]int{}
	for _, build := range []string{"app", "variant", "moved"} {
		dir := outdir // the app: dev, prod and h2o-ci
		if build != "app" {
			dir = filepath.Join(outdir, build)
		}
		assembly, err := cost.LoadAssembly(dir)
		if err != nil {
			t.Fatal(err)
		}
		report := cost.Estimate(assembly, prices, cost.UsageFor)
		for _, name := range assembly.StageNames() {
			t.Run(build+"/"+name, func(t *testing.T) {
				// GIVEN the stage's resources and its estimate
				var rs costStage
				for _, st := range assembly.Stages[name] {
					for _, id := range sortedKeys(st.Template.Resources) {
						rs = append(rs, st.Template.Resources[id])
					}
				}
				items := report.Stages[name].Items
				// WHEN each line item is looked for THEN it is there exactly when the templates call for it
				for _, li := range costLineItems {
					found := slices.IndexFunc(items, li.matches)
					if li.needs(rs) != (found >= 0) {
						t.Errorf("line item %q: the templates call for it: %v, the estimate has it: %v", li.name, li.needs(rs), found >= 0)
					}
					if found >= 0 {
						seen[li.name]++
					}
				}
				for _, it := range items {
					i := slices.IndexFunc(costLineItems, func(li costLineItem) bool { return li.matches(it) })
					if i < 0 {
						t.Errorf("the estimate prints %q (%s), which costLineItems does not list", it.Item, it.Detail)
						continue
					}
					if it.Unpriced != costLineItems[i].unpriced {
						t.Errorf("%q: unpriced %v, want %v (%s)", it.Item, it.Unpriced, costLineItems[i].unpriced, it.Detail)
					}
				}
			})
		}
	}
	for _, li := range costLineItems {
		if seen[li.name] == 0 {
			t.Errorf("line item %q is in no stage of any build: its entry checks nothing", li.name)
		}
	}
}

// TestREADMEStatesTheCurrentEstimate: README's monthly figures are `make cost`'s for the default config (the app of
// TestMain is the one `cdk synth` builds), so a change that moves a stage's total fails here until README says so.
func TestREADMEStatesTheCurrentEstimate(t *testing.T) {
	prices, err := cost.LoadPrices(filepath.Join("..", cost.DefaultPriceFile))
	if err != nil {
		t.Fatal(err)
	}
	assembly, err := cost.LoadAssembly(outdir)
	if err != nil {
		t.Fatal(err)
	}
	report := cost.Estimate(assembly, prices, cost.UsageFor)
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	figures := regexp.MustCompile(`\*\*dev \$([0-9.]+)\*\*, \*\*prod \$([0-9.]+)\*\*`).FindSubmatch(readme)
	if figures == nil {
		t.Fatal("README.md has no `**dev $…**, **prod $…**` sentence (section Cost)")
	}
	for i, stage := range []string{"dev", "prod"} {
		s, ok := report.Stages[stage]
		if !ok {
			t.Fatalf("the estimate of %s has no stage %s", outdir, stage)
		}
		if want := fmt.Sprintf("%.2f", s.TotalUSDMonth); string(figures[i+1]) != want {
			t.Errorf("README.md says %s costs $%s a month, `make cost` says $%s: update README", stage, figures[i+1], want)
		}
	}
}
