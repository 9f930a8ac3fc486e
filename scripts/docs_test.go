package scripts

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// The documents whose aws commands people paste.
var docs = []string{"../README.md", "../docs/runbook.md"}

var (
	codeBlock  = regexp.MustCompile("(?s)```[a-z]*\n(.*?)```")
	inlineCode = regexp.MustCompile("`([^`]+)`")
	// An aws invocation: `aws <service> <command>` at the start of a command (line start, after $( | ; && or `).
	awsCommand = regexp.MustCompile(`(?:^|[\s(|;&=])(aws\s+[a-z0-9-]+\s+[a-z0-9-]+(?:[^|;&)#]*))`)
)

// awsCommands are the aws commands a document prints: each invocation in a code block (continuation lines
// joined), and each inline one that carries an option (a bare `aws logs tail` in a sentence names a command, it
// is not one to run).
func awsCommands(t *testing.T, path string) []string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	var cmds []string
	for _, block := range codeBlock.FindAllStringSubmatch(text, -1) {
		joined := strings.ReplaceAll(block[1], "\\\n", " ")
		for _, line := range strings.Split(joined, "\n") {
			for _, m := range awsCommand.FindAllStringSubmatch(line, -1) {
				cmds = append(cmds, strings.Join(strings.Fields(m[1]), " "))
			}
		}
	}
	prose := codeBlock.ReplaceAllString(text, "")
	for _, span := range inlineCode.FindAllStringSubmatch(prose, -1) {
		for _, m := range awsCommand.FindAllStringSubmatch(" "+span[1], -1) {
			if cmd := strings.Join(strings.Fields(m[1]), " "); strings.Contains(cmd, " --") {
				cmds = append(cmds, cmd)
			}
		}
	}
	return cmds
}

// TestDocumentedAWSCommandsNameTheirRegion: every aws command README and the runbook print works on AWS CLI v1 as
// written: v1 reads the region from --region, AWS_DEFAULT_REGION or the profile, and ignores AWS_REGION (aws/aws-cli
// issue 6658; PR 3800: "AWS_REGION is not a supported variable" in v1, added in v2), so each names --region.
func TestDocumentedAWSCommandsNameTheirRegion(t *testing.T) {
	t.Parallel()
	total := 0
	for _, doc := range docs {
		cmds := awsCommands(t, doc)
		total += len(cmds)
		for _, cmd := range cmds {
			if !regexp.MustCompile(`\s--region[\s=]`).MatchString(cmd + " ") {
				t.Errorf("%s: %q does not name its region (--region us-east-1): AWS CLI v1 ignores AWS_REGION", doc, cmd)
			}
		}
	}
	if total < 40 {
		t.Fatalf("only %d aws commands found in %v", total, docs)
	}
}

// The extraction itself: what counts as a command, and what does not.
func TestAWSCommandExtraction(t *testing.T) {
	t.Parallel()
	f, err := os.CreateTemp(t.TempDir(), "*.md")
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("Run `aws logs tail` (v2 only), or `aws ecr describe-images --repository-name x`.\n\n" +
		"```bash\nTOKEN=$(aws sts get-caller-identity --region us-east-1 --query Account)\n" +
		"aws ecr get-login-password | docker login --password-stdin x\n" +
		"aws ecs describe-services --region us-east-1 \\\n  --cluster c   # a comment\n```\n")
	f.Close()
	got := awsCommands(t, f.Name())
	want := []string{"aws sts get-caller-identity --region us-east-1 --query Account", "aws ecr get-login-password",
		"aws ecs describe-services --region us-east-1 --cluster c", "aws ecr describe-images --repository-name x"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("extracted\n  %q\nwant\n  %q", got, want)
	}
}
