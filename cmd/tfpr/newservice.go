package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/tfpr/tfpr/internal/tfsource"
)

const newServiceUsage = `usage: tfpr new-service NAME --owners @org/team[,@org/other] [--envs dev,prod] [--repo DIR] [--settings FILE] [--dry-run]

Writes microservices/NAME/<env>/{main.tf,variables.tf,outputs.tf} for each
environment (a partial backend "gcs" {} and a call to the platform's
microservice module at a pinned version) and gives the service's directory
to its owners in CODEOWNERS. The platform's values (billing account, folders,
state bucket, module source and version, ...) come from the settings file,
by default new-service.json at the repository root. Running it again with
the same arguments changes nothing; --dry-run prints the diff and writes
nothing. Exit status: 0 done (or nothing to do), 1 refused, 2 usage error.

`

// serviceIDPattern is the GCP project id shape, since the service's project
// is <service>-<env>; the lengths are checked with the env, in checkName.
var (
	serviceIDPattern = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
	envPattern       = regexp.MustCompile(`^[a-z][a-z0-9]*$`)
	userOwnerPattern = regexp.MustCompile(`^@[A-Za-z0-9](-?[A-Za-z0-9])*$`)
	teamOwnerPattern = regexp.MustCompile(`^@[A-Za-z0-9](-?[A-Za-z0-9])*/[A-Za-z0-9][A-Za-z0-9_.-]*$`)
)

// Limits that follow from the names derived from <service> and <env>:
// project ids and service account ids are 6 to 30 characters:
// <service>-<env>, tf-ro-<service>-<env>, app-<service>.
const (
	minProjectID = 6
	maxAccountID = 30
)

// codeownersPaths are where GitHub looks, in its order.
var codeownersPaths = []string{".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"}

// serviceRequest is what the user asked for.
type serviceRequest struct {
	name   string
	owners []string
	envs   []string
}

// fileChange is one file new-service would write: old is nil for a file
// that does not exist yet.
type fileChange struct {
	path string
	old  []byte
	new  []byte
}

func runNewService(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("tfpr new-service", flag.ContinueOnError)
	fset.SetOutput(stderr)
	owners := fset.String("owners", "", "comma-separated code owners of the service: `@org/team` or @user (required)")
	envs := fset.String("envs", "dev,prod", "comma-separated `environments`")
	repo := fset.String("repo", ".", "root of the monorepo")
	settingsFile := fset.String("settings", "", "platform settings `FILE` (default <repo>/"+defaultSettingsFile+")")
	dryRun := fset.Bool("dry-run", false, "print the diff, write nothing")
	fset.Usage = func() {
		fmt.Fprint(stderr, newServiceUsage)
		fset.PrintDefaults()
	}
	// The name comes first, flags after it, as the usage shows.
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if name == "" && fset.NArg() == 1 {
		name = fset.Arg(0)
	} else if fset.NArg() > 0 {
		fmt.Fprintf(stderr, "tfpr new-service: unexpected arguments %q\n", fset.Args())
		return 2
	}
	if name == "" {
		fmt.Fprint(stderr, "tfpr new-service: missing NAME\n\n")
		fset.Usage()
		return 2
	}
	req, err := parseRequest(name, *owners, *envs)
	if err != nil {
		fmt.Fprintf(stderr, "tfpr new-service: %v\n", err)
		return 2
	}
	root, err := os.OpenRoot(*repo)
	if err != nil {
		fmt.Fprintf(stderr, "tfpr new-service: repository: %v\n", err)
		return 2
	}
	defer root.Close()
	sf := *settingsFile
	if sf == "" {
		sf = filepath.Join(*repo, defaultSettingsFile)
	}
	settings, err := loadSettings(sf, req.envs)
	if err != nil {
		fmt.Fprintf(stderr, "tfpr new-service: %v\n", err)
		return 2
	}
	changes, err := planService(ctx, root, req, settings)
	if err != nil {
		fmt.Fprintf(stderr, "tfpr new-service: %v\n", err)
		return 1
	}
	if len(changes) == 0 {
		fmt.Fprintf(stdout, "microservices/%s is up to date\n", req.name)
		return 0
	}
	if *dryRun {
		for _, c := range changes {
			fmt.Fprint(stdout, unifiedDiff(c))
		}
		return 0
	}
	for _, c := range changes {
		if err := writeChange(root, c); err != nil {
			fmt.Fprintf(stderr, "tfpr new-service: %v\n", err)
			return 1
		}
		verb := "updated"
		if c.old == nil {
			verb = "created"
		}
		fmt.Fprintf(stdout, "%s %s\n", verb, c.path)
	}
	return 0
}

// parseRequest checks the name, owners and environments.
func parseRequest(name, owners, envs string) (serviceRequest, error) {
	req := serviceRequest{name: name}
	if !serviceIDPattern.MatchString(name) {
		return req, fmt.Errorf("service name %q is not a valid service id: lower-case letters, digits and single hyphens, starting with a letter and ending with a letter or digit", name)
	}
	for _, o := range splitList(owners) {
		if !userOwnerPattern.MatchString(o) && !teamOwnerPattern.MatchString(o) {
			return req, fmt.Errorf("--owners: %q is not a GitHub user (@name) or team (@org/team)", o)
		}
		if slices.Contains(req.owners, o) {
			return req, fmt.Errorf("--owners: %s is listed twice", o)
		}
		req.owners = append(req.owners, o)
	}
	if len(req.owners) == 0 {
		return req, errors.New("--owners is required: the service's code owners, e.g. --owners @acme/team-orders")
	}
	for _, e := range splitList(envs) {
		if !envPattern.MatchString(e) {
			return req, fmt.Errorf("--envs: %q is not a valid environment: lower-case letters and digits, starting with a letter", e)
		}
		if slices.Contains(req.envs, e) {
			return req, fmt.Errorf("--envs: %s is listed twice", e)
		}
		if err := checkNameLengths(name, e); err != nil {
			return req, err
		}
		req.envs = append(req.envs, e)
	}
	if len(req.envs) == 0 {
		return req, errors.New("--envs is empty: name at least one environment")
	}
	return req, nil
}

// checkNameLengths refuses a service whose derived names GCP would refuse.
func checkNameLengths(name, env string) error {
	project := name + "-" + env
	if len("app-"+name) < minProjectID {
		return fmt.Errorf("service %q: application account id app-%s is shorter than %d characters", name, name, minProjectID)
	}
	if len(project) < minProjectID {
		return fmt.Errorf("service %q in %s: project id %q is shorter than %d characters", name, env, project, minProjectID)
	}
	if n := len("tf-ro-" + project); n > maxAccountID {
		return fmt.Errorf("service %q in %s: runner account id tf-ro-%s would be %d characters, GCP allows %d (service and env together at most %d)",
			name, env, project, n, maxAccountID, maxAccountID-len("tf-ro--"))
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// planService returns the files to write, none when the service is already
// there as asked. A service directory holding anything else (another
// service of that name, or edited files) is refused rather than merged.
func planService(ctx context.Context, root *os.Root, req serviceRequest, s platformSettings) ([]fileChange, error) {
	want := map[string][]byte{}
	for _, env := range req.envs {
		for name, body := range renderService(req, env, s) {
			want[path.Join("microservices", req.name, env, name)] = body
		}
	}
	var changes []fileChange
	dir := path.Join("microservices", req.name)
	existing, err := filesUnder(ctx, root, dir)
	if err != nil {
		return nil, err
	}
	for _, p := range existing {
		if _, ok := want[p]; !ok {
			return nil, fmt.Errorf("service %s already exists: %s is not a file new-service writes; pick another name or edit the service by hand", req.name, p)
		}
	}
	paths := make([]string, 0, len(want))
	for p := range want {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		old, err := readRepoFile(root, p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			changes = append(changes, fileChange{path: p, new: want[p]})
		case err != nil:
			return nil, err
		case !bytes.Equal(old, want[p]):
			return nil, fmt.Errorf("service %s already exists: %s differs from what new-service writes; pick another name or edit the service by hand", req.name, p)
		}
	}
	co, err := planCodeowners(root, req)
	if err != nil {
		return nil, err
	}
	if co != nil {
		changes = append(changes, *co)
	}
	return changes, nil
}

// filesUnder lists the files below dir (repo-relative), none when dir does
// not exist.
func filesUnder(ctx context.Context, root *os.Root, dir string) ([]string, error) {
	var out []string
	err := fs.WalkDir(root.FS(), dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	return out, nil
}

func readRepoFile(root *os.Root, p string) ([]byte, error) {
	if _, err := root.Lstat(p); err != nil {
		return nil, err
	}
	return tfsource.ReadFile(root, p, tfsource.MaxFileSize)
}

// planCodeowners appends /microservices/NAME/ to the repository's CODEOWNERS
// (creating CODEOWNERS at the root when there is none), keeping every other
// line where it is. Appended last, the line wins over broader earlier
// patterns, as GitHub applies the last matching one.
func planCodeowners(root *os.Root, req serviceRequest) (*fileChange, error) {
	file, old := "CODEOWNERS", []byte(nil)
	for _, p := range codeownersPaths {
		raw, err := readRepoFile(root, p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read CODEOWNERS: %w", err)
		}
		file, old = p, raw
		break
	}
	pattern := "/microservices/" + req.name + "/"
	line := pattern + " " + strings.Join(req.owners, " ")
	for i, l := range strings.Split(string(old), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || f[0] != pattern {
			continue
		}
		if strings.Join(f, " ") == line {
			return nil, nil
		}
		return nil, fmt.Errorf("%s:%d already assigns %s to %s; change it there", file, i+1, pattern, strings.Join(f[1:], " "))
	}
	body := slices.Clone(old)
	if len(body) > 0 && body[len(body)-1] != '\n' {
		body = append(body, '\n')
	}
	body = append(body, line+"\n"...)
	return &fileChange{path: file, old: old, new: body}, nil
}

// writeChange writes through root, so a symlink in the repository cannot
// send the write elsewhere, and by rename, so a reader never sees half a
// file.
func writeChange(root *os.Root, c fileChange) error {
	if err := root.MkdirAll(path.Dir(c.path), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", path.Dir(c.path), err)
	}
	tmp := c.path + ".tfpr-new"
	if err := root.WriteFile(tmp, c.new, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", c.path, err)
	}
	if err := root.Rename(tmp, c.path); err != nil {
		_ = root.Remove(tmp)
		return fmt.Errorf("write %s: %w", c.path, err)
	}
	return nil
}

// unifiedDiff renders c as a unified diff. new-service only creates files
// and appends to CODEOWNERS, so the old text is always a prefix of the
// new one and one hunk at the end describes the change.
func unifiedDiff(c fileChange) string {
	var b strings.Builder
	oldLines, newLines := lines(c.old), lines(c.new)
	if len(oldLines) == 0 {
		from := "a/" + c.path
		if c.old == nil {
			from = "/dev/null"
		}
		fmt.Fprintf(&b, "--- %s\n+++ b/%s\n@@ -0,0 +1,%d @@\n", from, c.path, len(newLines))
		for _, l := range newLines {
			b.WriteString("+" + l + "\n")
		}
		return b.String()
	}
	// A last line without its newline is rewritten with one.
	common := len(oldLines)
	if !bytes.HasSuffix(c.old, []byte("\n")) && common > 0 {
		common--
	}
	ctxStart := max(common-3, 0)
	removed := oldLines[common:]
	added := newLines[common:]
	fmt.Fprintf(&b, "--- a/%s\n+++ b/%s\n@@ -%d,%d +%d,%d @@\n", c.path, c.path,
		ctxStart+1, common-ctxStart+len(removed), ctxStart+1, len(newLines)-ctxStart)
	for _, l := range oldLines[ctxStart:common] {
		b.WriteString(" " + l + "\n")
	}
	for _, l := range removed {
		b.WriteString("-" + l + "\n\\ No newline at end of file\n")
	}
	for _, l := range added {
		b.WriteString("+" + l + "\n")
	}
	return b.String()
}

func lines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}
