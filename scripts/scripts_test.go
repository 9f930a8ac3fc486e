// Package scripts tests deploy.sh, rollback.sh and migrate.sh offline: fake aws, docker, npx, curl and git
// executables (this test binary, linked under those names) log their argv and answer from canned rules.
package scripts

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"h2o-infra/config"
)

const fakeConfigEnv = "H2O_FAKE_CONFIG"

var fakeNames = []string{"aws", "docker", "npx", "curl", "git"}

// TestMain turns this binary into a fake command when the scripts run it under a fake's name.
func TestMain(m *testing.M) {
	if cfg := os.Getenv(fakeConfigEnv); cfg != "" {
		os.Exit(fakeMain(cfg))
	}
	os.Exit(m.Run())
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
}

// fakeMain logs one line per call (name and arguments, tab-separated; the token read by --password-stdin as
// <stdin:...>, a file:// argument as file://<its content>), then answers from the rules; default: exit 0.
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
			logged[i] = "file://" + strings.TrimSpace(string(content))
		}
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

// onTimes adds a rule answering the first n matching calls.
func (h *harness) onTimes(n int, cmd string, args []string, stdout string, exit int) *harness {
	h.rules = append(h.rules, rule{Cmd: cmd, Args: args, Stdout: stdout, Exit: exit, Times: n})
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
	data, err := json.Marshal(fakeConfig{Log: logPath, Rules: h.rules})
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

// callsOf keeps the calls of one command.
func callsOf(r result, name string) [][]string {
	var out [][]string
	for _, c := range r.calls {
		if c[0] == name {
			out = append(out, c)
		}
	}
	return out
}

// The contract with the stacks, and the calls the scripts make.
const (
	account  = "123456789012"
	registry = account + ".dkr.ecr.us-east-1.amazonaws.com"
	family   = "h2odevcomputeTaskDefA1B2C3"
	apiURL   = "https://abc123.execute-api.us-east-1.amazonaws.com"
)

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
	}, "\n") + "\n"
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

func cdkDeploy(stage, tag string) []string {
	return []string{"npx", "cdk", "deploy", stage + "/*", "-c", "stage=" + stage, "-c", "imageTag=" + tag,
		"--require-approval", "never"}
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

// deployed: a stage whose service runs revision rev of the family, with image tag runningTag.
func deployed(h *harness, stage string, rev int, runningTag string) *harness {
	return h.on("aws", []string{"describe-stacks", "h2o-" + stage + "-compute"}, computeOutputs(stage), 0).
		on("aws", []string{"describe-stacks", "h2o-" + stage + "-edge"}, "ApiUrl\t"+apiURL+"\n", 0).
		on("aws", []string{"describe-services"}, taskDefArn(rev)+"\n", 0).
		on("aws", []string{"describe-task-definition", taskDefArn(rev)}, "ACTIVE\t"+imageOf(runningTag)+"\n", 0).
		on("aws", []string{"get-login-password"}, "ecr-token\n", 0)
}

var scriptNames = []string{"deploy.sh", "rollback.sh", "migrate.sh"}

func TestUsageErrorsExit2(t *testing.T) {
	for _, script := range scriptNames {
		for _, args := range [][]string{{}, {"staging"}, {"Dev"}, {"--bogus", "dev"}, {"dev", "a", "b"}} {
			h := newHarness(t)
			r := h.run(script, args...)
			expectCode(t, r, 2)
			expectCalls(t, r)
			if r.stdout != "" || !strings.Contains(r.stderr, "--help") {
				t.Errorf("%s %q: want the error on stderr only, pointing at --help\n%s", script, args, r)
			}
		}
		r := newHarness(t).run(script, "staging")
		if !strings.Contains(r.stderr, "unknown stage 'staging' (known stages: dev, prod)") {
			t.Errorf("%s staging: unclear error\n%s", script, r)
		}
	}
}

func TestHelp(t *testing.T) {
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
	cases := []struct {
		script string
		args   []string
		env    map[string]string
		want   []string // lines the output must contain
	}{
		{"deploy.sh", []string{"dev"}, map[string]string{"IMAGE_TAG": "abc123"}, []string{
			"+ aws ecr get-login-password --region us-east-1 | docker login --username AWS --password-stdin " + registry,
			"+ npx cdk deploy 'dev/*' -c stage=dev -c imageTag=abc123 --require-approval never",
			"+ aws ecs wait services-stable --region us-east-1 --cluster h2o-dev --services h2o-backend-service",
		}},
		{"deploy.sh", []string{"prod"}, map[string]string{"AWS_ACCOUNT_ID": "", "ARCH": "amd64"}, []string{
			"+ git -C BACKEND rev-parse HEAD",
			"+ aws sts get-caller-identity --query Account --output text",
			"+ docker buildx build --platform linux/amd64 --tag '<account>.dkr.ecr.us-east-1.amazonaws.com/h2o-backend:<git-sha>' --push BACKEND",
			"+ npx cdk deploy 'prod/*' -c stage=prod -c 'imageTag=<git-sha>' --require-approval never",
		}},
		{"rollback.sh", []string{"dev"}, nil, []string{
			"+ npx cdk deploy 'dev/*' -c stage=dev -c 'imageTag=<previous-tag>' --require-approval never",
		}},
		{"rollback.sh", []string{"prod", "abc123"}, nil, []string{
			"+ aws ecr describe-images --region us-east-1 --repository-name h2o-backend --image-ids imageTag=abc123 --query 'imageDetails[0].imageDigest' --output text",
			"+ npx cdk deploy 'prod/*' -c stage=prod -c imageTag=abc123 --require-approval never",
		}},
		{"rollback.sh", []string{"--emergency", "dev"}, nil, []string{
			"+ aws ecs update-service --region us-east-1 --cluster h2o-dev --service h2o-backend-service --task-definition '<TaskDefinitionFamily>:<previous-revision>' --query service.taskDefinition --output text",
		}},
		{"migrate.sh", []string{"prod"}, nil, []string{
			`+ aws ecs run-task --region us-east-1 --cluster h2o-prod --launch-type FARGATE --task-definition '<TaskDefinitionFamily>' --network-configuration '{"awsvpcConfiguration":{"subnets":["<TaskSubnetIds>"],"securityGroups":["<TaskSecurityGroupId>"],"assignPublicIp":"<AssignPublicIp>"}}' --overrides '{"containerOverrides":[{"name":"backend","command":["alembic","upgrade","head"]}]}' --started-by h2o-migrate --query 'tasks[0].taskArn' --output text`,
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

func TestDryRunExactDeployPlan(t *testing.T) {
	h := newHarness(t)
	h.env["DRY_RUN"] = "1"
	h.env["IMAGE_TAG"] = "abc123"
	r := h.run("deploy.sh", "dev")
	expectCode(t, r, 0)
	want := `+ aws cloudformation describe-stacks --region us-east-1 --stack-name h2o-dev-compute --query 'Stacks[0].Outputs[].[OutputKey,OutputValue]' --output text
+ aws ecs describe-services --region us-east-1 --cluster h2o-dev --services h2o-backend-service --query 'services[0].taskDefinition' --output text
+ aws ecs describe-task-definition --region us-east-1 --task-definition 'arn:aws:ecs:us-east-1:<account>:task-definition/<TaskDefinitionFamily>:<revision>' --query "taskDefinition.[status, containerDefinitions[?name=='backend'] | [0].image]" --output text
+ aws ecr describe-images --region us-east-1 --repository-name h2o-backend --image-ids imageTag=abc123 --query 'imageDetails[0].imageDigest' --output text
+ aws ecr get-login-password --region us-east-1 | docker login --username AWS --password-stdin REGISTRY
+ docker buildx build --platform linux/arm64 --tag REGISTRY/h2o-backend:abc123 --push BACKEND
+ npx cdk deploy 'dev/*' -c stage=dev -c imageTag=abc123 --require-approval never
+ aws cloudformation describe-stacks --region us-east-1 --stack-name h2o-dev-compute --query 'Stacks[0].Outputs[].[OutputKey,OutputValue]' --output text
+ aws ecs wait services-stable --region us-east-1 --cluster h2o-dev --services h2o-backend-service
+ aws cloudformation describe-stacks --region us-east-1 --stack-name h2o-dev-edge --query 'Stacks[0].Outputs[].[OutputKey,OutputValue]' --output text
+ curl -fsS --max-time 10 -o /dev/null '<ApiUrl>/health'
# on failure: scripts/rollback.sh dev '<previous-tag>'
`
	want = strings.NewReplacer("REGISTRY", registry, "BACKEND", h.backend).Replace(want)
	if r.stdout != want {
		t.Fatalf("dry-run plan differs\n--- want\n%s%s", want, r)
	}
}

func TestDeploySuccess(t *testing.T) {
	h := newHarness(t)
	deployed(h, "dev", 7, "oldsha").
		on("git", []string{"rev-parse"}, "newsha\n", 0).
		on("aws", []string{"describe-images"}, "", 254).
		on("curl", nil, "", 0)
	r := h.run("deploy.sh", "dev")
	expectCode(t, r, 0)
	expectCalls(t, r,
		[]string{"git", "-C", h.backend, "rev-parse", "HEAD"},
		describeStacks("h2o-dev-compute"),
		describeServices("dev"),
		describeTaskDef(taskDefArn(7)),
		ecrDescribe("newsha"),
		loginPassword,
		dockerLogin,
		[]string{"docker", "buildx", "build", "--platform", "linux/arm64", "--tag", imageOf("newsha"), "--push", h.backend},
		cdkDeploy("dev", "newsha"),
		describeStacks("h2o-dev-compute"),
		waitStable("dev"),
		describeStacks("h2o-dev-edge"),
		curlHealth(),
	)
}

func TestDeploySkipsBuildWhenImageInECR(t *testing.T) {
	h := newHarness(t)
	h.env["IMAGE_TAG"] = "prebuilt"
	deployed(h, "prod", 3, "oldsha").on("aws", []string{"describe-images"}, "sha256:1234\n", 0)
	r := h.run("deploy.sh", "prod")
	expectCode(t, r, 0)
	if len(callsOf(r, "docker")) != 0 || len(callsOf(r, "git")) != 0 {
		t.Fatalf("built or asked git although IMAGE_TAG is in ECR\n%s", r)
	}
	expectCalls(t, result{calls: callsOf(r, "npx")}, cdkDeploy("prod", "prebuilt"))
}

func TestDeploySmokeFailureRollsBack(t *testing.T) {
	h := newHarness(t)
	h.env["IMAGE_TAG"] = "newsha"
	h.env["SMOKE_ATTEMPTS"] = "3"
	// Before the deploy the service runs revision 7 (oldsha); after it, revision 8 (newsha).
	h.onTimes(1, "aws", []string{"describe-services"}, taskDefArn(7)+"\n", 0).
		on("aws", []string{"describe-services"}, taskDefArn(8)+"\n", 0).
		on("aws", []string{"describe-task-definition", taskDefArn(8)}, "ACTIVE\t"+imageOf("newsha")+"\n", 0).
		on("aws", []string{"describe-images", "imageTag=newsha"}, "", 254).
		on("aws", []string{"describe-images", "imageTag=oldsha"}, "sha256:old\n", 0).
		onTimes(3, "curl", nil, "", 22) // the new image never answers; the old one does
	deployed(h, "dev", 7, "oldsha")
	r := h.run("deploy.sh", "dev")
	expectCode(t, r, 1)
	expectCalls(t, r,
		// deploy.sh
		describeStacks("h2o-dev-compute"),
		describeServices("dev"),
		describeTaskDef(taskDefArn(7)),
		ecrDescribe("newsha"),
		loginPassword,
		dockerLogin,
		[]string{"docker", "buildx", "build", "--platform", "linux/arm64", "--tag", imageOf("newsha"), "--push", h.backend},
		cdkDeploy("dev", "newsha"),
		describeStacks("h2o-dev-compute"),
		waitStable("dev"),
		describeStacks("h2o-dev-edge"),
		curlHealth(), curlHealth(), curlHealth(),
		// rollback.sh dev oldsha
		describeStacks("h2o-dev-compute"),
		describeServices("dev"),
		describeTaskDef(taskDefArn(8)),
		ecrDescribe("oldsha"),
		cdkDeploy("dev", "oldsha"),
		waitStable("dev"),
		describeStacks("h2o-dev-edge"),
		curlHealth(),
	)
	if !strings.Contains(r.stderr, "deploy of newsha failed; rolled back to oldsha") {
		t.Errorf("no rollback message\n%s", r)
	}
}

func TestDeployCdkFailureRollsBack(t *testing.T) {
	h := newHarness(t)
	h.env["IMAGE_TAG"] = "newsha"
	h.onTimes(1, "npx", nil, "", 1).on("aws", []string{"describe-images"}, "sha256:x\n", 0)
	deployed(h, "prod", 7, "oldsha")
	r := h.run("deploy.sh", "prod")
	expectCode(t, r, 1)
	expectCalls(t, result{calls: callsOf(r, "npx")}, cdkDeploy("prod", "newsha"), cdkDeploy("prod", "oldsha"))
}

func TestDeployFirstDeployHasNoRollback(t *testing.T) {
	h := newHarness(t)
	h.env["IMAGE_TAG"] = "newsha"
	h.onTimes(1, "aws", []string{"describe-stacks", "h2o-dev-compute"}, "", 254).
		on("npx", nil, "", 1).
		on("aws", []string{"describe-images"}, "", 254)
	deployed(h, "dev", 1, "unused")
	r := h.run("deploy.sh", "dev")
	expectCode(t, r, 1)
	expectCalls(t, result{calls: callsOf(r, "npx")}, cdkDeploy("dev", "newsha"))
	if !strings.Contains(r.stderr, "no automatic rollback") {
		t.Errorf("want an explanation\n%s", r)
	}
}

// history: revisions 9 (running, sha9), 8 (sha9 again: a config-only change) and 7 (sha7, deregistered).
func history(h *harness, stage string) *harness {
	return deployed(h, stage, 9, "sha9").
		on("aws", []string{"describe-task-definition", family + ":8"}, "INACTIVE\t"+imageOf("sha9")+"\n", 0).
		on("aws", []string{"describe-task-definition", family + ":7"}, "ACTIVE\t"+imageOf("sha7")+"\n", 0)
}

func TestRollbackFindsPreviousTag(t *testing.T) {
	h := history(newHarness(t), "dev")
	r := h.run("rollback.sh", "dev")
	expectCode(t, r, 0)
	expectCalls(t, r,
		describeStacks("h2o-dev-compute"),
		describeServices("dev"),
		describeTaskDef(taskDefArn(9)),
		describeTaskDef(family+":8"),
		describeTaskDef(family+":7"),
		ecrDescribe("sha7"),
		cdkDeploy("dev", "sha7"),
		waitStable("dev"),
		describeStacks("h2o-dev-edge"),
		curlHealth(),
	)
}

func TestRollbackGivenTag(t *testing.T) {
	h := history(newHarness(t), "prod")
	r := h.run("rollback.sh", "prod", "sha5")
	expectCode(t, r, 0)
	expectCalls(t, r,
		describeStacks("h2o-prod-compute"),
		describeServices("prod"),
		describeTaskDef(taskDefArn(9)),
		ecrDescribe("sha5"),
		cdkDeploy("prod", "sha5"),
		waitStable("prod"),
		describeStacks("h2o-prod-edge"),
		curlHealth(),
	)
}

func TestRollbackUnknownTagStopsBeforeDeploying(t *testing.T) {
	h := history(newHarness(t), "dev").on("aws", []string{"describe-images"}, "", 254)
	r := h.run("rollback.sh", "dev", "nosuchtag")
	expectCode(t, r, 1)
	if len(callsOf(r, "npx")) != 0 || !strings.Contains(r.stderr, "image tag nosuchtag is not in ECR") {
		t.Fatalf("deployed a missing image, or unclear error\n%s", r)
	}
}

func TestRollbackNothingEarlier(t *testing.T) {
	h := deployed(newHarness(t), "dev", 2, "sha2").
		on("aws", []string{"describe-task-definition", family + ":1"}, "INACTIVE\t"+imageOf("sha2")+"\n", 0)
	r := h.run("rollback.sh", "dev")
	expectCode(t, r, 1)
	if len(callsOf(r, "npx")) != 0 || !strings.Contains(r.stderr, "pass <image-tag>") {
		t.Fatalf("want a clear error\n%s", r)
	}
}

func updateService(stage, td string) []string {
	return []string{"aws", "ecs", "update-service", "--region", "us-east-1", "--cluster", "h2o-" + stage,
		"--service", "h2o-backend-service", "--task-definition", td, "--query", "service.taskDefinition", "--output", "text"}
}

func TestRollbackEmergencyUpdatesServiceDirectly(t *testing.T) {
	h := history(newHarness(t), "prod")
	r := h.run("rollback.sh", "--emergency", "prod")
	expectCode(t, r, 0)
	expectCalls(t, r,
		describeStacks("h2o-prod-compute"),
		describeServices("prod"),
		describeTaskDef(taskDefArn(9)),
		describeTaskDef(family+":8"),
		describeTaskDef(family+":7"),
		updateService("prod", family+":7"),
		waitStable("prod"),
		describeStacks("h2o-prod-edge"),
		curlHealth(),
	)
	if !strings.Contains(r.stderr, "WARNING") || !strings.Contains(r.stderr, "drifts from stack h2o-prod-compute") {
		t.Errorf("no drift warning\n%s", r)
	}
}

func TestRollbackEmergencyRegistersInactiveRevisionAgain(t *testing.T) {
	if _, err := exec.LookPath("jq"); err != nil {
		t.Skip("jq not installed")
	}
	h := deployed(newHarness(t), "dev", 9, "sha9").
		on("aws", []string{"describe-task-definition", family + ":8", "--query", "taskDefinition", "--output", "json"},
			`{"taskDefinitionArn":"x","family":"`+family+`","revision":8,"status":"INACTIVE","cpu":"1024","registeredAt":1}`, 0).
		on("aws", []string{"describe-task-definition", family + ":8"}, "INACTIVE\t"+imageOf("sha8")+"\n", 0).
		on("aws", []string{"register-task-definition"}, taskDefArn(10)+"\n", 0)
	r := h.run("rollback.sh", "dev", "sha8", "--emergency")
	expectCode(t, r, 0)
	expectCalls(t, r,
		describeStacks("h2o-dev-compute"),
		describeServices("dev"),
		describeTaskDef(taskDefArn(9)),
		describeTaskDef(family+":8"),
		[]string{"aws", "ecs", "describe-task-definition", "--region", "us-east-1", "--task-definition", family + ":8",
			"--query", "taskDefinition", "--output", "json"},
		[]string{"aws", "ecs", "register-task-definition", "--region", "us-east-1",
			"--cli-input-json", `file://{"family":"` + family + `","cpu":"1024"}`,
			"--query", "taskDefinition.taskDefinitionArn", "--output", "text"},
		updateService("dev", taskDefArn(10)),
		waitStable("dev"),
		describeStacks("h2o-dev-edge"),
		curlHealth(),
	)
}

func migrateCalls(stage string, waits int) [][]string {
	taskArn := "arn:aws:ecs:us-east-1:" + account + ":task/h2o-" + stage + "/0f1e2d"
	calls := [][]string{
		describeStacks("h2o-" + stage + "-compute"),
		{"aws", "ecs", "run-task", "--region", "us-east-1", "--cluster", "h2o-" + stage, "--launch-type", "FARGATE",
			"--task-definition", family,
			"--network-configuration", `{"awsvpcConfiguration":{"subnets":["subnet-aaa","subnet-bbb"],"securityGroups":["sg-0123"],"assignPublicIp":"DISABLED"}}`,
			"--overrides", `{"containerOverrides":[{"name":"backend","command":["alembic","upgrade","head"]}]}`,
			"--started-by", "h2o-migrate", "--query", "tasks[0].taskArn", "--output", "text"},
	}
	for i := 0; i < waits; i++ {
		calls = append(calls, []string{"aws", "ecs", "wait", "tasks-stopped", "--region", "us-east-1",
			"--cluster", "h2o-" + stage, "--tasks", taskArn})
	}
	return append(calls, []string{"aws", "ecs", "describe-tasks", "--region", "us-east-1", "--cluster", "h2o-" + stage,
		"--tasks", taskArn, "--query", "tasks[0].[stoppedReason, containers[?name=='backend'] | [0].exitCode]",
		"--output", "text"})
}

func migrateHarness(t *testing.T, stage, describeTasks string) *harness {
	return newHarness(t).
		on("aws", []string{"describe-stacks", "h2o-" + stage + "-compute"}, computeOutputs(stage), 0).
		on("aws", []string{"run-task"}, "arn:aws:ecs:us-east-1:"+account+":task/h2o-"+stage+"/0f1e2d\n", 0).
		on("aws", []string{"describe-tasks"}, describeTasks, 0)
}

func TestMigrateExitsWithContainerCode(t *testing.T) {
	for _, code := range []int{0, 3} {
		h := migrateHarness(t, "prod", fmt.Sprintf("Essential container in task exited\t%d\n", code))
		r := h.run("migrate.sh", "prod")
		expectCode(t, r, code)
		expectCalls(t, r, migrateCalls("prod", 1)...)
	}
}

func TestMigrateWaitsAgainAndReportsContainerThatNeverRan(t *testing.T) {
	h := migrateHarness(t, "dev", "CannotPullContainerError: pull image manifest has been retried\tNone\n").
		onTimes(1, "aws", []string{"tasks-stopped"}, "", 255) // the waiter gave up once
	r := h.run("migrate.sh", "dev")
	expectCode(t, r, 1)
	expectCalls(t, r, migrateCalls("dev", 2)...)
	if !strings.Contains(r.stderr, "CannotPullContainerError") {
		t.Errorf("the stopped reason is not shown\n%s", r)
	}
}

func TestMigrateNoTaskStarted(t *testing.T) {
	h := newHarness(t).
		on("aws", []string{"describe-stacks"}, computeOutputs("dev"), 0).
		on("aws", []string{"run-task"}, "None\n", 0)
	r := h.run("migrate.sh", "dev")
	expectCode(t, r, 1)
	if len(r.calls) != 2 {
		t.Fatalf("want no wait after a failed run-task\n%s", r)
	}
}

func TestMissingStackIsAClearFailure(t *testing.T) {
	for _, script := range []string{"rollback.sh", "migrate.sh"} {
		h := newHarness(t).on("aws", []string{"describe-stacks"}, "", 254)
		r := h.run(script, "dev")
		expectCode(t, r, 1)
		expectCalls(t, r, describeStacks("h2o-dev-compute"))
		if !strings.Contains(r.stderr, "cannot read the outputs of stack h2o-dev-compute") {
			t.Errorf("%s: unclear error\n%s", script, r)
		}
	}
}

// TestScriptStagesMatchTheApp keeps common.sh's stage list in step with the CDK app's config.
func TestScriptStagesMatchTheApp(t *testing.T) {
	raw, err := os.ReadFile("common.sh")
	if err != nil {
		t.Fatal(err)
	}
	want := `STAGES="` + strings.Join(config.Stages(), " ") + `"`
	if !strings.Contains(string(raw), "\n"+want+"\n") {
		t.Errorf("common.sh does not define %s", want)
	}
}
