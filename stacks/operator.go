package stacks

import (
	"fmt"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecr"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"

	"h2o-infra/config"
)

// operatorSession is how long an operator's credentials last: a point-in-time restore waits from ten minutes
// to hours for RDS (scripts/restore.sh). A session reached by role chaining (an IAM Identity Center session
// assuming this role) lasts at most one hour whatever this says (IAM user guide, "Methods to assume a role":
// "Role chaining limits your AWS CLI or AWS API role session to a maximum of one hour").
const operatorSession = 4 * time.Hour

// newOperatorRole is h2o-<stage>-operator: the role a person assumes for the runbook's manual steps
// (scripts/restore.sh, the PDF bucket's point-in-time recovery, rotating secrets, scaling by hand,
// troubleshooting). Its policy allows exactly the AWS calls docs/runbook.md prints and restore.sh makes
// (TestOperatorRoleAllowsEveryManualCall collects them from those files), each on this stage's resources
// where IAM can name them; the deploy role never gets these rights (docs/runbook.md, "Who may run what").
//
// Trust: principals of this account whose own IAM policy allows sts:AssumeRole on it (the account as principal
// defers to IAM: IAM user guide, "AWS JSON policy elements: Principal"), narrowed to cfg.OperatorPrincipalArns
// when set, and only with MFA unless turned off for IAM Identity Center (config.CI.OperatorRequireMFA).
func newOperatorRole(stack awscdk.Stack, cfg *config.CI, n Names, repo awsecr.Repository) awsiam.Role {
	conditions := map[string]interface{}{}
	if cfg.OperatorRequireMFA {
		// Bool, not BoolIfExists: long-term access keys carry no aws:MultiFactorAuthPresent at all, and
		// BoolIfExists would let them in (IAM user guide, "AWS global condition context keys",
		// aws:MultiFactorAuthPresent).
		conditions["Bool"] = map[string]interface{}{"aws:MultiFactorAuthPresent": "true"}
	}
	if len(cfg.OperatorPrincipalArns) > 0 {
		conditions["ArnLike"] = map[string]interface{}{"aws:PrincipalArn": cfg.OperatorPrincipalArns}
	}
	role := awsiam.NewRole(stack, jsii.String("OperatorRole-"+n.Stage), &awsiam.RoleProps{
		RoleName:           jsii.String(n.OperatorRole()),
		Description:        jsii.String("People running the runbook's manual steps on " + n.Stage + " (restore, PDF recovery, secrets, scaling)"),
		AssumedBy:          awsiam.NewPrincipalWithConditions(awsiam.NewAccountRootPrincipal(), &conditions),
		MaxSessionDuration: awscdk.Duration_Minutes(jsii.Number(operatorSession.Minutes())),
	})
	for _, statement := range operatorPermissions(stack, n, repo) {
		role.AddToPolicy(statement)
	}
	suppressWildcards(role, "The operator acts on resources named per stage with a suffix AWS or restore.sh chooses: "+
		"the stage's stacks (h2o-<stage>-*, by name and stack id), its service's deployments and its alarms (h2o-<stage>-*), restored instances and their snapshots (h2o-<stage>-postgres-restore-*), task definition revisions, tasks of the "+
		"stage's cluster, log streams, the stage's load balancer (by its CloudFormation stack-name tag), the API keys' secrets (h2o/<stage>/app/*), the PDF bucket (CloudFormation names it "+
		"h2o-<stage>-data-pdfbucket*) and its objects. RDS-managed secrets are rds!db-<random> (reads and rotation are "+
		"conditioned on the instance they belong to); KMS keys are addressed through the stage's alias and the calling "+
		"service; a snapshot to restore from, subnet, parameter and option groups are only referenced by a restore. The "+
		"Describe/List/Get calls of ELB, CloudWatch, EC2, Cost Explorer, task definitions, Application Auto Scaling and "+
		"GetRandomPassword have no resource-level permissions.",
		"Resource::*", `/^Resource::arn:.*:stack\/h2o-[a-z]+-\*\/\*$/`, `/^Resource::arn:.*:(db|snapshot):h2o-[a-z]+-postgres-restore-\*$/`, `/^Resource::arn:.*:(snapshot|subgrp|pg|og|auto-backup):\*$/`,
		`/^Resource::arn:.*:task-definition\/h2o-backend-migrate-[a-z]+\*:\*$/`, `/^Resource::arn:.*:task\/h2o-[a-z]+\/\*$/`,
		`/^Resource::arn:.*:log-group:.*\*$/`, `/^Resource::arn:.*:secret:(h2o\/[a-z]+\/.*|rds!db-)\*$/`,
		`/^Resource::arn:.*:s3:::h2o-[a-z]+-data-pdfbucket\*(\/\*)?$/`, `/^Resource::arn:.*:key\/\*$/`,
		`/^Resource::arn:.*:service-deployment\/h2o-[a-z]+\/h2o-backend-service\/\*$/`, `/^Resource::arn:.*:alarm:h2o-[a-z]+-\*$/`,
		`/^Resource::arn:.*:loadbalancer\/app\/\*$/`)
	return role
}

// operatorPermissions are the statements of one stage's operator role; docs/runbook.md names the commands each
// serves.
func operatorPermissions(stack awscdk.Stack, n Names, repo awsecr.Repository) []awsiam.PolicyStatement {
	region, account, partition := *stack.Region(), *stack.Account(), *stack.Partition()
	arn := func(service, resource string) string {
		return fmt.Sprintf("arn:%s:%s:%s:%s:%s", partition, service, region, account, resource)
	}
	allow := func(actions []string, conditions map[string]interface{}, resources ...string) awsiam.PolicyStatement {
		st := awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Actions: jsii.Strings(actions...), Resources: jsii.Strings(resources...)})
		for op, c := range conditions {
			st.AddCondition(jsii.String(op), c)
		}
		return st
	}
	via := func(services ...string) map[string]interface{} {
		var endpoints []string
		for _, s := range services {
			endpoints = append(endpoints, s+"."+region+".amazonaws.com")
		}
		return map[string]interface{}{"kms:ViaService": endpoints}
	}
	live, restores := arn("rds", "db:"+n.Database()), arn("rds", "db:"+n.DatabaseRestore()+"*")
	restoreSnapshots := arn("rds", "snapshot:"+n.DatabaseRestore()+"*")
	cluster := arn("ecs", "cluster/"+n.Cluster())
	onCluster := map[string]interface{}{"ArnEquals": map[string]interface{}{"ecs:cluster": cluster}}
	migrations := arn("ecs", "task-definition/"+n.MigrationFamily()+"*:*") // and its -psql copy (docs/runbook.md)
	dataKey := map[string]interface{}{"kms:ResourceAliases": n.DataKeyAlias()}
	keys := arn("kms", "key/*")
	rdsSecrets := arn("secretsmanager", "secret:rds!db-*")
	ofInstance := func(instance string) map[string]interface{} {
		// RDS tags the secret it manages with its instance's ARN (the tag AWS's own rotation functions read).
		return map[string]interface{}{"StringLike": map[string]interface{}{"secretsmanager:ResourceTag/aws:rds:primaryDBInstanceArn": instance}}
	}
	appKeys, legacyApp := arn("secretsmanager", "secret:"+n.AppSecret("*")), arn("secretsmanager", "secret:"+n.Secret("app")+"-*")
	bucket := fmt.Sprintf("arn:%s:s3:::%s*", partition, n.PdfBucketPrefix())
	passRoles := allow([]string{"iam:PassRole"}, map[string]interface{}{"StringEquals": map[string]interface{}{"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
		fmt.Sprintf("arn:%s:iam::%s:role/%s", partition, account, n.BackendRole("task")),
		fmt.Sprintf("arn:%s:iam::%s:role/%s", partition, account, n.BackendRole("execution")))
	return []awsiam.PolicyStatement{
		// Stack outputs and resources, and the repairs the scripts print (docs/runbook.md, "Stack states"):
		// continue-update-rollback for UPDATE_ROLLBACK_FAILED, delete-stack (--retain-resources) for DELETE_FAILED.
		// DeleteStack cannot remove a stack with termination protection (every prod stack), and this role may not
		// turn it off (CloudFormation user guide, "Protect a stack from being deleted").
		// After a failed first create (layer.go, statefulRemoval; TestEveryDeletionProtectedResourceHasARecovery): the
		// events say which resource failed to delete. Turning the database's or the load balancer's deletion
		// protection off is an administrator's, as is the stack's termination protection (the same setting puts
		// both on): this role never changes the live instance or the load balancer.
		allow([]string{"cloudformation:DescribeStacks", "cloudformation:DescribeStackResources", "cloudformation:DescribeStackEvents",
			"cloudformation:ContinueUpdateRollback", "cloudformation:DeleteStack"}, nil,
			arn("cloudformation", "stack/"+n.Stack("*")+"/*")),
		// restore.sh: the live instance read (and started by hand off hours), restored into a new instance beside it.
		allow([]string{"rds:DescribeDBInstances"}, nil, live, restores),
		allow([]string{"rds:StartDBInstance"}, nil, live),
		allow([]string{"rds:DescribeDBInstanceAutomatedBackups"}, nil, arn("rds", "auto-backup:*")),
		// A restore names its source (the live instance, an automated backup or any snapshot: an AWS Backup
		// recovery point is awsbackup:job-<id>) and the live instance's subnet, parameter and option groups; another
		// stage's encrypted data stays out of reach through its key (kms:CreateGrant below is for this stage's).
		allow([]string{"rds:RestoreDBInstanceToPointInTime", "rds:RestoreDBInstanceFromDBSnapshot"}, nil,
			live, restores, arn("rds", "snapshot:*"), arn("rds", "auto-backup:*"), arn("rds", "subgrp:*"), arn("rds", "pg:*"), arn("rds", "og:*")),
		allow([]string{"rds:AddTagsToResource"}, nil, restores, restoreSnapshots), // --tags on create
		allow([]string{"rds:ModifyDBInstance", "rds:DeleteDBInstance"}, nil, restores),
		allow([]string{"rds:CreateDBSnapshot"}, nil, restores, restoreSnapshots),
		allow([]string{"rds:DescribeDBSnapshots", "rds:DeleteDBSnapshot"}, nil, restoreSnapshots),
		// Restoring an instance on a customer managed key: RDS acts for the caller, who needs kms:CreateGrant and
		// kms:DescribeKey on it, CreateGrant only through RDS (RDS user guide, "AWS KMS key management: Authorizing use
		// of a customer managed key"). The key is named by its alias (KMS developer guide, "Use aliases to control
		// access to KMS keys": kms:ResourceAliases); dev has no such key, so this matches nothing there.
		allow([]string{"kms:CreateGrant"}, map[string]interface{}{"StringEquals": via("rds"), "ForAnyValue:StringEquals": dataKey,
			"Bool": map[string]interface{}{"kms:GrantIsForAWSResource": "true"}}, keys),
		allow([]string{"kms:DescribeKey"}, map[string]interface{}{"StringEquals": via("rds", "secretsmanager")}, keys),
		// SSE-KMS PDFs (prod): reading an old version and writing it back through S3.
		allow([]string{"kms:Decrypt", "kms:GenerateDataKey"}, map[string]interface{}{"StringEquals": via("s3"),
			"ForAnyValue:StringEquals": dataKey}, keys),
		// The restored instance's managed master password: RDS creates the secret as the caller (RDS user guide,
		// "Password management with Amazon RDS and AWS Secrets Manager: Permissions required": kms:DescribeKey,
		// secretsmanager:CreateSecret, secretsmanager:TagResource); only the restored copies' passwords are readable,
		// only the live one's rotates.
		allow([]string{"secretsmanager:CreateSecret", "secretsmanager:TagResource"}, nil, rdsSecrets),
		allow([]string{"secretsmanager:GetSecretValue"}, ofInstance(restores), rdsSecrets),
		allow([]string{"secretsmanager:RotateSecret"}, ofInstance(live), rdsSecrets),
		// The API keys (and the single JSON secret they replace), the cache AUTH token.
		allow([]string{"secretsmanager:GetSecretValue", "secretsmanager:DeleteSecret"}, nil, legacyApp),
		allow([]string{"secretsmanager:PutSecretValue", "secretsmanager:DeleteSecret", "secretsmanager:RestoreSecret"}, nil, appKeys),
		allow([]string{"secretsmanager:PutSecretValue"}, nil, arn("secretsmanager", "secret:"+n.Secret("cache-auth")+"-*")),
		// Moving them to the stage key by hand, checking it kept their versions, and putting a version back.
		allow([]string{"secretsmanager:DescribeSecret", "secretsmanager:UpdateSecret", "secretsmanager:UpdateSecretVersionStage"}, nil,
			appKeys, arn("secretsmanager", "secret:"+n.Secret("cache-auth")+"-*")),
		// Both are encrypted with the stage key: Secrets Manager uses it as the caller, who needs GenerateDataKey
		// and Decrypt on it (Secrets Manager user guide, "Secret encryption and decryption: Permissions for the
		// KMS key"); only through Secrets Manager, and only the stage's key (its alias, as the data key's above).
		allow([]string{"kms:GenerateDataKey", "kms:Decrypt"}, map[string]interface{}{"StringEquals": via("secretsmanager"),
			"ForAnyValue:StringEquals": map[string]interface{}{"kms:ResourceAliases": n.StageKeyAlias()}}, keys),
		allow([]string{"elasticache:ModifyReplicationGroup", "elasticache:DescribeReplicationGroups"}, nil, arn("elasticache", "replicationgroup:"+n.Cache())),
		// One-off tasks of the migration task definition (or its -psql copy) in the stage's cluster; scaling by hand.
		allow([]string{"ecs:RunTask"}, onCluster, migrations),
		allow([]string{"ecs:TagResource"}, nil, migrations),
		passRoles,
		allow([]string{"ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition", "ecs:DeregisterTaskDefinition"}, nil, "*"),
		allow([]string{"ecs:ListTasks"}, onCluster, "*"),
		allow([]string{"ecs:DescribeTasks"}, nil, arn("ecs", "task/"+n.Cluster()+"/*")),
		// An unwatched hotfix (docs/runbook.md, "Hotfix during an incident"): its ECS deployment found, followed and,
		// if bad, stopped with a rollback; the deployment alarms' states.
		allow([]string{"ecs:DescribeServices", "ecs:UpdateService", "ecs:ListServiceDeployments"}, nil, arn("ecs", "service/"+n.Cluster()+"/"+n.Service())),
		allow([]string{"ecs:DescribeServiceDeployments", "ecs:StopServiceDeployment"}, nil,
			arn("ecs", "service-deployment/"+n.Cluster()+"/"+n.Service()+"/*")),
		allow([]string{"cloudwatch:DescribeAlarms"}, nil, arn("cloudwatch", "alarm:"+n.Alarm("*"))),
		allow([]string{"ecs:ExecuteCommand"}, map[string]interface{}{"StringEquals": map[string]interface{}{"ecs:container-name": containerName}},
			cluster, arn("ecs", "task/"+n.Cluster()+"/*")),
		allow([]string{"application-autoscaling:RegisterScalableTarget"}, nil, "*"),
		allow([]string{"logs:FilterLogEvents", "logs:GetLogEvents"}, nil,
			arn("logs", "log-group:"+n.BackendLogs()+":*"), arn("logs", "log-group:"+n.DatabaseLogGroup("*"))),
		// The PDF bucket's point-in-time recovery (docs/runbook.md).
		allow([]string{"s3:ListBucketVersions"}, nil, bucket),
		allow([]string{"s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject"}, nil, bucket+"/*"),
		allow([]string{"backup:ListRecoveryPointsByBackupVault"}, nil, arn("backup", "backup-vault:"+n.BackupVault())),
		allow([]string{"ecr:DescribeImages"}, nil, *repo.RepositoryArn()),
		allow([]string{"secretsmanager:GetRandomPassword", "elasticloadbalancing:DescribeTargetHealth", "cloudwatch:GetMetricStatistics",
			"ec2:DescribeSecurityGroups", "ec2:DescribeNatGateways", "ec2:DescribeAvailabilityZones", "ce:GetCostAndUsage"}, nil, "*"),
	}
}
