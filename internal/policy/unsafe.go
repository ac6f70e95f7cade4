package policy

import (
	"fmt"
	"io/fs"
	"path"
	"strings"
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

// unsafePaths denies what a PR could put in the project directory to run
// code during plan without any .tf file saying so: plugin directories and
// symlinks (terraform writes .terraform, the lock file and its plan files
// there, and a symlink would redirect those writes anywhere on the host).
// It is a check on the checkout, not a Rego rule, because it is about what
// terraform will execute, which no policy may switch off. entries are the
// directory's entries as read (symlinks not followed).
func unsafePaths(dir string, entries []fs.DirEntry) []Finding {
	var out []Finding
	for _, e := range entries {
		name := e.Name()
		file := path.Join(dir, name)
		why, bad := unsafeNames[name]
		switch {
		case bad:
		case e.Type()&fs.ModeSymlink != 0 && !strings.HasSuffix(name, ".tf") && !strings.HasSuffix(name, ".tf.json"):
			why = "a symlink in a project directory can redirect terraform's writes (.terraform, the lock file, plan files) outside the checkout"
		default:
			continue
		}
		out = append(out, Finding{
			Rule: RuleUnsafePath, Title: "unsafe path in project directory", Severity: SeverityDeny,
			File: file, Message: fmt.Sprintf("%s: %s; remove it from the repository", file, why),
		})
	}
	return out
}
