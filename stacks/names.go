package stacks

import "strings"

// Names is every physical name of one stage's resources: the stacks name what they create with it, and h2o-ci
// scopes a stage's deploy role to the same names. Nothing else spells an h2o-<stage>-<x> name.
type Names struct{ Stage string }

func (n Names) of(parts ...string) string {
	return strings.Join(append([]string{"h2o", n.Stage}, parts...), "-")
}

// Stack is a layer's CloudFormation stack: h2o-<stage>-<layer>.
func (n Names) Stack(layer string) string { return n.of(layer) }

// Cluster is the ECS cluster; Service the backend's ECS service in it.
func (n Names) Cluster() string { return n.of() }
func (n Names) Service() string { return "h2o-backend-service" }

// TaskFamily and MigrationFamily are the backend's task definition families.
func (n Names) TaskFamily() string      { return "h2o-backend-" + n.Stage }
func (n Names) MigrationFamily() string { return "h2o-backend-migrate-" + n.Stage }

// BackendRole is the backend's task ("task") or execution ("execution") role.
func (n Names) BackendRole(kind string) string { return n.of("backend", kind) }

// Database is the RDS instance identifier; Cache the ElastiCache replication group id.
func (n Names) Database() string { return n.of("postgres") }
func (n Names) Cache() string    { return n.of("cache") }

// DatabaseRestore prefixes the instances scripts/restore.sh restores into (h2o-<stage>-postgres-restore-<UTC
// yyyymmddHHMM>) and their cutover snapshots.
func (n Names) DatabaseRestore() string { return n.Database() + "-restore-" }

// DatabaseLogGroup is the log group RDS exports one of the instance's logs to (postgresql, upgrade).
func (n Names) DatabaseLogGroup(kind string) string {
	return "/aws/rds/instance/" + n.Database() + "/" + kind
}

// PdfBucketPrefix starts the PDF bucket's name, which CloudFormation generates as <stack>-<logical id>-<random>,
// lowercased for S3 (CloudFormation template reference, "Name type": "MyStack-MyBucket-abcdefghijk1").
func (n Names) PdfBucketPrefix() string { return n.Stack("data") + "-pdfbucket" }

// Secret is a Secrets Manager secret of the stage: h2o/<stage>/<name>.
func (n Names) Secret(name string) string { return "h2o/" + n.Stage + "/" + name }

// AppSecret is the secret of one backend API key: h2o/<stage>/app/<KEY>.
func (n Names) AppSecret(key string) string { return n.Secret("app/" + key) }

// Alarm, Dashboard, Budget and the other named resources of one kind: h2o-<stage>-<name>.
func (n Names) Alarm(name string) string     { return n.of(name) }
func (n Names) Dashboard(name string) string { return n.of(name) }
func (n Names) Resource(name string) string  { return n.of(name) }

// DataKeyAlias names the stage's customer managed data key; StageKeyAlias its key for logs, secrets and
// notifications (stagekey.go).
func (n Names) DataKeyAlias() string  { return "alias/" + n.of("data") }
func (n Names) StageKeyAlias() string { return "alias/" + n.of("stage") }

// WebACL is the stage's CloudFront web ACL; BackupVault its AWS Backup vault.
func (n Names) WebACL() string      { return n.of("api") }
func (n Names) BackupVault() string { return n.of("backups") }

// WafLogGroup is the web ACL's log group: WAF requires the aws-waf-logs- prefix.
func (n Names) WafLogGroup() string { return "aws-waf-logs-" + n.of() }

// BackendLogs and ExecLogs are the log groups of the backend's containers and of ECS Exec sessions.
func (n Names) BackendLogs() string { return "/aws/ecs/h2o-backend-" + n.Stage }
func (n Names) ExecLogs() string    { return "/aws/ecs/h2o-exec-" + n.Stage }

// DeployRole is the stage's GitHub deploy role in h2o-ci (account level); OperatorRole the role people assume
// for the runbook's manual steps.
func (n Names) DeployRole() string   { return n.of("deploy") }
func (n Names) OperatorRole() string { return n.of("operator") }
