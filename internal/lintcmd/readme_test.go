package lintcmd

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// readmeLintCommands returns the `tfpr lint` commands of README.md's
// fenced sh blocks, as argument lists after "lint", comments dropped.
func readmeLintCommands(t *testing.T) [][]string {
	t.Helper()
	f, err := os.Open("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]string
	fenced := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "```") {
			fenced = !fenced && strings.TrimPrefix(line, "```") == "sh"
			continue
		}
		if !fenced {
			continue
		}
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		words := strings.Fields(line)
		for len(words) > 0 && words[0] != "tfpr" {
			words = words[1:] // "go run ./cmd/tfpr" spells it too
			if len(words) > 0 && strings.HasSuffix(words[0], "/tfpr") {
				words[0] = "tfpr"
			}
		}
		if len(words) > 1 && words[1] == "lint" {
			out = append(out, words[2:])
		}
	}
	return out
}

// The README's lint examples run as written, from the root of a repository
// laid out as the README describes (testdata/readme).
func TestReadmeLintExamples(t *testing.T) {
	cmds := readmeLintCommands(t)
	if len(cmds) < 5 {
		t.Fatalf("found %d tfpr lint examples in README.md: %v", len(cmds), cmds)
	}
	t.Chdir("testdata/readme")
	for _, args := range cmds {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out, errOut, code := lint(t, args...)
			if code == 2 || out+errOut == "" {
				t.Fatalf("exit %d with stdout %q\nstderr: %s", code, out, errOut)
			}
			names := func(dir string) bool { return len(args) > 0 && (args[len(args)-1] == dir || args[0] == dir) }
			if (names(".") || names("modules/network")) && !strings.Contains(args[0], "input") &&
				!strings.Contains(out, "modules/network/main.tf") {
				t.Errorf("the unused module's finding is missing:\n%s", out)
			}
		})
	}
}
