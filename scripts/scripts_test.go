// Package scripts tests the scripts in scripts/ offline: fake aws, docker, npx, curl and git executables (the
// program in internal/fake, built once, linked under those names) log their argv and answer from canned rules.
// What the fake AWS answers about the stacks comes from the synthesized CDK app (app_test.go). Every distinct AWS
// call of every script is also collected and compared with the golden file testdata/aws-calls.txt (golden_test.go).
package scripts

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"h2o-infra/config"
	"h2o-infra/scripts/internal/fake"
)

var fakeNames = []string{"aws", "docker", "npx", "curl", "git", "go"}

// fakeBin is the fake program, built by TestMain; configBin is cmd/config, which the fake go runs for
// `go run ./cmd/config` (the app's own settings answer).
var fakeBin, configBin string

// TestMain builds the fake program and synthesizes the app, then runs the tests and compares the AWS calls they
// saw with the golden file (when the whole package ran).
func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "h2o-scripts-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		if fakeBin, err = build(dir, "fake", "h2o-infra/scripts/internal/fake/cmd/fake", filepath.Join("internal", "fake", "cmd", "fake", "main.go")); err != nil {
			fmt.Fprintln(os.Stderr, "building the fake commands:", err)
			return 1
		}
		if configBin, err = build(dir, "config", "h2o-infra/cmd/config", filepath.Join("..", "cmd", "config", "main.go")); err != nil {
			fmt.Fprintln(os.Stderr, "building cmd/config:", err)
			return 1
		}
		if err := synthApp(); err != nil {
			fmt.Fprintln(os.Stderr, "synthesizing the app:", err)
			return 1
		}
		return runWithGolden(m)
	}())
}

// build builds the program of package pkg with the go command that runs the tests, as dir/name.
func build(dir, name, pkg, mainFile string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(dir, name)
	cmd := exec.Command(goBin, "build", "-o", bin, pkg)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%v: %s", err, out)
	}
	// Go's test cache tracks the files a test opens: the programs are built, not imported.
	if _, err := os.ReadFile(mainFile); err != nil {
		return "", err
	}
	return bin, nil
}

// harness runs one script with the fakes first on PATH and a minimal environment.
type harness struct {
	t       *testing.T
	dir     string
	backend string
	rules   []fake.Rule
	env     map[string]string
	cwd     string // where the script runs (default: the test's directory)
}

// emptyValue in harness.env sets the variable to the empty string ("" leaves it unset).
const emptyValue = "\x00empty"

func newHarness(t *testing.T) *harness {
	t.Helper()
	dir := t.TempDir()
	for _, sub := range []string{"bin", "backend"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range fakeNames {
		if err := os.Symlink(fakeBin, filepath.Join(dir, "bin", name)); err != nil {
			t.Fatal(err)
		}
	}
	return &harness{t: t, dir: dir, backend: filepath.Join(dir, "backend"), env: map[string]string{
		"AWS_ACCOUNT_ID":   account,
		"BACKEND_DIR":      filepath.Join(dir, "backend"),
		"SMOKE_DELAY":      "0",
		"AWS_RETRY_DELAY":  "0",
		"STACK_POLL_DELAY": "0",
	}}
}

// fakeSleep makes sleep a fake too (logged, instant): for the scripts that wait a fixed time between looks.
func (h *harness) fakeSleep() *harness {
	if err := os.Symlink(fakeBin, filepath.Join(h.dir, "bin", "sleep")); err != nil {
		h.t.Fatal(err)
	}
	return h
}

// on adds a rule answering every matching call.
func (h *harness) on(cmd string, args []string, stdout string, exit int) *harness {
	h.rules = append(h.rules, fake.Rule{Cmd: cmd, Args: args, Stdout: stdout, Exit: exit})
	return h
}

// onErr adds a rule answering every matching call with stderr and an exit code (an AWS error).
func (h *harness) onErr(cmd string, args []string, stderr string, exit int) *harness {
	h.rules = append(h.rules, fake.Rule{Cmd: cmd, Args: args, Stderr: stderr, Exit: exit})
	return h
}

// onTimes adds a rule answering the first n matching calls.
func (h *harness) onTimes(n int, cmd string, args []string, stdout string, exit int) *harness {
	h.rules = append(h.rules, fake.Rule{Cmd: cmd, Args: args, Stdout: stdout, Exit: exit, Times: n})
	return h
}

// failTimes: the first n matching aws calls (0: every one) fail with the AWS CLI error e.
func (h *harness) failTimes(n int, args []string, e awsError) *harness {
	h.rules = append(h.rules, fake.Rule{Cmd: "aws", Args: args, Stderr: e.stderr, Exit: e.exit, Times: n})
	return h
}

// awsError is how the AWS CLI fails: its message on stderr and its exit status (254: the service answered with
// an error; 255: the CLI failed otherwise, e.g. no connection, or a waiter failed. "AWS CLI return codes",
// https://docs.aws.amazon.com/cli/latest/userguide/cli-usage-returncodes.html).
type awsError struct {
	kind, stderr string
	exit         int
}

// cliError is the CLI's message for a service error: "An error occurred (<Code>) when calling the <Op> operation".
func cliError(kind, code, op, message string) awsError {
	return awsError{kind, fmt.Sprintf("\nAn error occurred (%s) when calling the %s operation: %s\n", code, op, message), 254}
}

// The failures that are no answer: none of them may be read as "not there".
func throttling(op string) awsError {
	return awsError{"throttling", fmt.Sprintf("\nAn error occurred (Throttling) when calling the %s operation (reached max retries: 2): Rate exceeded\n", op), 254}
}

func accessDenied(op string) awsError {
	return cliError("access denied", "AccessDenied", op, "User: arn:aws:sts::"+account+":assumed-role/h2o-dev-deploy/gh is not authorized to perform this action")
}

func expiredToken(op string) awsError {
	return cliError("expired credentials", "ExpiredToken", op, "The security token included in the request is expired")
}

// noCredentials: the CLI finds no credentials (exit 253: "the system environment or configuration was invalid").
func noCredentials(_ string) awsError {
	return awsError{"no credentials", "\nUnable to locate credentials. You can configure credentials by running \"aws configure\".\n", 253}
}

func noNetwork(_ string) awsError {
	return awsError{"network", "\nCould not connect to the endpoint URL: \"https://cloudformation.us-east-1.amazonaws.com/\"\n", 255}
}

// stackNotFound is CloudFormation's answer for an unknown stack name (see scripts/aws.sh, read_stack_status).
func stackNotFound(stack string) awsError {
	return cliError("absent", "ValidationError", "DescribeStacks", "Stack with id "+stack+" does not exist")
}

// waiterError is how an AWS CLI waiter fails: "Waiter <Name> failed: <reason>" (botocore waiter.py), exit 255.
func waiterError(name, reason string) awsError {
	return awsError{"waiter", fmt.Sprintf("\nWaiter %s failed: %s\n", name, reason), 255}
}

// missingImage: ECR answers describe-images (with args among its arguments) as the AWS CLI does for a tag that is
// not in the repository, the first n times (0: every time).
func (h *harness) missingImage(n int, args ...string) *harness {
	return h.failTimes(n, append([]string{"describe-images"}, args...), cliError("absent", "ImageNotFoundException",
		"DescribeImages", "The image with imageId {imageDigest:'null', imageTag:'x'} does not exist within the repository with name 'h2o-backend'"))
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
	data, err := json.Marshal(fake.Config{Log: logPath, Rules: h.rules, Golden: goldenLog, GoRun: map[string]string{"./cmd/config": configBin}})
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
	for _, f := range []string{script, "common.sh", "aws.sh", "guards.sh", "notify.sh", "versions.sh", "drift-rules.txt"} {
		if _, err := os.ReadFile(f); err != nil {
			h.t.Fatal(err)
		}
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = h.cwd
	cmd.Env = []string{
		"PATH=" + filepath.Join(h.dir, "bin") + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + h.dir,
		"LC_ALL=C",
		"TMPDIR=" + h.dir,
		fake.ConfigEnv + "=" + cfgPath,
	}
	for k, v := range h.env {
		switch v {
		case "":
		case emptyValue:
			cmd.Env = append(cmd.Env, k+"=")
		default:
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
		if fake.ContainsAll(x, words) {
			out = append(out, x)
		}
	}
	return out
}

func contains(list []string, s string) bool { return fake.Contains(list, s) }

// expectLines: each line occurs in stdout.
func expectLines(t *testing.T, r result, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(r.stdout, l) {
			t.Errorf("missing %q\n%s", l, r)
		}
	}
}

// expectStderr: each text occurs in stderr.
func expectStderr(t *testing.T, r result, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr lacks %q\n%s", s, r)
		}
	}
}

// The fake account and what the fake ECR answers for any image (the retag calls pass it on unchanged).
const (
	account    = "123456789012"
	registry   = account + ".dkr.ecr.us-east-1.amazonaws.com"
	manifestOf = `{"schemaVersion":2,"config":{"digest":"sha256:TAG"}}`
	mediaType  = "application/vnd.docker.distribution.manifest.v2+json"
)

// Names of a stage, as its synthesized stacks output them.
func clusterOf(stage string) string   { return out(stage, "compute", "ClusterName") }
func serviceOf(stage string) string   { return out(stage, "compute", "ServiceName") }
func familyOf(stage string) string    { return out(stage, "compute", "TaskDefinitionFamily") }
func containerOf(stage string) string { return out(stage, "compute", "ContainerName") }
func migrationArn(stage string) string {
	return out(stage, "compute", "MigrationTaskDefinitionArn")
}
func apiURLOf(stage string) string { return out(stage, "edge", "ApiUrl") }

func taskDefArn(stage string, rev int) string {
	return fmt.Sprintf("arn:aws:ecs:us-east-1:%s:task-definition/%s:%d", account, familyOf(stage), rev)
}

func imageOf(tag string) string { return registry + "/h2o-backend:" + tag }

// statusCall and outputsCall are how the scripts read a stack: its status first, then (when it is ready) its
// outputs; openCalls is both.
func statusCall(stack string) []string {
	return []string{"aws", "cloudformation", "describe-stacks", "--region", "us-east-1", "--stack-name", stack,
		"--query", "Stacks[0].StackStatus", "--output", "text"}
}

func outputsCall(stack string) []string {
	return []string{"aws", "cloudformation", "describe-stacks", "--region", "us-east-1", "--stack-name", stack,
		"--query", "Stacks[0].Outputs[].[OutputKey,OutputValue]", "--output", "text"}
}

func openCalls(stage string, layers ...string) [][]string {
	var c [][]string
	for _, layer := range layers {
		c = append(c, statusCall("h2o-"+stage+"-"+layer), outputsCall("h2o-"+stage+"-"+layer))
	}
	return c
}

// stackResources: the look-up of a stack's resources in one status (the recovery of a stuck stack).
func stackResources(stack, status string) []string {
	return []string{"aws", "cloudformation", "describe-stack-resources", "--region", "us-east-1", "--stack-name", stack,
		"--query", "StackResources[?ResourceStatus=='" + status + "'].LogicalResourceId", "--output", "text"}
}

// leftovers: the look-up of what a failed create left behind.
func leftovers(stack string) []string {
	return []string{"aws", "cloudformation", "describe-stack-resources", "--region", "us-east-1", "--stack-name", stack,
		"--query", "StackResources[?ResourceStatus!='DELETE_COMPLETE'].[LogicalResourceId,ResourceType,PhysicalResourceId,ResourceStatus]",
		"--output", "text"}
}

// deleteFailedResources: the look-up of what blocks the rollback of a failed create (ROLLBACK_FAILED).
func deleteFailedResources(stack string) []string {
	return []string{"aws", "cloudformation", "describe-stack-resources", "--region", "us-east-1", "--stack-name", stack,
		"--query", "StackResources[?ResourceStatus=='DELETE_FAILED'].[LogicalResourceId,ResourceType,PhysicalResourceId,ResourceStatusReason]",
		"--output", "text"}
}

func describeServices(stage string) []string {
	return []string{"aws", "ecs", "describe-services", "--region", "us-east-1", "--cluster", clusterOf(stage),
		"--services", serviceOf(stage), "--query", "services[0].taskDefinition", "--output", "text"}
}

func describeTaskDef(stage, td string) []string {
	return []string{"aws", "ecs", "describe-task-definition", "--region", "us-east-1", "--task-definition", td,
		"--query", "taskDefinition.[status, containerDefinitions[?name=='" + containerOf(stage) + "'] | [0].image]", "--output", "text"}
}

func ecrDescribe(tag string) []string {
	return []string{"aws", "ecr", "describe-images", "--region", "us-east-1", "--repository-name", "h2o-backend",
		"--image-ids", "imageTag=" + tag, "--query", "imageDetails[0].imageDigest", "--output", "text"}
}

// ecrTagsOf: the look-up of the image a marker tag names.
func ecrTagsOf(tag string) []string {
	return []string{"aws", "ecr", "describe-images", "--region", "us-east-1", "--repository-name", "h2o-backend",
		"--image-ids", "imageTag=" + tag, "--query", "imageDetails[0].imageTags", "--output", "text"}
}

// cdkDeployStage: every stack of the stage, the migration task definition on tag, the service on serviceTag (what
// it runs, or on a first deploy the new tag).
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
	return []string{"aws", "ecs", "wait", "services-stable", "--region", "us-east-1", "--cluster", clusterOf(stage),
		"--services", serviceOf(stage)}
}

func curlHealth(stage string) []string {
	return []string{"curl", "-fsS", "--max-time", "10", "-o", "/dev/null", apiURLOf(stage) + "/health"}
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

// stackIs: describe-stacks answers the status of h2o-<stage>-<layer> with status (ABSENT: CloudFormation's "does
// not exist"), the first n times (0: every time). Rules added before deployed() win over its UPDATE_COMPLETE.
func stackIs(h *harness, n int, stage, layer, status string) *harness {
	stack := "h2o-" + stage + "-" + layer
	args := []string{"describe-stacks", stack, "Stacks[0].StackStatus"}
	if status == "ABSENT" {
		return h.failTimes(n, args, stackNotFound(stack))
	}
	return h.onTimes(n, "aws", args, status+"\n", 0)
}

// deployed: a stage whose service runs revision rev of the family, with image tag runningTag; every stack is
// UPDATE_COMPLETE and answers the outputs of its synthesized template, the database is available and the service
// awake; ECR knows the images the tests use.
func deployed(h *harness, stage string, rev int, runningTag string) *harness {
	h.on("aws", []string{"describe-stacks", "Stacks[0].StackStatus"}, "UPDATE_COMPLETE\n", 0)
	placed(h, stage)
	alarmsIn(h, stage)
	for _, layer := range appLayers {
		h.on("aws", []string{"describe-stacks", "h2o-" + stage + "-" + layer, "Stacks[0].Outputs[].[OutputKey,OutputValue]"},
			describeStacksAnswer(stage, layer), 0)
	}
	h.on("aws", []string{"describe-services"}, taskDefArn(stage, rev)+"\n", 0).
		on("aws", []string{"describe-task-definition", taskDefArn(stage, rev)}, "ACTIVE\t"+imageOf(runningTag)+"\n", 0).
		on("aws", []string{"get-login-password"}, "ecr-token\n", 0).
		on("aws", []string{"describe-db-instances", "DBInstances[0].DBInstanceStatus"}, "available\n", 0).
		on("aws", []string{"describe-scalable-targets"}, "3\n", 0).
		on("aws", []string{"run-task"}, migrationTask(stage)+"\n", 0).
		on("aws", []string{"describe-tasks"}, "Essential container in task exited\t0\n", 0)
	return images(h, "oldsha", "newsha", "prebuilt", "sha5", "sha7", "sha8", "sha9", "shaA", "shaB", "shaZ")
}

var scriptNames = []string{"deploy.sh", "rollback.sh", "migrate.sh", "verify.sh", "restore.sh", "drift.sh", "versions.sh"}

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
			"+ npx cdk deploy 'dev/*' -c stage=dev --require-approval never --parameters h2o-dev-compute:MigrationImageTag=abc123 --parameters 'h2o-dev-compute:ImageTag=<previous-tag>'",
			"+ npx cdk deploy dev/compute --exclusively -c stage=dev --require-approval never --parameters h2o-dev-compute:ImageTag=abc123",
			"+ aws ecs wait services-stable --region us-east-1 --cluster h2o-dev --services h2o-backend-service",
		}},
		{"deploy.sh", []string{"prod"}, map[string]string{"AWS_ACCOUNT_ID": "", "ARCH": "amd64"}, []string{
			"+ git -C BACKEND rev-parse HEAD",
			"+ aws sts get-caller-identity --region us-east-1 --query Account --output text",
			"+ docker buildx build --platform linux/amd64 --provenance=false --tag '<account>.dkr.ecr.us-east-1.amazonaws.com/h2o-backend:<git-sha>' --push BACKEND",
			"+ npx cdk deploy 'prod/*' -c stage=prod --require-approval never --parameters 'h2o-prod-compute:MigrationImageTag=<git-sha>' --parameters 'h2o-prod-compute:ImageTag=<previous-tag>'",
		}},
		{"deploy.sh", []string{"--hotfix", "prod"}, map[string]string{"IMAGE_TAG": "abc123"}, []string{
			"+ aws cloudwatch describe-alarms --region us-east-1 --alarm-names '<DeploymentAlarmNames>' --output json",
			"+ npx cdk deploy prod/compute --exclusively -c stage=prod --require-approval never --parameters h2o-prod-compute:ImageTag=abc123",
			"+ aws ecs describe-service-deployments --region us-east-1 --service-deployment-arns '<serviceDeploymentArn>' --query 'serviceDeployments[0].[status,lifecycleStage]' --output text",
			"# on a breach: aws ecs stop-service-deployment --region us-east-1 --service-deployment-arn '<serviceDeploymentArn>' --stop-type ROLLBACK --query serviceDeploymentArn --output text, then scripts/rollback.sh",
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

// TestScriptStagesMatchTheApp keeps common.sh's stage and layer lists in step with the CDK app: its config's
// stages, and the stacks each stage synthesizes (h2o-<stage>-<layer>, in deploy order).
func TestScriptStagesMatchTheApp(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("common.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`STAGES="` + strings.Join(config.Stages(), " ") + `"`, `LAYERS="` + strings.Join(appLayers, " ") + `"`} {
		if !strings.Contains(string(raw), "\n"+want+"\n") {
			t.Errorf("common.sh does not define %s", want)
		}
	}
}

// TestTagPatternIsTheSameEverywhere: the Docker tag pattern of the scripts (common.sh, which the deploy workflow's
// input check scripts/deploy-plan.sh sources) and of the compute stack's ImageTag parameter (read as text) is one.
func TestTagPatternIsTheSameEverywhere(t *testing.T) {
	t.Parallel()
	copies := []struct{ file, re string }{
		{"common.sh", `(?m)^TAG_PATTERN='([^']+)'$`},
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
