package scripts

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const deployWorkflow = "../.github/workflows/deploy.yml"

// plan runs scripts/deploy-plan.sh as the deploy workflow's resolve job does: env is the event, changed the
// files git diff lists for a push (nil: the diff fails), dockerfile whether backend/Dockerfile exists.
func plan(t *testing.T, env map[string]string, changed []string, dockerfile bool) (map[string]string, result) {
	t.Helper()
	h := newHarness(t)
	h.cwd = t.TempDir()
	if dockerfile {
		if err := os.MkdirAll(filepath.Join(h.cwd, "backend"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(h.cwd, "backend", "Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h.env["SHA"] = "0123abc"
	for k, v := range env {
		h.env[k] = v
	}
	if changed == nil {
		h.on("git", []string{"diff"}, "", 128)
	} else {
		h.on("git", []string{"diff", "--name-only"}, strings.Join(changed, "\n")+"\n", 0)
	}
	r := h.run("deploy-plan.sh")
	outputs := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			outputs[k] = v
		}
	}
	return outputs, r
}

func TestDeployPlan(t *testing.T) {
	t.Parallel()
	push := map[string]string{"EVENT": "push", "BEFORE": "fedc987"}
	dispatch := func(kv ...string) map[string]string {
		m := map[string]string{"EVENT": "workflow_dispatch", "INPUT_STAGE": "prod", "INPUT_DIR": "backend"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	const (
		devKeep, prodKeep = `{"stage":"dev","image-tag":""}`, `{"stage":"prod","image-tag":""}`
		devBuilt          = `{"stage":"dev","image-tag":"0123abc"}`
	)
	for _, c := range []struct {
		name       string
		env        map[string]string
		changed    []string
		dockerfile bool
		legs       string // "" for a refusal (exit 1)
		build      bool
	}{
		// A merged infrastructure change: dev with its image, then prod with its image (after approval).
		{"push: infrastructure", push, []string{"stacks/compute.go", "README.md"}, true, "[" + devKeep + "," + prodKeep + "]", false},
		{"push: a setting", push, []string{"config/settings/prod.json"}, false, "[" + devKeep + "," + prodKeep + "]", false},
		{"push: the pinned CLI", push, []string{"package-lock.json"}, false, "[" + devKeep + "," + prodKeep + "]", false},
		{"push: tests and docs only", push, []string{"stacks/compute_test.go", "docs/runbook.md"}, true, "[]", false},
		{"push: the backend", push, []string{"backend/app/main.py"}, true, "[" + devBuilt + "]", true},
		{"push: the backend and the infrastructure", push, []string{"backend/app/main.py", "app.go"}, true, "[" + devBuilt + "," + prodKeep + "]", true},
		{"push: a backend without a Dockerfile", push, []string{"backend/notes.txt"}, false, "[]", false},
		{"push: unknown previous commit", map[string]string{"EVENT": "push", "BEFORE": "0000000000000000000000000000000000000000"}, []string{}, false, "[" + devKeep + "," + prodKeep + "]", false},
		{"push: diff fails", push, nil, true, "[" + devBuilt + "," + prodKeep + "]", true},
		// Run workflow.
		{"dispatch: keep-image", dispatch("INPUT_KEEP_IMAGE", "true"), nil, false, "[" + prodKeep + "]", false},
		{"dispatch: keep-image and a tag", dispatch("INPUT_KEEP_IMAGE", "true", "INPUT_TAG", "abc"), nil, false, "", false},
		{"dispatch: a tag", dispatch("INPUT_TAG", "3f2c1e0"), nil, false, `[{"stage":"prod","image-tag":"3f2c1e0"}]`, false},
		{"dispatch: a bad tag", dispatch("INPUT_TAG", "a b"), nil, false, "", false},
		{"dispatch: build", dispatch(), nil, true, `[{"stage":"prod","image-tag":"0123abc"}]`, true},
		{"dispatch: build without a backend", dispatch(), nil, false, "", false},
		{"dispatch: unknown stage", dispatch("INPUT_STAGE", "staging", "INPUT_TAG", "abc"), nil, false, "", false},
		{"dispatch: a backend-dir outside the repository", dispatch("INPUT_DIR", "../x", "INPUT_TAG", "abc"), nil, false, "", false},
		// Another repository's deploy.
		{"workflow_call", map[string]string{"EVENT": "push", "INPUT_INFRA": "h2o-allegiant/h2o-infra", "INPUT_STAGE": "dev", "INPUT_TAG": "abc"}, nil, false, `[{"stage":"dev","image-tag":"abc"}]`, false},
		{"workflow_call without a tag", map[string]string{"EVENT": "push", "INPUT_INFRA": "h2o-allegiant/h2o-infra", "INPUT_STAGE": "dev"}, nil, false, "", false},
		{"repository_dispatch", map[string]string{"EVENT": "repository_dispatch", "PAYLOAD_STAGE": "dev", "PAYLOAD_TAG": "abc"}, nil, false, `[{"stage":"dev","image-tag":"abc"}]`, false},
		{"repository_dispatch to an unknown stage", map[string]string{"EVENT": "repository_dispatch", "PAYLOAD_STAGE": "x", "PAYLOAD_TAG": "abc"}, nil, false, "", false},
		{"an unexpected event", map[string]string{"EVENT": "schedule"}, nil, false, "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			out, r := plan(t, c.env, c.changed, c.dockerfile)
			if c.legs == "" {
				expectCode(t, r, 1)
				if r.stdout != "" || !strings.Contains(r.stderr, "deploy-plan.sh: error: ") {
					t.Errorf("want a refusal on stderr and no plan\n%s", r)
				}
				return
			}
			expectCode(t, r, 0)
			if out["legs"] != c.legs {
				t.Errorf("legs = %s, want %s\n%s", out["legs"], c.legs, r)
			}
			wantTag := ""
			if c.build {
				wantTag = "0123abc"
			}
			if out["build"] != map[bool]string{true: "true", false: "false"}[c.build] || out["image-tag"] != wantTag {
				t.Errorf("build = %s, image-tag = %q; want %v, %q\n%s", out["build"], out["image-tag"], c.build, wantTag, r)
			}
		})
	}
}

// The push trigger of deploy.yml lists the infrastructure as scripts/deploy-plan.sh knows it, plus the backend,
// without tests and docs.
func TestDeployWorkflowTriggersOnTheInfrastructure(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(deployWorkflow)
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?s)\n  push:\n.*?    paths:\n((?:      - '[^']+'\n)+)`).FindStringSubmatch(string(raw))
	if block == nil {
		t.Fatalf("%s: no push.paths list", deployWorkflow)
	}
	var got []string
	for _, m := range regexp.MustCompile(`- '([^']+)'`).FindAllStringSubmatch(block[1], -1) {
		got = append(got, m[1])
	}
	script, err := os.ReadFile("deploy-plan.sh")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^INFRA_PATHS="([^"]+)"$`).FindStringSubmatch(string(script))
	if m == nil {
		t.Fatal("deploy-plan.sh defines no INFRA_PATHS")
	}
	var want []string
	for _, p := range strings.Fields(m[1]) {
		if strings.HasSuffix(p, "/") {
			p += "**"
		}
		want = append(want, p)
	}
	want = append(want, "backend/**", "!**/*_test.go", "!**/*.md")
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("deploy.yml runs on pushes to %v, deploy-plan.sh plans for %v", got, want)
	}
	// Every file `cdk synth` reads is in the list (a new one would deploy nothing).
	for _, f := range synthInputs(t) {
		if !slices.Contains(got, f) {
			t.Errorf("a change to %s would not deploy", f)
		}
	}
}

// The deploy legs run scripts/deploy.sh as `make deploy` does; Run workflow offers keep-image; both ECR checks tell
// a missing image (ImageNotFoundException) from any other error.
func TestDeployWorkflowDeploysAsMakeDeployDoes(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(deployWorkflow)
	if err != nil {
		t.Fatal(err)
	}
	wf := string(raw)
	for _, want := range []string{
		`run: make deploy STAGE="$STAGE" IMAGE_TAG="$IMAGE_TAG"`,
		"      keep-image:\n        description:",
		"plan=$(scripts/deploy-plan.sh)",
		"max-parallel: 1",
		"fail-fast: true",
		"environment:\n      name: ${{ matrix.stage }}",
	} {
		if !strings.Contains(wf, want) {
			t.Errorf("%s lacks %q", deployWorkflow, want)
		}
	}
	if n := strings.Count(wf, "aws ecr describe-images"); n != 2 || strings.Count(wf, "grep -q '(ImageNotFoundException)'") != n {
		t.Errorf("%d ECR look-ups, and not each telling ImageNotFoundException from other errors", n)
	}
	// Only comments may name scripts/deploy.sh: a command running it would skip what make deploy adds.
	for i, line := range strings.Split(wf, "\n") {
		if code, _, _ := strings.Cut(line, "#"); strings.Contains(code, "scripts/deploy.sh") {
			t.Errorf("%s:%d runs scripts/deploy.sh directly, not as make deploy does: %s", deployWorkflow, i+1, line)
		}
	}
}

// jobsOf splits a workflow's jobs section into its jobs' text by job ID (the two-space-indented keys after jobs:).
func jobsOf(t *testing.T, path string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(raw), "\njobs:\n")
	if !ok {
		t.Fatalf("%s: no jobs section", path)
	}
	jobs := map[string]string{}
	ids := regexp.MustCompile(`(?m)^  ([a-z][a-z0-9-]*):\n`).FindAllStringSubmatchIndex(section, -1)
	for i, m := range ids {
		end := len(section)
		if i+1 < len(ids) {
			end = ids[i+1][0]
		}
		jobs[section[m[2]:m[3]]] = section[m[0]:end]
	}
	if len(jobs) == 0 {
		t.Fatalf("%s: no jobs found", path)
	}
	return jobs
}

// The deploy and rollback jobs share the concurrency group deploy-<stage>; the approval of a run is an upstream
// job's, in <stage>-approval, outside the group: a run waiting for its reviewers holds no group.
func TestApprovalWaitsOutsideTheConcurrencyGroup(t *testing.T) {
	t.Parallel()
	for path, grouped := range map[string]string{deployWorkflow: "deploy", "../.github/workflows/rollback.yml": "rollback"} {
		jobs := jobsOf(t, path)
		job, approve := jobs[grouped], jobs["approve"]
		if !strings.Contains(job, "concurrency:\n      group: deploy-${{") {
			t.Errorf("%s: job %s is not in the group deploy-<stage>", path, grouped)
		}
		if !regexp.MustCompile(`(?m)^    needs: (approve|\[[^\]]*\bapprove\b[^\]]*\])$`).MatchString(job) {
			t.Errorf("%s: job %s does not need the approve job", path, grouped)
		}
		if approve == "" {
			t.Fatalf("%s: no approve job", path)
		}
		if !regexp.MustCompile(`environment:\n      name: \$\{\{ [a-z.]+stage \}\}-approval\n`).MatchString(approve) {
			t.Errorf("%s: the approve job is not in the <stage>-approval environment:\n%s", path, approve)
		}
		if strings.Contains(approve, "concurrency:") {
			t.Errorf("%s: the approve job waits inside a concurrency group", path)
		}
		if !strings.Contains(approve, "environments/prod-approval") || !strings.Contains(approve, "required_reviewers") {
			t.Errorf("%s: the approve job does not check that prod-approval requires reviewers", path)
		}
		// The grouped job's own environment is the stage's (the deploy role's variables and OIDC subject).
		if !regexp.MustCompile(`environment:\n      name: \$\{\{ [a-z.]+stage \}\}\n`).MatchString(job) {
			t.Errorf("%s: job %s is not in the <stage> environment", path, grouped)
		}
	}
}

// synthInputs is what `cdk synth` reads in this repository, as push paths: cdk.json (the app command), the files
// the Makefile's `npm ci` installs the pinned CLI from (package.json, package-lock.json), the module files and
// every package the app command builds: `go list -deps` of its package, files of the root package by name,
// others by their top-level directory.
func synthInputs(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("../cdk.json")
	if err != nil {
		t.Fatal(err)
	}
	var cdk struct {
		App string `json:"app"`
	}
	if err := json.Unmarshal(raw, &cdk); err != nil {
		t.Fatal(err)
	}
	// The app command builds one package: "go build -o <binary> <package> && <binary>".
	build := regexp.MustCompile(`^go build -o \S+ (\S+) && `).FindStringSubmatch(cdk.App)
	if build == nil {
		t.Fatalf("cdk.json: app %q is not the go build this test reads", cdk.App)
	}
	makefile, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(makefile), "\tnpm ci ") {
		t.Fatal("Makefile: the CLI is not installed with npm ci (from package.json and package-lock.json)")
	}
	inputs := []string{"cdk.json", "package.json", "package-lock.json", "go.mod", "go.sum"}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(goBin, "list", "-deps", "-f", `{{if .Module}}{{if .Module.Main}}{{.Dir}}{{"\t"}}{{join .GoFiles ","}}{{end}}{{end}}`, build[1])
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", build[1], err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		dir, files, _ := strings.Cut(line, "\t")
		rel, err := filepath.Rel(root, dir)
		if err != nil {
			t.Fatal(err)
		}
		if rel == "." {
			inputs = append(inputs, strings.Split(files, ",")...)
		} else if top, _, _ := strings.Cut(filepath.ToSlash(rel), "/"); !slices.Contains(inputs, top+"/**") {
			inputs = append(inputs, top+"/**")
		}
	}
	if !slices.Contains(inputs, "stacks/**") {
		t.Fatalf("go list -deps %s does not reach stacks/: %q", build[1], out)
	}
	return inputs
}
