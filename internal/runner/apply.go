package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/tfpr/tfpr/internal/project"
	"github.com/tfpr/tfpr/internal/report"
	"github.com/tfpr/tfpr/internal/store"
	"github.com/tfpr/tfpr/internal/terraform"
)

// expandMerge queues one apply per affected project for every first-parent
// commit of the default branch between the repo's cursor and the job's
// commit, oldest first. However a merge is announced (closed PR, push,
// redelivery, resync) the unique (project, commit) key makes it one apply.
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
	}
	cursor, err := r.store.Cursor(ctx, j.Repo.FullName)
	if err != nil {
		return err
	}
	from := cursor
	if from == "" || !r.ws.Has(ctx, s.repo, from) {
		// First merge tfpr sees: start from the push's before, or just this
		// commit. Never skip ahead: an apply of an unchanged project is a
		// no-op, a skipped merge is an apply lost.
		from = j.Before
		if from != "" && !r.ws.Has(ctx, s.repo, from) {
			from = ""
		}
	}
	commits, err := r.ws.FirstParents(ctx, s.repo, from, target)
	if err != nil {
		return err
	}
	if len(commits) == 0 {
		return nil // already queued up to here
	}
	head := commits[len(commits)-1]
	for _, c := range commits {
		affected, err := r.affectedBy(ctx, s, c)
		if err != nil {
			return err
		}
		if len(affected) == 0 {
			continue
		}
		m := r.mergeOf(ctx, s, j, c)
		for _, p := range affected {
			id, created, err := r.store.CreateRun(ctx, store.Run{Kind: "apply", Repo: j.Repo.FullName, Project: p, PR: m.PR, SHA: c,
				Trigger: j.Trigger, MergedBy: m.MergedBy, JobID: j.ID})
			if err != nil {
				return err
			}
			if created {
				r.log.Info("apply queued", "run", id, "project", p, "sha", short(c), "pr", m.PR)
				r.sayIfBlocked(ctx, s, j.Repo.FullName, p, m.PR)
			}
		}
	}
	return r.store.SetCursor(ctx, j.Repo.FullName, head)
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
	g, err := project.Scan(ctx, co.Dir)
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
			r.log.Warn("record merge", "sha", c, "err", err)
		}
	} else if err != nil {
		r.log.Warn("find PR of merge commit", "sha", c, "err", err)
	}
	return m
}

// planJSON fetches the JSON form saved beside a reviewed plan, for the
// plan-stage policies. Without it they would judge an empty plan, so a
// missing JSON is reported and the policies fail closed on it.
func (r *Runner) planJSON(ctx context.Context, key, local string) []byte {
	if err := r.files.Get(ctx, key+".json", local); err != nil {
		r.log.Warn("read saved plan JSON", "key", key, "err", err)
		return nil
	}
	js, err := os.ReadFile(local)
	if err != nil {
		r.log.Warn("read saved plan JSON", "file", local, "err", err)
	}
	return js
}

// diffChanges describes how two plans' resource changes differ, "" if not.
func diffChanges(reviewedJSON string, now []terraform.ResourceChange) string {
	var before []terraform.ResourceChange
	_ = json.Unmarshal([]byte(reviewedJSON), &before)
	key := func(c terraform.ResourceChange) string { return c.Address + " (" + strings.Join(c.Actions, ",") + ")" }
	var a, b []string
	for _, c := range before {
		a = append(a, key(c))
	}
	for _, c := range now {
		b = append(b, key(c))
	}
	slices.Sort(a)
	slices.Sort(b)
	var added, gone []string
	for _, k := range b {
		if !slices.Contains(a, k) {
			added = append(added, k)
		}
	}
	for _, k := range a {
		if !slices.Contains(b, k) {
			gone = append(gone, k)
		}
	}
	var parts []string
	if len(added) > 0 {
		parts = append(parts, "now also "+strings.Join(added, ", "))
	}
	if len(gone) > 0 {
		parts = append(parts, "no longer "+strings.Join(gone, ", "))
	}
	return strings.Join(parts, "; ")
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
		r.log.Warn("say apply waits", "pr", pr, "err", err)
	}
}
