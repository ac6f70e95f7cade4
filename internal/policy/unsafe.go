package policy

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/tfpr/tfpr/internal/tfsource"
)

// RuleUnsafePath marks files in a project directory that would make
// terraform run or trust something the policies never saw.
const RuleUnsafePath = "unsafe-path"

// unsafeNames are entries terraform reads or writes in its working
// directory: plugin directories it would load provider binaries from, a
// committed .terraform holding providers or module paths, CLI configs.
var unsafeNames = map[string]string{
	"terraform.d":  "provider binaries here would be loaded by terraform and run during plan",
	".terraform":   "a committed .terraform can point terraform at providers and modules the policies never saw",
	".terraformrc": "terraform CLI configuration does not belong in the repository",
	"terraform.rc": "terraform CLI configuration does not belong in the repository",
}

// writtenNames are the files terraform itself writes in its working
// directory.
var writtenNames = map[string]bool{
	".terraform.lock.hcl": true, "terraform.tfstate": true, "terraform.tfstate.backup": true,
	".terraform.tfstate.lock.info": true, "crash.log": true,
}

// insideRoot reports whether the symlink file resolves to something inside
// the checkout: os.Root refuses to follow links out of it.
func insideRoot(root *os.Root, file string) bool {
	_, err := root.Stat(file)
	return err == nil
}

// unsafePaths denies what a PR could put in the project directory to run
// code during plan without any .tf file saying so: plugin directories and
// symlinks (terraform writes .terraform, the lock file and its plan files
// there, and a symlink would redirect those writes anywhere on the host).
// It is a check on the checkout, not a Rego rule, because it is about what
// terraform will execute, which no policy may switch off. entries are the
// directory's entries as read (symlinks not followed).
func unsafePaths(root *os.Root, dir string, entries []fs.DirEntry) []Finding {
	var out []Finding
	for _, e := range entries {
		name := e.Name()
		file := path.Join(dir, name)
		why, bad := unsafeNames[name]
		switch {
		case bad:
		case e.Type()&fs.ModeSymlink == 0 || tfsource.Loaded(name):
			continue
		case writtenNames[name]:
			why = fmt.Sprintf("terraform writes %s in its working directory, and a symlink would redirect that write anywhere on the host", name)
		case !insideRoot(root, file):
			why = "a symlink leaving the checkout (or pointing nowhere) can redirect what terraform reads or writes through it to anywhere on the host"
		default:
			// A link to a file or directory of the checkout: terraform
			// reads what the link names, which tfpr reads too.
			continue
		}
		out = append(out, Finding{
			Rule: RuleUnsafePath, Title: "unsafe path in project directory", Severity: SeverityDeny,
			File: file, Message: fmt.Sprintf("%s: %s; remove it from the repository", file, why),
		})
	}
	return out
}

// moduleSources denies module sources that load code from outside the
// checkout: a local path (./ or ../) that climbs out of it, and anything
// terraform fetches from the host's own filesystem (an absolute path, a
// file: URL, a forced getter given a path). Such a module is neither in the
// repository nor reviewed, yet terraform loads and runs it.
func moduleSources(f *sourceFile, dir string) []Finding {
	var out []Finding
	for _, b := range f.blocks {
		if b.typ != "module" || len(b.labels) != 1 {
			continue
		}
		a := b.attr("source")
		if a == nil {
			continue
		}
		source := b.staticString("source")
		why := ""
		s := strings.ToLower(strings.ReplaceAll(source, `\`, "/"))
		switch {
		case strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../"):
			if t := path.Join(dirOrDot(dir), s); t == ".." || strings.HasPrefix(t, "../") {
				why = "climbs out of the repository"
			}
		case hostSource(s):
			why = "loads a module from the host's filesystem"
		}
		if why == "" {
			continue
		}
		out = append(out, Finding{
			Rule: RuleUnsafePath, Title: "module source outside the repository", Severity: SeverityDeny,
			File: f.path, Line: a.start, EndLine: a.end, Address: "module." + b.labels[0], Attribute: "source",
			Message: fmt.Sprintf("module %q: source %q %s; terraform would load code nobody reviewed, so use a module in the repository or a registry module", b.labels[0], source, why),
		})
	}
	return out
}

// hostSource reports whether a (lower-cased, slash) non-local module source
// reads the host's filesystem.
func hostSource(s string) bool {
	forced := false
	if i := strings.Index(s, "::"); i >= 0 {
		s, forced = s[i+2:], true
	}
	drive := len(s) > 1 && s[1] == ':' && s[0] >= 'a' && s[0] <= 'z'
	return strings.HasPrefix(s, "/") || strings.HasPrefix(s, "~") || strings.Contains(s, "file:") || drive ||
		(forced && strings.HasPrefix(s, "."))
}
