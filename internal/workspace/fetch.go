package workspace

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/tfpr/tfpr/internal/metrics"
	"github.com/tfpr/tfpr/internal/observe"
)

var fullSHA = regexp.MustCompile(`^(?:[0-9a-f]{40}|[0-9a-f]{64})$`)

// maintenanceEvery is how many fetches of one mirror pass between runs of
// git's automatic maintenance. git fetch would start it after every fetch,
// a process per run; the loose objects a few dozen small fetches leave do
// not slow git down.
const maintenanceEvery = 32

// Fetch creates the bare mirror on first use and fetches the given refspecs
// from repo.CloneURL. A refspec whose source is a full commit id (a bare
// sha, or "+sha:refs/..." to keep it under a ref) is not fetched when the
// mirror already holds that commit, and a fetch of nothing but such ids
// asks the server for no ref list. token may be empty for public or local
// repositories.
func (m *Manager) Fetch(ctx context.Context, repo Repo, token string, refspecs ...string) error {
	defer observe.Time(ctx, metrics.PhaseFetch)()
	if err := m.fetch(ctx, repo, token, refspecs); err != nil {
		if ctx.Err() == nil {
			m.Metrics.GitError(metrics.GitFetch)
		}
		return fmt.Errorf("fetch %s: %w", repo.FullName, err)
	}
	return nil
}

func (m *Manager) fetch(ctx context.Context, repo Repo, token string, refspecs []string) error {
	mirror, err := m.mirrorPath(repo)
	if err != nil {
		return err
	}
	if err := checkCloneURL(repo.CloneURL); err != nil {
		return err
	}
	if len(refspecs) == 0 {
		return errors.New("no refspecs given")
	}
	for _, rs := range refspecs {
		if rs == "" || strings.HasPrefix(rs, "-") || strings.ContainsAny(rs, " \t\r\n\x00") {
			return fmt.Errorf("invalid refspec %q", rs)
		}
	}

	st, unlock, err := m.lock(ctx, mirror)
	if err != nil {
		return err
	}
	defer unlock()

	if err := m.ensureMirror(ctx, st, mirror, repo.CloneURL); err != nil {
		return err
	}
	want, point, err := m.missing(ctx, mirror, refspecs)
	if err != nil {
		return err
	}
	if len(want) == 0 && len(point) > 0 {
		err := m.pointRefs(ctx, mirror, point)
		if err == nil {
			return nil
		}
		// update-ref or rev-list stopped mid-write may leave a lock.
		st.swept = false
		if !errors.Is(err, errIncomplete) || ctx.Err() != nil {
			return err
		}
		m.log.InfoContext(ctx, "a held commit is incomplete; fetching it", "repo", repo.FullName, "err", err)
		for _, p := range point {
			want = append(want, "+"+p.id+":"+p.ref)
		}
		point = nil
	}
	if len(want) == 0 {
		return nil
	}

	start := time.Now()
	var secrets []string
	auth := ""
	if token != "" {
		basic := base64.StdEncoding.EncodeToString([]byte("x-access-token:" + token))
		auth = "Basic " + basic
		secrets = []string{token, "Authorization: " + auth, basic}
	}
	if direct, ok := directWants(repo.CloneURL, want); ok {
		err := m.fetchDirect(ctx, mirror, repo.CloneURL, auth, secrets, refspecs, append(direct, point...), len(direct))
		if err == nil {
			m.log.DebugContext(ctx, "fetched", "repo", repo.FullName, "refspecs", want, "duration", time.Since(start), "client", "tfpr")
			return m.afterFetch(ctx, st, mirror, repo)
		}
		// index-pack or update-ref stopped mid-write may leave a lock.
		st.swept = false
		if ctx.Err() != nil {
			return err
		}
		// git's own client is the authority: it asks again from scratch.
		m.log.InfoContext(ctx, "fetch by commit id in one request failed; fetching with git", "repo", repo.FullName, "err", err)
		start = time.Now()
	}
	// The URL rather than the remote's name: git needs no remote config,
	// and tfpr needs no process to keep that config in step.
	args := append([]string{"--git-dir=" + mirror, "fetch", "--no-tags", "--no-recurse-submodules",
		"--no-write-fetch-head", "--no-auto-maintenance", "--quiet", repo.CloneURL}, want...)
	for _, p := range point {
		args = append(args, "+"+p.id+":"+p.ref)
	}
	var env []string
	if token != "" {
		env = []string{"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=http.extraHeader", "GIT_CONFIG_VALUE_0=Authorization: " + auth}
	}
	if _, err := m.run(ctx, runOpts{env: env, secrets: secrets}, args...); err != nil {
		// A git killed mid-write (a cancelled run) can leave a lock file
		// behind: clear it before the next fetch.
		st.swept = false
		return err
	}
	m.log.DebugContext(ctx, "fetched", "repo", repo.FullName, "refspecs", want, "duration", time.Since(start), "client", "git")
	return m.afterFetch(ctx, st, mirror, repo)
}

// afterFetch runs git's housekeeping every maintenanceEvery fetches.
func (m *Manager) afterFetch(ctx context.Context, st *mirrorState, mirror string, repo Repo) error {
	if st.fetches++; st.fetches >= maintenanceEvery {
		st.fetches = 0
		// Under the lock, so it never races a fetch; a failure only
		// postpones the housekeeping.
		if _, err := m.run(ctx, runOpts{}, "--git-dir="+mirror, "maintenance", "run", "--auto", "--quiet"); err != nil {
			m.log.WarnContext(ctx, "git maintenance", "repo", repo.FullName, "err", err)
		}
	}
	return nil
}

// missing returns the refspecs still to fetch, all but those whose source
// is a full commit id the mirror holds, and of those held the ones whose
// ref does not name the id yet (a ref a failed update left unset, or a
// base another pull request fetched). One cat-file process answers for
// every id and ref.
func (m *Manager) missing(ctx context.Context, mirror string, refspecs []string) (want []string, point []wantedID, err error) {
	var in bytes.Buffer
	type asked struct {
		i       int
		id, ref string
	}
	var byID []asked
	lines := 0
	for i, rs := range refspecs {
		src, dst, _ := strings.Cut(strings.TrimPrefix(rs, "+"), ":")
		if !fullSHA.MatchString(src) {
			continue
		}
		in.WriteString(src + "^{commit}\n")
		lines++
		if dst != "" {
			in.WriteString(dst + "\n")
			lines++
		}
		byID = append(byID, asked{i, src, dst})
	}
	if len(byID) == 0 {
		return refspecs, nil, nil
	}
	out, err := m.run(ctx, runOpts{stdin: in.Bytes()}, "--git-dir="+mirror, "cat-file", "--batch-check=%(objectname) %(objecttype)")
	if err != nil {
		return nil, nil, err
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(got) != lines {
		return nil, nil, fmt.Errorf("cat-file answered %d lines for %d names", len(got), lines)
	}
	held := map[int]bool{}
	k := 0
	for _, a := range byID {
		held[a.i] = got[k] == a.id+" commit"
		k++
		if a.ref == "" {
			continue
		}
		named := strings.HasPrefix(got[k], a.id+" ")
		k++
		if held[a.i] && !named {
			point = append(point, wantedID{id: a.id, ref: a.ref})
		}
	}
	for i, rs := range refspecs {
		if !held[i] {
			want = append(want, rs)
		}
	}
	return want, point, nil
}

// errIncomplete is a commit the mirror holds without all its objects.
var errIncomplete = errors.New("commits are incomplete")

// pointRefs names held commits under their refs, in one transaction, once
// git has checked that each is whole: no ref ever names a commit a failed
// fetch stored without all its objects.
func (m *Manager) pointRefs(ctx context.Context, mirror string, point []wantedID) error {
	var ids, updates strings.Builder
	for _, p := range point {
		ids.WriteString(p.id + "\n")
		if p.ref != "" {
			updates.WriteString("update " + p.ref + " " + p.id + "\n")
		}
	}
	if _, err := m.run(ctx, runOpts{stdin: []byte(ids.String())}, "--git-dir="+mirror, "rev-list", "--objects", "--quiet", "--stdin", "--not", "--all"); err != nil {
		return fmt.Errorf("%w: %w", errIncomplete, err)
	}
	if updates.Len() == 0 {
		return nil
	}
	_, err := m.run(ctx, runOpts{stdin: []byte(updates.String())}, "--git-dir="+mirror, "update-ref", "--stdin")
	return err
}

// ensureMirror initialises the bare mirror atomically (init in a temporary
// directory, then rename) so a crash never leaves a half-made mirror, clears
// the lock files a crash left in an existing one, and keeps remote.origin.url, which people inspecting the mirror read, in step
// with the clone URL once per process.
func (m *Manager) ensureMirror(ctx context.Context, st *mirrorState, mirror, cloneURL string) error {
	if _, err := os.Stat(filepath.Join(mirror, "HEAD")); err == nil {
		if !st.swept {
			if err := sweepLocks(mirror); err != nil {
				return err
			}
			st.swept = true
		}
		if st.url == cloneURL {
			return nil
		}
		if _, err := m.run(ctx, runOpts{}, "--git-dir="+mirror, "config", "remote.origin.url", cloneURL); err != nil {
			return err
		}
		st.url = cloneURL
		return nil
	}
	parent := filepath.Dir(mirror)
	if err := os.MkdirAll(parent, 0o750); err != nil {
		return fmt.Errorf("create mirror dir: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, ".init-*")
	if err != nil {
		return fmt.Errorf("create mirror dir: %w", err)
	}
	defer os.RemoveAll(tmp) // no-op after a successful rename
	if _, err := m.run(ctx, runOpts{}, "init", "--bare", "--quiet", tmp); err != nil {
		return err
	}
	// Automatic gc runs inside the fetch, under the repo lock, rather than
	// as a detached process racing the next fetch or a Close.
	if _, err := m.run(ctx, runOpts{}, "--git-dir="+tmp, "config", "gc.autoDetach", "false"); err != nil {
		return err
	}
	if _, err := m.run(ctx, runOpts{}, "--git-dir="+tmp, "config", "remote.origin.url", cloneURL); err != nil {
		return err
	}
	if err := os.RemoveAll(mirror); err != nil {
		return fmt.Errorf("clear stale mirror: %w", err)
	}
	if err := os.Rename(tmp, mirror); err != nil {
		return fmt.Errorf("create mirror: %w", err)
	}
	st.url, st.swept = cloneURL, true
	m.log.InfoContext(ctx, "created mirror", "path", mirror)
	return nil
}

// sweepLocks removes the lock files a git killed mid-write leaves (a ref's
// .lock, packed-refs.lock, config.lock, a commit-graph's): git refuses to
// update what such a file guards, so one would fail every later fetch. Only
// this process writes the mirror, and it holds the mirror's lock, so every
// lock file found is stale. The object directories hold no locks and are
// skipped: they are most of the mirror's files.
func sweepLocks(mirror string) error {
	err := filepath.WalkDir(mirror, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if rel, _ := filepath.Rel(mirror, filepath.Dir(p)); rel == "objects" && d.Name() != "info" {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(d.Name(), ".lock") {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("clear stale lock files in %s: %w", mirror, err)
	}
	return nil
}

// IsCommitID reports whether s is a full commit id (SHA-1 or SHA-256, in
// lower-case hex), which Fetch takes as a refspec's source.
func IsCommitID(s string) bool { return fullSHA.MatchString(s) }
