package scripts

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

// The golden list of AWS calls (issue 14.3): every distinct `aws <service> <command>` (a waiter as
// `aws <service> wait <waiter>`) that each script makes in the tests, one line per call, sorted:
//
//	deploy.sh aws ecs describe-services
//
// A call is attributed to the script that issues it, not to the one that ran that script (deploy.sh runs
// migrate.sh and rollback.sh). The deploy role's policy is checked against the lines of deploy.sh, migrate.sh,
// rollback.sh and verify.sh, so the format is a contract: keep it exact.
const goldenFile = "testdata/aws-calls.txt"

// goldenLog is where the fake aws appends the calls it sees (set by runWithGolden, shared by every test; the lines
// are written by internal/fake, recordAWSCall).
var goldenLog string

// runWithGolden runs the tests, then checks (or, with UPDATE_GOLDEN=1, rewrites) the golden file when every test
// of the package ran and passed: a -run or -skip selection sees only some of the calls.
func runWithGolden(m *testing.M) int {
	f, err := os.CreateTemp("", "h2o-aws-calls-*.log")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	f.Close()
	goldenLog = f.Name()
	defer os.Remove(goldenLog)

	code := m.Run()
	if code != 0 || flagValue("test.run") != "" || flagValue("test.skip") != "" {
		return code
	}
	raw, err := os.ReadFile(goldenLog)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	got := sortedUnique(strings.Split(string(raw), "\n"))
	if os.Getenv("UPDATE_GOLDEN") == "1" {
		if err := os.WriteFile(goldenFile, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Printf("wrote %s (%d calls)\n", goldenFile, len(got))
		return 0
	}
	committed, err := os.ReadFile(goldenFile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%v (create it with UPDATE_GOLDEN=1 go test ./scripts)\n", err)
		return 1
	}
	want := strings.Split(strings.TrimSuffix(string(committed), "\n"), "\n")
	if slices.Equal(got, want) {
		return 0
	}
	fmt.Fprintf(os.Stderr, "FAIL: the AWS calls of the scripts differ from %s:\n", goldenFile)
	for _, line := range want {
		if !slices.Contains(got, line) {
			fmt.Fprintf(os.Stderr, "  - %s   (in the golden file, made by no test)\n", line)
		}
	}
	for _, line := range got {
		if !slices.Contains(want, line) {
			fmt.Fprintf(os.Stderr, "  + %s   (made by a test, not in the golden file)\n", line)
		}
	}
	if !slices.IsSorted(want) {
		fmt.Fprintln(os.Stderr, "  (the golden file is not sorted)")
	}
	fmt.Fprintln(os.Stderr, "A new or dropped call changes what the deploy role must be allowed: review it, then "+
		"UPDATE_GOLDEN=1 go test ./scripts")
	return 1
}

func flagValue(name string) string {
	if f := flag.Lookup(name); f != nil {
		return f.Value.String()
	}
	return ""
}

func sortedUnique(lines []string) []string {
	var out []string
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// committedGolden is the committed golden file's lines; a test of it skips while UPDATE_GOLDEN=1 rewrites it.
func committedGolden(t *testing.T) []string {
	t.Helper()
	if os.Getenv("UPDATE_GOLDEN") == "1" {
		t.Skip("UPDATE_GOLDEN=1 rewrites the file after the tests")
	}
	raw, err := os.ReadFile(goldenFile)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
}

// TestGoldenLinesAreWellFormed checks the committed file itself: sorted, unique, and every line
// `<script>.sh aws <service> <command>` or `<script>.sh aws <service> wait <waiter>`, for scripts that exist.
func TestGoldenLinesAreWellFormed(t *testing.T) {
	t.Parallel()
	lines := committedGolden(t)
	if !slices.Equal(lines, sortedUnique(lines)) {
		t.Errorf("%s is not sorted and unique", goldenFile)
	}
	for _, line := range lines {
		f := strings.Fields(line)
		ok := (len(f) == 4 || len(f) == 5 && f[3] == "wait") && f[1] == "aws" && strings.HasSuffix(f[0], ".sh")
		if !ok {
			t.Errorf("malformed line %q", line)
			continue
		}
		if _, err := os.Stat(f[0]); err != nil {
			t.Errorf("line %q: no script %s", line, f[0])
		}
	}
}
