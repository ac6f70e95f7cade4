package lintcmd

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/tfpr/tfpr/internal/policy"
	"github.com/tfpr/tfpr/internal/project"
	"github.com/tfpr/tfpr/internal/tfsource"
)

// parseInterleaved parses flags that may come before, between or after
// the positional arguments (`tfpr lint . --format json`), which the flag
// package alone stops at. "--" ends the flags.
func parseInterleaved(fset *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fset.Parse(args); err != nil {
			return nil, err
		}
		rest := fset.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// flag.Parse consumed a "--" when the args before rest end in it.
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// printInput prints the HCL-stage input document policies see for the
// project or module in dir, for people writing policies. Problems reading
// the files go to stderr as the findings lint would report.
func printInput(ctx context.Context, dir string, stdout, stderr io.Writer) int {
	abs, err := filepath.Abs(dir)
	if err != nil {
		fmt.Fprintf(stderr, "tfpr lint: --input %s: %v\n", dir, err)
		return 2
	}
	if st, err := os.Stat(abs); err != nil || !st.IsDir() {
		fmt.Fprintf(stderr, "tfpr lint: --input %s: not a directory\n", dir)
		return 2
	}
	cwd, err := os.Getwd()
	if err != nil {
		fmt.Fprintf(stderr, "tfpr lint: working directory: %v\n", err)
		return 2
	}
	root, sub := lintRoot(cwd, abs)
	if !holdsTerraform(abs) {
		fmt.Fprintf(stderr, "tfpr lint: --input %s: no Terraform files (*.tf, *.tf.json) there\n", dir)
		return 2
	}
	g, err := project.Scan(ctx, root)
	if err != nil {
		fmt.Fprintf(stderr, "tfpr lint: --input %s: %v\n", dir, err)
		return 2
	}
	doc, findings, err := policy.BuildInput(ctx, root, sub, g.Modules(sub))
	if err != nil {
		fmt.Fprintf(stderr, "tfpr lint: --input %s: %v\n", dir, err)
		return 2
	}
	if err := writeText(stderr, findings, nil); err != nil {
		return 2
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		fmt.Fprintf(stderr, "tfpr lint: --input %s: %v\n", dir, err)
		return 2
	}
	return 0
}

// holdsTerraform reports whether dir itself holds a file terraform loads.
func holdsTerraform(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if !e.IsDir() && tfsource.Loaded(e.Name()) {
			return true
		}
	}
	return false
}

// lintRoot returns the checkout a DIR argument (absolute) is linted in, and
// DIR as a slash path inside it: the enclosing git repository, else the
// working directory when it holds DIR, else DIR. Modules called through
// ../ and files read from the repository then resolve as they do in the
// server's checkout, whichever subdirectory is named.
func lintRoot(cwd, abs string) (root, sub string) {
	root = abs
	for d := abs; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil {
			root = d
			break
		}
		if filepath.Dir(d) == d {
			if inside(cwd, abs) {
				root = cwd
			}
			break
		}
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil {
		return abs, "."
	}
	return root, filepath.ToSlash(rel)
}

func inside(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// displayPath shows a root-relative finding path the way the user named
// the dirs: absolute after an absolute DIR, else relative to the working
// directory.
func displayPath(cwd, root, file string, absolute bool) string {
	p := filepath.Join(root, filepath.FromSlash(file))
	if !absolute {
		if rel, err := filepath.Rel(cwd, p); err == nil {
			p = rel
		}
	}
	return filepath.ToSlash(p)
}
