// Package scripts tests the scripts in scripts/ offline: fake aws, docker, npx, curl and git executables (this
// test binary, linked under those names) log their argv and answer from canned rules. Every distinct AWS call
// of every script is also collected and compared with the golden file testdata/aws-calls.txt (golden_test.go).
package scripts

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"h2o-infra/config"
)

const fakeConfigEnv = "H2O_FAKE_CONFIG"

var fakeNames = []string{"aws", "docker", "npx", "curl", "git"}

// TestMain turns this binary into a fake command when the scripts run it under a fake's name; otherwise it runs
// the tests, then compares the AWS calls they saw with the golden file (when the whole package ran).
func TestMain(m *testing.M) {
	if cfg := os.Getenv(fakeConfigEnv); cfg != "" {
		os.Exit(fakeMain(cfg))
	}
	os.Exit(runWithGolden(m))
}

// rule is one canned answer: the first rule whose Cmd matches and whose Args all occur in argv answers,
// Times times (0: every time).
type rule struct {
	Cmd    string   `json:"cmd"`
	Args   []string `json:"args"`
	Stdout string   `json:"stdout"`
	Stderr string   `json:"stderr"`
	Exit   int      `json:"exit"`
	Times  int      `json:"times"`
}

type fakeConfig struct {
	Log   string `json:"log"`
	Rules []rule `json:"rules"`
	// Golden collects "<script> aws <service> <command>" lines, the script being the one that made the call.
	Golden string `json:"golden"`
}

// fakeMain logs one line per call (name and arguments, tab-separated, a newline in an argument as \n; the token
// read by --password-stdin as <stdin:...>, a file:// argument as file://<its content>), then answers from the
// rules; default: exit 0.
func fakeMain(cfgPath string) int {
	var cfg fakeConfig
	data, err := os.ReadFile(cfgPath)
	if err == nil {
		err = json.Unmarshal(data, &cfg)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake:", err)
		return 99
	}
	name, args := filepath.Base(os.Args[0]), os.Args[1:]
	logged := append([]string{name}, args...)
	for i, a := range logged {
		if path, ok := strings.CutPrefix(a, "file://"); ok {
			content, _ := os.ReadFile(path)
			a = "file://" + strings.TrimSpace(string(content))
		}
		logged[i] = strings.ReplaceAll(a, "\n", `\n`) // one line per call
	}
	if contains(args, "--password-stdin") {
		in, _ := io.ReadAll(os.Stdin) // waits for the writer to finish, so the log order is deterministic
		logged = append(logged, "<stdin:"+strings.TrimSpace(string(in))+">")
	}
	f, err := os.OpenFile(cfg.Log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake:", err)
		return 99
	}
	fmt.Fprintln(f, strings.Join(logged, "\t"))
	f.Close()
	if name == "aws" && cfg.Golden != "" {
		recordAWSCall(cfg.Golden, args)
	}

	for i, r := range cfg.Rules {
		if r.Cmd != name || !containsAll(args, r.Args) {
			continue
		}
		if r.Times > 0 {
			counter := fmt.Sprintf("%s.rule%d", cfg.Log, i)
			raw, _ := os.ReadFile(counter)
			used, _ := strconv.Atoi(string(raw))
			if used >= r.Times {
				continue
			}
			os.WriteFile(counter, []byte(strconv.Itoa(used+1)), 0o644)
		}
		fmt.Fprint(os.Stdout, r.Stdout)
		fmt.Fprint(os.Stderr, r.Stderr)
		return r.Exit
	}
	return 0
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func containsAll(list, want []string) bool {
	for _, w := range want {
		if !contains(list, w) {
			return false
		}
	}
	return true
}

// harness runs one script with the fakes first on PATH and a minimal environment.
type harness struct {
	t       *testing.T
	dir     string
	backend string
	rules   []rule
	env     map[string]string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, sub := range []string{"bin", "backend"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range fakeNames {
		if err := os.Symlink(exe, filepath.Join(dir, "bin", name)); err != nil {
			t.Fatal(err)
		}
	}
	return &harness{t: t, dir: dir, backend: filepath.Join(dir, "backend"), env: map[string]string{
		"AWS_ACCOUNT_ID": account,
		"BACKEND_DIR":    filepath.Join(dir, "backend"),
		"SMOKE_DELAY":    "0",
	}}
}

// on adds a rule answering every matching call.
func (h *harness) on(cmd string, args []string, stdout string, exit int) *harness {
	h.rules = append(h.rules, rule{Cmd: cmd, Args: args, Stdout: stdout, Exit: exit})
	return h
}

// onErr adds a rule answering every matching call with stderr and an exit code (an AWS error).
func (h *harness) onErr(cmd string, args []string, stderr string, exit int) *harness {
	h.rules = append(h.rules, rule{Cmd: cmd, Args: args, Stderr: stderr, Exit: exit})
	return h
}

// onTimes adds a rule answering the first n matching calls.
func (h *harness) onTimes(n int, cmd string, args []string, stdout string, exit int) *harness {
	h.rules = append(h.rules, rule{Cmd: cmd, Args: args, Stdout: stdout, Exit: exit, Times: n})
	return h
}

// missingImage: ECR answers describe-images (with args among its arguments) as the AWS CLI does for a tag that is
// not in the repository, the first n times (0: every time).
func (h *harness) missingImage(n int, args ...string) *harness {
	h.rules = append(h.rules, rule{Cmd: "aws", Args: append([]string{"describe-images"}, args...), Exit: 254, Times: n,
		Stderr: "An error occurred (ImageNotFoundException) when calling the DescribeImages operation: The image with " +
			"imageId {imageDigest:'null', imageTag:'x'} does not exist within the repository with name 'h2o-backend'\n"})
	return h
}

type result struct {
	stdout, stderr string
	code           int
	calls          [][]string
}

func (h *harness) run(script string, args ...string) result {
	h.t.Helper()
	logPath := filepath.Join(h.dir, "calls.log")
	cfgPath := filepath.Join(h.dir, "fake.json")
	data, err := json.Marshal(fakeConfig{Log: logPath, Rules: h.rules, Golden: goldenLog})
	if err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, data, 0o644); err != nil {
		h.t.Fatal(err)
	}
	path, err := filepath.Abs(script)
	if err != nil {
		h.t.Fatal(err)
	}
	// Go's test cache tracks the files a test opens, not what bash reads: open what runs, so that a changed
	// script reruns the tests instead of reporting a cached "ok".
	for _, f := range []string{script, "common.sh"} {
		if _, err := os.ReadFile(f); err != nil {
			h.t.Fatal(err)
		}
	}
	cmd := exec.Command(path, args...)
	cmd.Env = []string{
		"PATH=" + filepath.Join(h.dir, "bin") + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + h.dir,
		"LC_ALL=C",
		fakeConfigEnv + "=" + cfgPath,
	}
	for k, v := range h.env {
		if v != "" {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	code := 0
	if exitErr, ok := err.(*exec.ExitError); ok {
		code = exitErr.ExitCode()
	} else if err != nil {
		h.t.Fatal(err)
	}
	res := result{stdout: stdout.String(), stderr: stderr.String(), code: code}
	if raw, err := os.ReadFile(logPath); err == nil {
		for _, line := range strings.Split(strings.TrimRight(string(raw), "\n"), "\n") {
			res.calls = append(res.calls, strings.Split(line, "\t"))
		}
	}
	os.Remove(logPath)
	return res
}

func (r result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "exit %d\n--- stdout\n%s--- stderr\n%s--- calls\n", r.code, r.stdout, r.stderr)
	for _, c := range r.calls {
		fmt.Fprintln(&b, strings.Join(c, " "))
	}
	return b.String()
}

func expectCode(t *testing.T, r result, want int) {
	t.Helper()
	if r.code != want {
		t.Fatalf("exit code %d, want %d\n%s", r.code, want, r)
	}
}

func expectCalls(t *testing.T, r result, want ...[]string) {
	t.Helper()
	if !reflect.DeepEqual(r.calls, want) {
		var b strings.Builder
		for i := 0; i < len(want) || i < len(r.calls); i++ {
			var got, exp []string
			if i < len(r.calls) {
				got = r.calls[i]
			}
			if i < len(want) {
				exp = want[i]
			}
			mark := "  "
			if !reflect.DeepEqual(got, exp) {
				mark = "!!"
			}
			fmt.Fprintf(&b, "%s got:  %q\n   want: %q\n", mark, got, exp)
		}
		t.Fatalf("calls differ:\n%s\n%s", b.String(), r)
	}
}

// filter keeps the calls that contain every one of words (a command name, a subcommand, an argument).
func filter(c [][]string, words ...string) [][]string {
	var out [][]string
	for _, x := range c {
		if containsAll(x, words) {
			out = append(out, x)
		}
	}
	return out
}

// expectLines: each line occurs in stdout.
func expectLines(t *testing.T, r result, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(r.stdout, l) {
			t.Errorf("missing %q\n%s", l, r)
		}
	}
}

// The contract with the stacks, and the calls the scripts make.
const (
	account  = "123456789012"
	registry = account + ".dkr.ecr.us-east-1.amazonaws.com"
	family   = "h2odevcomputeTaskDefA1B2C3"
	apiURL   = "https://d111111abcdef8.cloudfront.net"
	// What the fake ECR answers for any image: the retag calls pass it on unchanged.
	manifestOf = `{"schemaVersion":2,"config":{"digest":"sha256:TAG"}}`
	mediaType  = "application/vnd.docker.distribution.manifest.v2+json"
)

func migrationArn(stage string) string {
	return "arn:aws:ecs:us-east-1:" + account + ":task-definition/h2o-backend-migrate-" + stage + ":4"
}

func targetGroupArn(stage string) string {
	return "arn:aws:elasticloadbalancing:us-east-1:" + account + ":targetgroup/h2o-" + stage + "-tg/0123456789abcdef"
}

func computeOutputs(stage string) string {
	return strings.Join([]string{
		"ClusterName\th2o-" + stage,
		"ServiceName\th2o-backend-service",
		"TaskDefinitionFamily\t" + family,
		"ContainerName\tbackend",
		"TaskSubnetIds\tsubnet-aaa,subnet-bbb",
		"TaskSecurityGroupId\tsg-0123",
		"AssignPublicIp\tDISABLED",
		"LogGroupName\t/aws/ecs/h2o-backend-" + stage,
		"MigrationTaskDefinitionArn\t" + migrationArn(stage),
		"MinTasks\t1",
		"MaxTasks\t3",
		"TargetGroupArn\t" + targetGroupArn(stage),
	}, "\n") + "\n"
}

// dataOutputs: prod has an AWS Backup plan (BackupVaultName), dev none.
func dataOutputs(stage string) string {
	out := "DatabaseInstanceId\th2o-" + stage + "-postgres\n" +
		"DatabaseSecretArn\t" + secretArn(stage) + "\n"
	if stage == "prod" {
		out += "BackupVaultName\th2o-prod-backup\n"
	}
	return out
}

func secretArn(stage string) string {
	return "arn:aws:secretsmanager:us-east-1:" + account + ":secret:rds!db-" + stage + "-AbCdEf"
}

// edgeOutputs: prod has a WAF (WebAclArn), dev none.
func edgeOutputs(stage string) string {
	out := "ApiUrl\t" + apiURL + "\nDistributionId\tE2ABCDEF\n"
	if stage == "prod" {
		out += "WebAclArn\t" + webACLArn + "\n"
	}
	return out
}

const webACLArn = "arn:aws:wafv2:us-east-1:" + account + ":global/webacl/h2o-prod-waf/1234abcd"

func observabilityOutputs(stage string) string {
	return "AlarmTopicArn\tarn:aws:sns:us-east-1:" + account + ":h2o-" + stage + "-alarms\n" +
		"AlarmTopicName\th2o-" + stage + "-alarms\n" +
		"CanaryAlarmName\th2o-" + stage + "-notification-canary\n"
}

func taskDefArn(rev int) string {
	return fmt.Sprintf("arn:aws:ecs:us-east-1:%s:task-definition/%s:%d", account, family, rev)
}

func imageOf(tag string) string { return registry + "/h2o-backend:" + tag }

func describeStacks(stack string) []string {
	return []string{"aws", "cloudformation", "describe-stacks", "--region", "us-east-1", "--stack-name", stack,
		"--query", "Stacks[0].Outputs[].[OutputKey,OutputValue]", "--output", "text"}
}

func describeServices(stage string) []string {
	return []string{"aws", "ecs", "describe-services", "--region", "us-east-1", "--cluster", "h2o-" + stage,
		"--services", "h2o-backend-service", "--query", "services[0].taskDefinition", "--output", "text"}
}

func describeTaskDef(td string) []string {
	return []string{"aws", "ecs", "describe-task-definition", "--region", "us-east-1", "--task-definition", td,
		"--query", "taskDefinition.[status, containerDefinitions[?name=='backend'] | [0].image]", "--output", "text"}
}

func ecrDescribe(tag string) []string {
	return []string{"aws", "ecr", "describe-images", "--region", "us-east-1", "--repository-name", "h2o-backend",
		"--image-ids", "imageTag=" + tag, "--query", "imageDetails[0].imageDigest", "--output", "text"}
}

// cdkDeployStage: every stack of the stage, the migration task definition on tag; serviceTag only on a first deploy.
func cdkDeployStage(stage, tag, serviceTag string) []string {
	c := []string{"npx", "cdk", "deploy", stage + "/*", "-c", "stage=" + stage, "--require-approval", "never",
		"--parameters", "h2o-" + stage + "-compute:MigrationImageTag=" + tag}
	if serviceTag != "" {
		c = append(c, "--parameters", "h2o-"+stage+"-compute:ImageTag="+serviceTag)
	}
	return c
}

// cdkDeployService: only the compute stack, the service on tag.
func cdkDeployService(stage, tag string) []string {
	return []string{"npx", "cdk", "deploy", stage + "/compute", "--exclusively", "-c", "stage=" + stage,
		"--require-approval", "never", "--parameters", "h2o-" + stage + "-compute:ImageTag=" + tag}
}

func waitStable(stage string) []string {
	return []string{"aws", "ecs", "wait", "services-stable", "--region", "us-east-1", "--cluster", "h2o-" + stage,
		"--services", "h2o-backend-service"}
}

func curlHealth() []string {
	return []string{"curl", "-fsS", "--max-time", "10", "-o", "/dev/null", apiURL + "/health"}
}

var (
	loginPassword = []string{"aws", "ecr", "get-login-password", "--region", "us-east-1"}
	dockerLogin   = []string{"docker", "login", "--username", "AWS", "--password-stdin", registry, "<stdin:ecr-token>"}
)

func dockerBuild(h *harness, tag string) []string {
	return []string{"docker", "buildx", "build", "--platform", "linux/arm64", "--provenance=false", "--tag", imageOf(tag),
		"--push", h.backend}
}

// retag: the three calls that point ECR tag dst at the image tagged src.
func retag(src, dst string) [][]string {
	get := func(field string) []string {
		return []string{"aws", "ecr", "batch-get-image", "--region", "us-east-1", "--repository-name", "h2o-backend",
			"--image-ids", "imageTag=" + src, "--query", "images[0]." + field, "--output", "text"}
	}
	return [][]string{get("imageManifest"), get("imageManifestMediaType"),
		{"aws", "ecr", "put-image", "--region", "us-east-1", "--repository-name", "h2o-backend", "--image-tag", dst,
			"--image-manifest", strings.ReplaceAll(manifestOf, "TAG", src), "--image-manifest-media-type", mediaType,
			"--query", "image.imageId.imageDigest", "--output", "text"}}
}

// moveTags: previous-<stage> to before (when there is one), then live-<stage> to now.
func moveTags(stage, before, now string) [][]string {
	var calls [][]string
	if before != "" {
		calls = append(calls, retag(before, "previous-"+stage)...)
	}
	return append(calls, retag(now, "live-"+stage)...)
}

// images: ECR answers batch-get-image for these tags (any other tag: no image).
func images(h *harness, tags ...string) *harness {
	for _, tag := range tags {
		h.on("aws", []string{"batch-get-image", "imageTag=" + tag, "images[0].imageManifest"},
			strings.ReplaceAll(manifestOf, "TAG", tag)+"\n", 0).
			on("aws", []string{"batch-get-image", "imageTag=" + tag, "images[0].imageManifestMediaType"}, mediaType+"\n", 0)
	}
	return h.on("aws", []string{"batch-get-image"}, "None\n", 0)
}

// deployed: a stage whose service runs revision rev of the family, with image tag runningTag; every stack
// answers its outputs, the database is available and the service awake; ECR knows the images the tests use.
func deployed(h *harness, stage string, rev int, runningTag string) *harness {
	h.on("aws", []string{"describe-stacks", "h2o-" + stage + "-compute"}, computeOutputs(stage), 0).
		on("aws", []string{"describe-stacks", "h2o-" + stage + "-edge"}, edgeOutputs(stage), 0).
		on("aws", []string{"describe-stacks", "h2o-" + stage + "-data"}, dataOutputs(stage), 0).
		on("aws", []string{"describe-stacks", "h2o-" + stage + "-observability"}, observabilityOutputs(stage), 0).
		on("aws", []string{"describe-services"}, taskDefArn(rev)+"\n", 0).
		on("aws", []string{"describe-task-definition", taskDefArn(rev)}, "ACTIVE\t"+imageOf(runningTag)+"\n", 0).
		on("aws", []string{"get-login-password"}, "ecr-token\n", 0).
		on("aws", []string{"describe-db-instances", "DBInstances[0].DBInstanceStatus"}, "available\n", 0).
		on("aws", []string{"describe-scalable-targets"}, "3\n", 0).
		on("aws", []string{"run-task"}, migrationTask(stage)+"\n", 0).
		on("aws", []string{"describe-tasks"}, "Essential container in task exited\t0\n", 0)
	return images(h, "oldsha", "newsha", "prebuilt", "sha5", "sha7", "sha8", "sha9", "shaA", "shaB", "shaZ")
}

var scriptNames = []string{"deploy.sh", "rollback.sh", "migrate.sh", "verify.sh", "restore.sh"}

// usageArgs: the arguments that make a valid command line for script with stage replaced.
func usageArgs(script string, args ...string) []string {
	if script == "restore.sh" && len(args) > 0 {
		return append(args, "--to", "latest")
	}
	return args
}

func TestUsageErrorsExit2(t *testing.T) {
	t.Parallel()
	for _, script := range scriptNames {
		for _, args := range [][]string{{}, {"staging"}, {"Dev"}, {"--bogus", "dev"}, {"dev", "a", "b"}} {
			h := newHarness(t)
			r := h.run(script, usageArgs(script, args...)...)
			expectCode(t, r, 2)
			expectCalls(t, r)
			if r.stdout != "" || !strings.Contains(r.stderr, "--help") {
				t.Errorf("%s %q: want the error on stderr only, pointing at --help\n%s", script, args, r)
			}
		}
		r := newHarness(t).run(script, usageArgs(script, "staging")...)
		if !strings.Contains(r.stderr, "unknown stage 'staging' (known stages: dev, prod)") {
			t.Errorf("%s staging: unclear error\n%s", script, r)
		}
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	for _, script := range scriptNames {
		r := newHarness(t).run(script, "--help")
		expectCode(t, r, 0)
		expectCalls(t, r)
		if !strings.HasPrefix(r.stdout, "Usage: scripts/"+script+" ") {
			t.Errorf("%s --help:\n%s", script, r)
		}
	}
}

func TestDryRunRunsNothing(t *testing.T) {
	t.Parallel()
	cases := []struct {
		script string
		args   []string
		env    map[string]string
		want   []string // lines the output must contain
	}{
		{"deploy.sh", []string{"dev"}, map[string]string{"IMAGE_TAG": "abc123"}, []string{
			"+ aws ecr get-login-password --region us-east-1 | docker login --username AWS --password-stdin " + registry,
			"+ npx cdk deploy 'dev/*' -c stage=dev --require-approval never --parameters h2o-dev-compute:MigrationImageTag=abc123",
			"+ npx cdk deploy dev/compute --exclusively -c stage=dev --require-approval never --parameters h2o-dev-compute:ImageTag=abc123",
			"+ aws ecs wait services-stable --region us-east-1 --cluster h2o-dev --services h2o-backend-service",
		}},
		{"deploy.sh", []string{"prod"}, map[string]string{"AWS_ACCOUNT_ID": "", "ARCH": "amd64"}, []string{
			"+ git -C BACKEND rev-parse HEAD",
			"+ aws sts get-caller-identity --query Account --output text",
			"+ docker buildx build --platform linux/amd64 --provenance=false --tag '<account>.dkr.ecr.us-east-1.amazonaws.com/h2o-backend:<git-sha>' --push BACKEND",
			"+ npx cdk deploy 'prod/*' -c stage=prod --require-approval never --parameters 'h2o-prod-compute:MigrationImageTag=<git-sha>'",
		}},
		{"rollback.sh", []string{"dev"}, nil, []string{
			"+ npx cdk deploy dev/compute --exclusively -c stage=dev --require-approval never --parameters 'h2o-dev-compute:ImageTag=<previous-tag>'",
		}},
		{"rollback.sh", []string{"prod", "abc123"}, nil, []string{
			"+ aws ecr describe-images --region us-east-1 --repository-name h2o-backend --image-ids imageTag=abc123 --query 'imageDetails[0].imageDigest' --output text",
			"+ npx cdk deploy prod/compute --exclusively -c stage=prod --require-approval never --parameters h2o-prod-compute:ImageTag=abc123",
			"+ aws ecr put-image --region us-east-1 --repository-name h2o-backend --image-tag live-prod --image-manifest '<imageManifest>' --image-manifest-media-type '<imageManifestMediaType>' --query image.imageId.imageDigest --output text",
		}},
		{"rollback.sh", []string{"--emergency", "dev"}, nil, []string{
			"+ aws ecs update-service --region us-east-1 --cluster h2o-dev --service h2o-backend-service --task-definition '<TaskDefinitionFamily>:<previous-revision>' --query service.taskDefinition --output text",
		}},
		{"migrate.sh", []string{"prod"}, nil, []string{
			`+ aws ecs run-task --region us-east-1 --cluster h2o-prod --launch-type FARGATE --task-definition '<MigrationTaskDefinitionArn>' --network-configuration '{"awsvpcConfiguration":{"subnets":["<TaskSubnetIds>"],"securityGroups":["<TaskSecurityGroupId>"],"assignPublicIp":"<AssignPublicIp>"}}' --started-by h2o-migrate --query 'tasks[0].taskArn' --output text`,
		}},
		{"verify.sh", []string{"dev"}, nil, []string{
			"+ aws cloudwatch set-alarm-state --region us-east-1 --alarm-name '<CanaryAlarmName>' --state-value ALARM --state-reason 'verify.sh test: alarm delivery check, not an incident'",
			"+ aws secretsmanager describe-secret --region us-east-1 --secret-id '<DatabaseSecretArn>' --query RotationEnabled --output text",
		}},
		{"restore.sh", []string{"dev", "--to", "latest"}, map[string]string{"RESTORE_TARGET": "h2o-dev-postgres-restore-x"}, []string{
			"+ aws rds restore-db-instance-to-point-in-time --region us-east-1 --source-db-instance-identifier h2o-dev-postgres --target-db-instance-identifier h2o-dev-postgres-restore-x --use-latest-restorable-time --db-subnet-group-name '<DBSubnetGroupName>' --vpc-security-group-ids '<VpcSecurityGroupIds>' --db-parameter-group-name '<DBParameterGroupName>' --db-instance-class '<DBInstanceClass>' --no-publicly-accessible --no-multi-az --no-deletion-protection --copy-tags-to-snapshot --tags Key=Purpose,Value=restore Key=Project,Value=h2o Key=Stage,Value=dev Key=ManagedBy,Value=restore.sh --query DBInstance.DBInstanceStatus --output text",
			"+ aws rds modify-db-instance --region us-east-1 --db-instance-identifier h2o-dev-postgres-restore-x --manage-master-user-password --apply-immediately --query DBInstance.DBInstanceStatus --output text",
			"#     aws rds delete-db-instance --region us-east-1 --db-instance-identifier h2o-dev-postgres-restore-x --skip-final-snapshot",
		}},
	}
	for _, c := range cases {
		h := newHarness(t)
		h.env["DRY_RUN"] = "1"
		h.env["BACKEND_DIR"] = "" // the dry run needs no backend directory: the default is printed
		for k, v := range c.env {
			h.env[k] = v
		}
		r := h.run(c.script, c.args...)
		expectCode(t, r, 0)
		if len(r.calls) != 0 {
			t.Fatalf("%s %q: DRY_RUN=1 ran fakes\n%s", c.script, c.args, r)
		}
		lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
		for _, line := range lines {
			if !strings.HasPrefix(line, "+ ") && !strings.HasPrefix(line, "# ") {
				t.Errorf("%s %q: stdout line is not a command: %q", c.script, c.args, line)
			}
		}
		backendDir, _ := filepath.Abs("../backend")
		for _, w := range c.want {
			w = strings.ReplaceAll(w, "BACKEND", backendDir)
			if !contains(lines, w) {
				t.Errorf("%s %q: missing line\n  %s\n%s", c.script, c.args, w, r)
			}
		}
	}
}

func TestMissingStackIsAClearFailure(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ script, stack string }{
		{"rollback.sh", "h2o-dev-compute"}, {"migrate.sh", "h2o-dev-compute"}, {"restore.sh", "h2o-dev-data"},
	} {
		h := newHarness(t).on("aws", []string{"describe-stacks"}, "", 254)
		r := h.run(c.script, usageArgs(c.script, "dev")...)
		expectCode(t, r, 1)
		expectCalls(t, r, describeStacks(c.stack))
		if !strings.Contains(r.stderr, "cannot read the outputs of stack "+c.stack) {
			t.Errorf("%s: unclear error\n%s", c.script, r)
		}
	}
}

// TestScriptStagesMatchTheApp keeps common.sh's stage list in step with the CDK app's config.
func TestScriptStagesMatchTheApp(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("common.sh")
	if err != nil {
		t.Fatal(err)
	}
	want := `STAGES="` + strings.Join(config.Stages(), " ") + `"`
	if !strings.Contains(string(raw), "\n"+want+"\n") {
		t.Errorf("common.sh does not define %s", want)
	}
}

// TestTagPatternIsTheSameEverywhere: the Docker tag pattern of the scripts (common.sh), of the deploy workflow's
// input check and of the compute stack's ImageTag parameter (read as text: the stacks are not imported) is one.
func TestTagPatternIsTheSameEverywhere(t *testing.T) {
	t.Parallel()
	copies := []struct{ file, re string }{
		{"common.sh", `(?m)^TAG_PATTERN='([^']+)'$`},
		{"../.github/workflows/deploy.yml", `printf '%s' "\$tag" \| grep -Eq '([^']+)'`},
		{"../stacks/compute.go", "const dockerTagPattern = `([^`]+)`"},
	}
	var want string
	for _, c := range copies {
		raw, err := os.ReadFile(c.file)
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(c.re).FindAllStringSubmatch(string(raw), -1)
		if len(m) != 1 {
			t.Fatalf("%s: %d tag patterns found, want 1 (%s)", c.file, len(m), c.re)
		}
		if want == "" {
			want = m[0][1]
		} else if m[0][1] != want {
			t.Errorf("%s has the tag pattern %s, common.sh %s", c.file, m[0][1], want)
		}
	}
	// And it is what Docker accepts as a tag: up to 128 characters, not starting with . or -.
	tag := regexp.MustCompile(want)
	for _, ok := range []string{"0123456789abcdef0123456789abcdef01234567", "v1.2.3", "_x", strings.Repeat("a", 128)} {
		if !tag.MatchString(ok) {
			t.Errorf("the tag pattern refuses %q", ok)
		}
	}
	for _, bad := range []string{"", "-x", ".x", "a/b", "a:b", strings.Repeat("a", 129)} {
		if tag.MatchString(bad) {
			t.Errorf("the tag pattern accepts %q", bad)
		}
	}
}

// TestScriptsAreExecutable: the workflows and the runbook run them as scripts/<name>.sh.
func TestScriptsAreExecutable(t *testing.T) {
	t.Parallel()
	for _, script := range scriptNames {
		info, err := os.Stat(script)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode()&0o111 == 0 {
			t.Errorf("%s is not executable", script)
		}
	}
}
