package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/tfpr/tfpr/internal/report"
	"github.com/tfpr/tfpr/internal/store"
)

// expandMerge queues one apply per affected project for every first-parent
// commit of the default branch between the repo's cursor and the job's
// commit, oldest first. However a merge is announced (closed PR, push,
// redelivery, resync) the unique (project, commit) key makes it one apply.
// A commit the default branch does not reach is never applied, and a PR
// that landed as several commits (a rebase merge) is applied once, at its
// last commit.
func (r *Runner) expandMerge(ctx context.Context, j store.Job) error {
	branch := j.Repo.DefaultBranch
	l := r.lockOf(r.repos, j.Repo.FullName)
	l.Lock()
	defer l.Unlock()
	s, err := r.open(ctx, j.Repo, fmt.Sprintf("+refs/heads/%s:refs/heads/%s", branch, branch))
	if err != nil {
		return err
	}
	target := j.SHA
	if target == "" || !r.ws.Has(ctx, s.repo, target) {
		target = "refs/heads/" + branch
	} else if err := r.checkOnBranch(ctx, s, j.Repo, target, j.PR); err != nil {
		return err
	}
	cursor, err := r.store.Cursor(ctx, j.Repo.FullName)
	if err != nil {
		return err
	}
	from := expandFrom(cursor, j.Before, func(sha string) bool { return r.ws.Has(ctx, s.repo, sha) })
	commits, err := r.ws.FirstParents(ctx, s.repo, from, target)
	if err != nil {
		return err
	}
	if len(commits) == 0 {
		return nil // already queued up to here
	}
	head := commits[len(commits)-1]
	var landed []landing
	for _, c := range commits {
		affected, err := r.affectedBy(ctx, s, c)
		if err != nil {
			return err
		}
		if len(affected) > 0 {
			landed = append(landed, landing{SHA: c, Merge: r.mergeOf(ctx, s, j, c), Projects: affected})
		}
	}
	for _, u := range finalStates(landed) {
		if u.Folded > 0 {
			r.logger(ctx).Info("PR landed as several commits; applying its final state once", "pr", u.Merge.PR, "sha", short(u.SHA), "skipped", u.Folded)
		}
		for _, p := range u.Projects {
			id, created, err := r.store.CreateRun(ctx, store.Run{Kind: store.RunApply, Repo: j.Repo.FullName, Project: p, PR: u.Merge.PR, SHA: u.SHA,
				Trigger: j.Trigger, MergedBy: u.Merge.MergedBy, JobID: j.ID})
			if err != nil {
				return err
			}
			if created {
				r.logger(ctx).Info("apply queued", "run", id, "project", p, "sha", short(u.SHA), "pr", u.Merge.PR)
				r.sayIfBlocked(ctx, s, j.Repo.FullName, p, u.Merge.PR)
			}
		}
	}
	return r.store.SetCursor(ctx, j.Repo.FullName, head)
}

// expandFrom picks the commit after which merges are expanded: the cursor
// (the last commit already queued), else, on the first merge tfpr sees,
// the push's before, else none (just the target). Never skip ahead: an
// apply of an unchanged project is a no-op, a skipped merge is an apply
// lost. A commit the mirror lacks cannot be a bound.
func expandFrom(cursor, before string, has func(string) bool) string {
	for _, c := range []string{cursor, before} {
		if c != "" && has(c) {
			return c
		}
	}
	return ""
}

// landing is a default-branch commit that changes projects, and the PR
// that produced it.
type landing struct {
	SHA      string
	Merge    store.Merge
	Projects []string
	Folded   int // earlier commits of the same PR folded into this one
}

// finalStates folds each run of consecutive commits from one PR (a rebase
// merge lands a PR as one commit per PR commit) into its last commit,
// with every project any of them changed: the reviewed plan is of the PR's
// final state, and its intermediate states were never planned or reviewed.
// The last commit holds all of the series' changes, so nothing is lost.
func finalStates(in []landing) []landing {
	var out []landing
	for _, l := range in {
		if n := len(out); n > 0 && l.Merge.PR > 0 && out[n-1].Merge.PR == l.Merge.PR {
			prev := out[n-1]
			l.Folded = prev.Folded + 1
			l.Projects = union(prev.Projects, l.Projects)
			out[n-1] = l
			continue
		}
		out = append(out, l)
	}
	return out
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// checkOnBranch refuses a commit the repository's default branch (just
// fetched) does not reach: the mirror also holds every PR head, and only
// what landed on the default branch may be applied.
func (r *Runner) checkOnBranch(ctx context.Context, s *session, repo store.Repo, sha string, pr int) error {
	on, err := r.ws.OnBranch(ctx, s.repo, sha, repo.DefaultBranch)
	if err != nil {
		return err
	}
	if on {
		return nil
	}
	err = fmt.Errorf("refused to apply %s: the default branch %s of %s does not contain that commit", sha, repo.DefaultBranch, repo.FullName)
	r.logger(ctx).Warn("apply refused: commit is not on the default branch", "repo", repo.FullName, "sha", sha, "pr", pr, "branch", repo.DefaultBranch)
	if pr > 0 {
		msg := fmt.Sprintf("%s\ntfpr **refused to apply** %s: it is not on %s. tfpr applies only commits the default branch contains; "+
			"nothing was applied for this event.", report.Marker("apply"), short(sha), codeSpan(repo.DefaultBranch))
		if _, cerr := s.gh.Comment(ctx, pr, msg); cerr != nil {
			r.logger(ctx).Warn("say apply refused", "pr", pr, "err", cerr)
		}
	}
	return err
}

// affectedBy lists the projects commit c changes, judged by the module
// graph at c itself: a later commit in the same batch may remove a project
// or a module call, and must not hide what c changed.
func (r *Runner) affectedBy(ctx context.Context, s *session, c string) ([]string, error) {
	files, err := r.ws.CommitFiles(ctx, s.repo, c)
	if err != nil {
		return nil, err
	}
	co, err := r.ws.Checkout(ctx, s.repo, c)
	if err != nil {
		return nil, err
	}
	defer co.Close(context.WithoutCancel(ctx))
	g, err := r.scan.Scan(ctx, co.Dir)
	if err != nil {
		return nil, err
	}
	return g.Affected(files), nil
}

// mergeOf finds the PR that produced commit c: from the closed event if it
// came first, else from GitHub.
func (r *Runner) mergeOf(ctx context.Context, s *session, j store.Job, c string) store.Merge {
	if m, err := r.store.MergeFor(ctx, j.Repo.FullName, c); err == nil {
		return m
	}
	m := store.Merge{Repo: j.Repo.FullName, SHA: c}
	if pr, ok, err := s.gh.MergedPullRequest(ctx, c); err == nil && ok {
		m.PR, m.HeadSHA, m.MergedBy = pr.Number, pr.HeadSHA, pr.MergedBy
		if err := r.store.RecordMerge(ctx, m); err != nil {
			r.logger(ctx).Warn("record merge", "sha", c, "err", err)
		}
	} else if err != nil {
		r.logger(ctx).Warn("find PR of merge commit", "sha", c, "err", err)
	}
	return m
}

func (r *Runner) repoOf(ctx context.Context, fullName string) (store.Repo, error) {
	repos, err := r.store.Repos(ctx)
	if err != nil {
		return store.Repo{}, err
	}
	for _, rp := range repos {
		if rp.FullName == fullName {
			return rp, nil
		}
	}
	return store.Repo{}, fmt.Errorf("repository %s is unknown to tfpr", fullName)
}

// fileHash is the sha256 of a plan file, recorded for the audit trail.
func fileHash(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}

// sayIfBlocked tells a merged PR that its apply waits behind a failed one.
func (r *Runner) sayIfBlocked(ctx context.Context, s *session, repo, p string, pr int) {
	b, err := r.store.Blocked(ctx, repo, p)
	if err != nil || pr == 0 {
		return
	}
	msg := fmt.Sprintf("%s\nThe apply of `%s` for this merge is **waiting**: an earlier apply of the project failed (%s). "+
		"It runs, in merge order, once the project is unblocked on issue #%d (`tfpr unblock` or `tfpr apply` there).", report.Marker("apply"), p, b.Reason, b.Issue)
	if _, err := s.gh.Comment(ctx, pr, msg); err != nil {
		r.logger(ctx).Warn("say apply waits", "pr", pr, "err", err)
	}
}
