package workspace

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"sort"
	"strings"
)

// checkRev rejects revisions git could read as an option or that are not a
// plain commit name. Ref names cannot contain "..", ":" or whitespace, so
// nothing legitimate is refused.
func checkRev(rev string) error {
	if rev == "" || strings.HasPrefix(rev, "-") || strings.Contains(rev, "..") ||
		strings.ContainsAny(rev, ": \t\r\n\x00") {
		return fmt.Errorf("invalid revision %q", rev)
	}
	return nil
}

// resolveCommit returns the full id of the commit rev names in mirror.
func (m *Manager) resolveCommit(ctx context.Context, mirror, rev string) (string, error) {
	if err := checkRev(rev); err != nil {
		return "", err
	}
	out, err := m.run(ctx, runOpts{}, "--git-dir="+mirror, "rev-parse", "--verify", "--quiet", "--end-of-options", rev+"^{commit}")
	if err != nil {
		if ctx.Err() != nil {
			return "", err
		}
		return "", fmt.Errorf("commit %s not found in mirror (fetch it first)", rev)
	}
	return strings.TrimSpace(string(out)), nil
}

func (m *Manager) hasCommit(ctx context.Context, mirror, rev string) bool {
	if checkRev(rev) != nil {
		return false
	}
	_, err := m.run(ctx, runOpts{}, "--git-dir="+mirror, "cat-file", "-e", "--end-of-options", rev+"^{commit}")
	return err == nil
}

// Has reports whether the mirror of repo already holds commit sha.
func (m *Manager) Has(ctx context.Context, repo Repo, sha string) bool {
	mirror, err := m.existingMirror(repo)
	if err != nil {
		return false
	}
	return m.hasCommit(ctx, mirror, sha)
}

// ChangedFiles lists the files changed on head since it diverged from base
// (git's base...head): changes made on base after the branch point are not
// included. Paths are repo-relative with forward slashes, sorted, and
// include deleted files; a rename shows as both paths.
func (m *Manager) ChangedFiles(ctx context.Context, repo Repo, base, head string) ([]string, error) {
	files, err := m.changedFiles(ctx, repo, base, head)
	if err != nil {
		return nil, fmt.Errorf("changed files of %s %s...%s: %w", repo.FullName, base, head, err)
	}
	return files, nil
}

func (m *Manager) changedFiles(ctx context.Context, repo Repo, base, head string) ([]string, error) {
	mirror, err := m.existingMirror(repo)
	if err != nil {
		return nil, err
	}
	if checkRev(base) == nil && checkRev(head) == nil {
		// One process for the common case; the steps below only run to
		// say which of them failed.
		out, err := m.run(ctx, runOpts{}, "--git-dir="+mirror, "diff-tree", "-r", "--name-only", "--no-renames", "-z",
			"--merge-base", base+"^{commit}", head+"^{commit}", "--")
		if err == nil {
			return splitNUL(out), nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
	}
	baseID, err := m.resolveCommit(ctx, mirror, base)
	if err != nil {
		return nil, err
	}
	headID, err := m.resolveCommit(ctx, mirror, head)
	if err != nil {
		return nil, err
	}
	out, err := m.run(ctx, runOpts{}, "--git-dir="+mirror, "merge-base", baseID, headID)
	if err != nil {
		return nil, fmt.Errorf("no common ancestor: %w", err)
	}
	mergeBase := strings.TrimSpace(string(out))
	return m.diffNames(ctx, mirror, mergeBase, headID)
}

// diffNames uses plumbing (diff-tree) so that diff settings in the mirror
// config can never change the result.
func (m *Manager) diffNames(ctx context.Context, mirror, from, to string) ([]string, error) {
	out, err := m.run(ctx, runOpts{}, "--git-dir="+mirror, "diff-tree", "-r", "--name-only", "--no-renames", "-z", from, to, "--")
	if err != nil {
		return nil, err
	}
	return splitNUL(out), nil
}

func splitNUL(out []byte) []string {
	var files []string
	for _, f := range bytes.Split(out, []byte{0}) {
		if len(f) > 0 {
			files = append(files, string(f))
		}
	}
	sort.Strings(files)
	return files
}

// CommitFiles lists the files sha changed relative to its first parent, so
// for a merge commit it is everything the merge brought in. A root commit
// lists all its files.
func (m *Manager) CommitFiles(ctx context.Context, repo Repo, sha string) ([]string, error) {
	files, err := m.commitFiles(ctx, repo, sha)
	if err != nil {
		return nil, fmt.Errorf("files of commit %s in %s: %w", sha, repo.FullName, err)
	}
	return files, nil
}

func (m *Manager) commitFiles(ctx context.Context, repo Repo, sha string) ([]string, error) {
	mirror, err := m.existingMirror(repo)
	if err != nil {
		return nil, err
	}
	if checkRev(sha) == nil {
		// One process for a commit with a parent; a root commit, or a
		// missing one, takes the steps below.
		out, err := m.run(ctx, runOpts{}, "--git-dir="+mirror, "diff-tree", "-r", "--name-only", "--no-renames", "-z",
			sha+"^1^{commit}", sha+"^{commit}", "--")
		if err == nil {
			return splitNUL(out), nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
	}
	id, err := m.resolveCommit(ctx, mirror, sha)
	if err != nil {
		return nil, err
	}
	if parent, err := m.resolveCommit(ctx, mirror, id+"^1"); err == nil {
		return m.diffNames(ctx, mirror, parent, id)
	} else if ctx.Err() != nil {
		return nil, err
	}
	out, err := m.run(ctx, runOpts{}, "--git-dir="+mirror, "ls-tree", "-r", "--name-only", "-z", id)
	if err != nil {
		return nil, err
	}
	return splitNUL(out), nil
}

// FirstParents lists the first-parent commits in from..to, oldest first:
// the merges (or direct pushes) that landed on a branch between two pushes.
// An empty or all-zero from (a newly created branch) yields just to.
func (m *Manager) FirstParents(ctx context.Context, repo Repo, from, to string) ([]string, error) {
	shas, err := m.firstParents(ctx, repo, from, to)
	if err != nil {
		return nil, fmt.Errorf("first parents of %s %s..%s: %w", repo.FullName, from, to, err)
	}
	return shas, nil
}

func (m *Manager) firstParents(ctx context.Context, repo Repo, from, to string) ([]string, error) {
	mirror, err := m.existingMirror(repo)
	if err != nil {
		return nil, err
	}
	if from != "" && strings.Trim(from, "0") != "" && checkRev(from) == nil && checkRev(to) == nil {
		// One process when both commits are held; the steps below say
		// which one is not.
		out, err := m.run(ctx, runOpts{}, "--git-dir="+mirror, "rev-list", "--first-parent", "--reverse",
			from+"^{commit}.."+to+"^{commit}", "--")
		if err == nil {
			return strings.Fields(string(out)), nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
	}
	toID, err := m.resolveCommit(ctx, mirror, to)
	if err != nil {
		return nil, err
	}
	if from == "" || strings.Trim(from, "0") == "" {
		return []string{toID}, nil
	}
	fromID, err := m.resolveCommit(ctx, mirror, from)
	if err != nil {
		return nil, err
	}
	out, err := m.run(ctx, runOpts{}, "--git-dir="+mirror, "rev-list", "--first-parent", "--reverse", fromID+".."+toID, "--")
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(out)), nil
}

// OnBranch reports whether commit sha is in the history of branch as the
// mirror holds it (git merge-base --is-ancestor): a commit that only a PR
// head or another ref reaches is not. Fetch the branch first.
func (m *Manager) OnBranch(ctx context.Context, repo Repo, sha, branch string) (bool, error) {
	mirror, err := m.existingMirror(repo)
	if err != nil {
		return false, err
	}
	if fullSHA.MatchString(sha) && checkRev("refs/heads/"+branch) == nil {
		// One process for the common case: both commits held. Anything
		// else takes the steps below, which tell a missing commit from a
		// missing branch.
		_, err := m.run(ctx, runOpts{}, "--git-dir="+mirror, "merge-base", "--is-ancestor", sha+"^{commit}", "refs/heads/"+branch+"^{commit}")
		var exit *exec.ExitError
		switch {
		case err == nil:
			return true, nil
		case errors.As(err, &exit) && exit.ExitCode() == 1:
			return false, nil
		case ctx.Err() != nil:
			return false, err
		}
	}
	tip, err := m.resolveCommit(ctx, mirror, "refs/heads/"+branch)
	if err != nil {
		return false, fmt.Errorf("is %s on %s in %s: %w", short(sha), branch, repo.FullName, err)
	}
	if !m.hasCommit(ctx, mirror, sha) {
		return false, nil
	}
	id, err := m.resolveCommit(ctx, mirror, sha)
	if err != nil {
		return false, err
	}
	_, err = m.run(ctx, runOpts{}, "--git-dir="+mirror, "merge-base", "--is-ancestor", id, tip)
	var exit *exec.ExitError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &exit) && exit.ExitCode() == 1:
		return false, nil
	}
	return false, fmt.Errorf("is %s on %s in %s: %w", short(sha), branch, repo.FullName, err)
}

// TreeID fingerprints the content of dirs at commit sha: sha256 over each
// sorted, deduplicated dir and the git object id it holds ("-" when
// missing). Equal content gives an equal id whatever the commit, so a plan
// reviewed on a PR head can be matched to the merge commit.
func (m *Manager) TreeID(ctx context.Context, repo Repo, sha string, dirs []string) (string, error) {
	id, err := m.treeID(ctx, repo, sha, dirs)
	if err != nil {
		return "", fmt.Errorf("tree id of %s at %s: %w", repo.FullName, sha, err)
	}
	return id, nil
}

func (m *Manager) treeID(ctx context.Context, repo Repo, sha string, dirs []string) (string, error) {
	mirror, err := m.existingMirror(repo)
	if err != nil {
		return "", err
	}
	clean, err := cleanDirs(dirs)
	if err != nil {
		return "", err
	}
	commit := sha
	if !fullSHA.MatchString(sha) {
		if commit, err = m.resolveCommit(ctx, mirror, sha); err != nil {
			return "", err
		}
	}
	// One cat-file process answers for the commit and every dir, instead
	// of a rev-parse each.
	var in bytes.Buffer
	in.WriteString(commit + "^{commit}\n")
	for _, d := range clean {
		spec := commit + ":"
		if d != "." {
			spec += d
		}
		in.WriteString(spec + "\n")
	}
	out, err := m.run(ctx, runOpts{stdin: in.Bytes()}, "--git-dir="+mirror, "cat-file",
		"--batch-check=%(objectname)")
	if err != nil {
		return "", err
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if !fullSHA.MatchString(lines[0]) {
		return "", fmt.Errorf("commit %s not found in mirror (fetch it first)", sha)
	}
	lines = lines[1:]
	if len(lines) != len(clean) {
		return "", fmt.Errorf("cat-file answered %d lines for %d dirs", len(lines), len(clean))
	}
	h := sha256.New()
	for i, d := range clean {
		// Anything but an object id ("<spec> missing") means the dir is absent.
		obj := lines[i]
		if !fullSHA.MatchString(obj) {
			obj = "-"
		}
		fmt.Fprintf(h, "%s\x00%s\n", d, obj)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// cleanDirs normalises repo-relative dirs ("" and "." mean the root) and
// refuses anything that leaves the repository.
func cleanDirs(dirs []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, d := range dirs {
		if strings.ContainsAny(d, "\r\n\x00") || strings.HasPrefix(d, "/") {
			return nil, fmt.Errorf("invalid dir %q", d)
		}
		c := path.Clean("./" + d)
		if c == ".." || strings.HasPrefix(c, "../") {
			return nil, fmt.Errorf("dir %q is outside the repository", d)
		}
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out, nil
}

// ReadFile returns the content of a repo-relative file at rev, or
// os.ErrNotExist when rev has no such file.
func (m *Manager) ReadFile(ctx context.Context, repo Repo, rev, file string) ([]byte, error) {
	mirror, err := m.existingMirror(repo)
	if err != nil {
		return nil, err
	}
	commit, err := m.resolveCommit(ctx, mirror, rev)
	if err != nil {
		return nil, err
	}
	clean, err := cleanDirs([]string{file})
	if err != nil || len(clean) != 1 {
		return nil, fmt.Errorf("read %s at %s: invalid path", file, rev)
	}
	if !m.hasObject(ctx, mirror, commit+":"+clean[0]) {
		return nil, fmt.Errorf("read %s at %s: %w", file, short(commit), os.ErrNotExist)
	}
	out, err := m.run(ctx, runOpts{}, "--git-dir="+mirror, "cat-file", "blob", "--end-of-options", commit+":"+clean[0])
	if err != nil {
		return nil, fmt.Errorf("read %s at %s: %w", file, short(commit), err)
	}
	return out, nil
}

func (m *Manager) hasObject(ctx context.Context, mirror, object string) bool {
	_, err := m.run(ctx, runOpts{}, "--git-dir="+mirror, "cat-file", "-e", "--end-of-options", object)
	return err == nil
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
