// Package fake is the fake aws, docker, npx, curl, git, go (and, when a test asks, sleep) of the scripts' tests:
// one small program, linked under those names, that logs its argv and answers from canned rules. `go run <package>`
// runs the program built from that package (GoRun): what the scripts ask the app, the app answers. It is a program of its own, not the test binary:
// the test binary links the CDK app (to take its answers from the synthesized templates), whose package
// initialization would cost every fake call a tenth of a second.
package fake

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ConfigEnv names the environment variable that points the fake at its Config (a JSON file).
const ConfigEnv = "H2O_FAKE_CONFIG"

// Rule is one canned answer: the first rule whose Cmd matches, whose Args all occur in argv, each of whose
// Contains occurs within an argument, and whose After call (every word of it) was logged before answers, Times
// times (0: every time).
type Rule struct {
	Cmd      string   `json:"cmd"`
	Args     []string `json:"args"`
	Contains []string `json:"contains"`
	After    []string `json:"after"`
	Stdout   string   `json:"stdout"`
	Stderr   string   `json:"stderr"`
	Exit     int      `json:"exit"`
	Times    int      `json:"times"`
}

// Config is what one script run's fakes answer, and where they log.
type Config struct {
	Log   string `json:"log"`
	Rules []Rule `json:"rules"`
	// Golden collects "<script> aws <service> <command>" lines, the script being the one that made the call.
	Golden string `json:"golden"`
	// GoRun maps a package path of `go run <path> args...` to the program built from it, run with the args.
	GoRun map[string]string `json:"goRun"`
}

// Main logs one line per call (name and arguments, tab-separated, a newline in an argument as \n; the token read
// by --password-stdin as <stdin:...>, a file:// argument as file://<its content>), then answers from the rules;
// default: exit 0.
func Main() int {
	var cfg Config
	data, err := os.ReadFile(os.Getenv(ConfigEnv))
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
	if Contains(args, "--password-stdin") {
		in, _ := io.ReadAll(os.Stdin) // waits for the writer to finish, so the log order is deterministic
		logged = append(logged, "<stdin:"+strings.TrimSpace(string(in))+">")
	}
	earlier, _ := os.ReadFile(cfg.Log) // the calls before this one, for the rules' After
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
		if r.Cmd != name || !ContainsAll(args, r.Args) || !containsWithin(args, r.Contains) || !loggedBefore(string(earlier), r.After) {
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
	if name == "go" {
		return goRun(cfg.GoRun, args)
	}
	return 0
}

// goRun runs `go run <package> args...` as the program built from the package, in the caller's directory.
func goRun(programs map[string]string, args []string) int {
	if len(args) < 2 || args[0] != "run" || programs[args[1]] == "" {
		fmt.Fprintf(os.Stderr, "fake go: no program for %q\n", args)
		return 99
	}
	cmd := exec.Command(programs[args[1]], args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		if exit, ok := err.(*exec.ExitError); ok {
			return exit.ExitCode()
		}
		fmt.Fprintln(os.Stderr, "fake go:", err)
		return 99
	}
	return 0
}

// containsWithin reports whether each of parts occurs within one of args.
func containsWithin(args, parts []string) bool {
	for _, p := range parts {
		if !slices.ContainsFunc(args, func(a string) bool { return strings.Contains(a, p) }) {
			return false
		}
	}
	return true
}

// loggedBefore reports whether a call with every one of words is among the logged calls (none wanted: true).
func loggedBefore(log string, words []string) bool {
	if len(words) == 0 {
		return true
	}
	for _, line := range strings.Split(log, "\n") {
		if ContainsAll(strings.Split(line, "\t"), words) {
			return true
		}
	}
	return false
}

// Contains reports whether s is one of list.
func Contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ContainsAll reports whether every one of want is in list.
func ContainsAll(list, want []string) bool {
	for _, w := range want {
		if !Contains(list, w) {
			return false
		}
	}
	return true
}

// recordAWSCall appends one golden line for an aws call with these arguments, naming the script that made it.
func recordAWSCall(path string, args []string) {
	words := []string{callerScript(), "aws"}
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			break // the scripts always name the service and command first
		}
		words = append(words, a)
		if (len(words) == 4 && a != "wait") || len(words) == 5 {
			break
		}
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintln(f, strings.Join(words, " "))
}

// callerScript is the base name of the *.sh the parent process (the bash running the script, or a subshell of
// it) runs: /proc/<ppid>/cmdline on Linux, `ps` elsewhere.
func callerScript() string {
	ppid := os.Getppid()
	var args []string
	if raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", ppid)); err == nil {
		args = strings.Split(string(raw), "\x00")
	} else if out, err := exec.Command("ps", "-o", "args=", "-p", strconv.Itoa(ppid)).Output(); err == nil {
		args = strings.Fields(string(out))
	}
	for _, a := range args {
		if strings.HasSuffix(a, ".sh") {
			return filepath.Base(a)
		}
	}
	return "unknown-script"
}
