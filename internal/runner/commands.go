package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tfpr/tfpr/internal/githubapp"
	"github.com/tfpr/tfpr/internal/report"
	"github.com/tfpr/tfpr/internal/store"
)

// command carries out a `tfpr ...` comment after checking who asked.
func (r *Runner) command(ctx context.Context, j store.Job) error {
	gh, err := r.gh.Repo(j.Repo.Installation, j.Repo.FullName)
	if err != nil {
		return err
	}
	args := commandArgs(j.Body)
	// Answers are a reaction on the command plus text in the living
	// comment, never a comment per command.
	reply := func(text string) error { return r.answer(ctx, gh, j, githubapp.ReactionSeen, text, false) }
	done := func(text string) error { return r.answer(ctx, gh, j, githubapp.ReactionDone, text, false) }
	if len(args) == 0 || args[0] == "help" {
		return r.answer(ctx, gh, j, githubapp.ReactionDone, "the commands tfpr knows:", true)
	}
	verb := args[0]
	if !slices.Contains(report.Verbs, verb) {
		return r.answer(ctx, gh, j, githubapp.ReactionConfused, report.UnknownCommand(verb), false)
	}
	if verb == "approve" {
		return r.approve(ctx, j, args[1:], reply)
	}
	perm, err := gh.Permission(ctx, j.Actor)
	if err != nil {
		return err
	}
	if !slices.Contains([]string{"admin", "maintain", "write"}, perm) {
		r.log.Warn("command refused", "user", j.Actor, "permission", perm, "command", verb)
		return r.answer(ctx, gh, j, githubapp.ReactionRefused, fmt.Sprintf("`tfpr %s` needs write access to %s; you have %s. Nothing was run.", verb, j.Repo.FullName, perm), false)
	}
	switch verb {
	case "plan":
		if !j.IsPR {
			return reply("`tfpr plan` works on pull requests only.")
		}
		pr, err := gh.PullRequest(ctx, j.PR)
		if err != nil {
			return err
		}
		if pr.State != "open" {
			return reply("this pull request is not open; nothing to plan.")
		}
		projects, err := planTargets(args[1:])
		if err != nil {
			return reply(err.Error())
		}
		if _, err = r.store.EnqueueJob(ctx, store.Job{Kind: store.JobPR, Repo: j.Repo, PR: pr.Number, HeadSHA: pr.HeadSHA, BaseRef: pr.BaseRef,
			Author: pr.Author, Fork: pr.Fork, Trigger: "comment:" + j.Actor, Projects: projects}); err != nil {
			return err
		}
		if j.CommentID > 0 {
			// The reply is the re-planned living comment itself.
			if err := gh.React(ctx, j.CommentID, githubapp.ReactionDone); err != nil {
				r.log.Warn("react to command", "comment", j.CommentID, "err", err)
			}
		}
		return nil
	case "apply":
		return r.retryApply(ctx, j, reply)
	case "unblock":
		if len(args) == 3 && args[1] == "-p" {
			// Anywhere, for a block whose issue could not be opened.
			p := strings.Trim(args[2], "/")
			if _, err := r.store.Blocked(ctx, j.Repo.FullName, p); err != nil {
				return reply(fmt.Sprintf("`%s` is not blocked.", p))
			}
			if ok, err := r.mayRelease(ctx, j, p); err != nil || !ok {
				return refuseOwner(err, reply, "unblock", p)
			}
			if err := r.store.Unblock(ctx, j.Repo.FullName, p); err != nil {
				return err
			}
			r.poke()
			return done(fmt.Sprintf("unblocked `%s`: queued applies of it run again, in merge order.", p))
		}
		b, err := r.store.BlockByIssue(ctx, j.Repo.FullName, j.PR)
		if errors.Is(err, store.ErrNotFound) {
			return reply("no project is blocked by this issue; use `tfpr unblock -p DIR` to name one.")
		}
		if err != nil {
			return err
		}
		if ok, err := r.mayRelease(ctx, j, b.Project); err != nil || !ok {
			return refuseOwner(err, reply, "unblock", b.Project)
		}
		r.log.Info("project unblocked", "project", b.Project, "by", j.Actor)
		if err := r.store.Unblock(ctx, j.Repo.FullName, b.Project); err != nil {
			return err
		}
		r.poke()
		return gh.CloseIssue(ctx, j.PR, fmt.Sprintf("@%s unblocked `%s`: queued applies of it run again, in merge order.", j.Actor, b.Project))
	}
	return nil
}

// retryApply requeues a failed apply (on its issue) or releases applies
// held for approval (on the merged PR).
func (r *Runner) retryApply(ctx context.Context, j store.Job, reply func(string) error) error {
	if b, err := r.store.BlockByIssue(ctx, j.Repo.FullName, j.PR); err == nil {
		run, err := r.store.GetRun(ctx, b.RunID)
		if err != nil {
			return err
		}
		if ok, err := r.mayRelease(ctx, j, b.Project); err != nil || !ok {
			return refuseOwner(err, reply, "apply", b.Project)
		}
		// A retry approves nothing: the apply goes through the same gate
		// and drift check as the first attempt.
		moved, err := r.store.SetRunStatus(ctx, run.ID, []string{store.StatusFailed, store.StatusDenied}, store.StatusQueued,
			store.Release{User: j.Actor, Kind: store.Retried})
		if err != nil {
			return err
		}
		if !moved {
			return reply(fmt.Sprintf("the apply of `%s` at %s is already being retried.", b.Project, short(run.SHA)))
		}
		if err := r.store.Unblock(ctx, j.Repo.FullName, b.Project); err != nil {
			return err
		}
		r.poke()
		return reply(fmt.Sprintf("retrying the apply of `%s` at %s.", b.Project, short(run.SHA)))
	}
	held, err := r.store.FindRuns(ctx, j.Repo.FullName, j.PR, "apply", store.StatusWaiting)
	if err != nil {
		return err
	}
	if len(held) == 0 {
		return reply("nothing is waiting for `tfpr apply` here.")
	}
	var names []string
	for _, run := range held {
		ok, err := r.mayRelease(ctx, j, run.Project)
		if err != nil {
			return err
		}
		if !ok {
			return reply(fmt.Sprintf("only a code owner of `%s` (CODEOWNERS) or an approver can release its held apply.", run.Project))
		}
		moved, err := r.store.SetRunStatus(ctx, run.ID, []string{store.StatusWaiting}, store.StatusQueued,
			store.Release{User: j.Actor, Kind: store.ApprovedPlan})
		if err != nil {
			return err
		}
		if moved {
			names = append(names, "`"+run.Project+"`")
		}
	}
	if len(names) == 0 {
		return reply("those applies are already released.")
	}
	r.poke()
	return reply("applying " + strings.Join(names, ", ") + ".")
}

// refuseOwner answers a command only a code owner or an approver may give.
func refuseOwner(err error, reply func(string) error, verb, p string) error {
	if err != nil {
		return err
	}
	return reply(fmt.Sprintf("`tfpr %s` on `%s` needs a code owner of the project (CODEOWNERS on the default branch) or an approver; "+
		"write access is not enough. Nothing was done.", verb, p))
}

// commandArgs returns the words after "tfpr" on the first line addressing
// tfpr.
func commandArgs(body string) []string {
	for _, line := range strings.Split(body, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == "tfpr" {
			return f[1:]
		}
	}
	return nil
}

func planTargets(args []string) ([]string, error) {
	var out []string
	for i := 0; i < len(args); i++ {
		if args[i] != "-p" || i+1 >= len(args) {
			return nil, fmt.Errorf("usage: `tfpr plan [-p DIR]...`; got %q", strings.Join(args, " "))
		}
		out = append(out, strings.Trim(args[i+1], "/"))
		i++
	}
	return out, nil
}

// resync is the level-triggered safety net: every open PR should have a
// plan job at its head and the default branch should be queued up to its
// tip. Whatever a missed webhook or a crash lost is found here.
func (r *Runner) resync(ctx context.Context) {
	// GitHub redelivers for a few days at most; a month of finished jobs is
	// plenty to debug with. Runs are never pruned: they are the audit trail.
	if n, err := r.store.Prune(ctx, time.Now().Add(-30*24*time.Hour)); err != nil {
		r.log.Warn("prune store", "err", err)
	} else if n > 0 {
		r.log.Info("pruned store", "rows", n)
	}
	repos, err := r.store.Repos(ctx)
	if err != nil {
		r.log.Error("resync", "err", err)
		return
	}
	for _, repo := range repos {
		if r.cfg.AllowRepo != nil && !r.cfg.AllowRepo(repo.FullName) {
			continue
		}
		if err := r.resyncRepo(ctx, repo); err != nil {
			r.log.Error("resync", "repo", repo.FullName, "err", err)
		}
	}
}

func (r *Runner) resyncRepo(ctx context.Context, repo store.Repo) error {
	gh, err := r.gh.Repo(repo.Installation, repo.FullName)
	if err != nil {
		return err
	}
	prs, err := gh.OpenPullRequests(ctx, repo.DefaultBranch)
	if err != nil {
		return err
	}
	for _, pr := range prs {
		done, err := r.store.HasJob(ctx, store.JobPR, repo.FullName, pr.Number, pr.HeadSHA)
		if err != nil {
			return err
		}
		if done {
			continue
		}
		if _, err := r.store.EnqueueJob(ctx, store.Job{Kind: store.JobPR, Repo: repo, PR: pr.Number, HeadSHA: pr.HeadSHA, BaseRef: pr.BaseRef,
			Author: pr.Author, Fork: pr.Fork, Trigger: "resync"}); err != nil {
			return err
		}
	}
	r.recoverCommands(ctx, gh, repo, prs)
	if pending, err := r.store.PendingJob(ctx, store.JobMerge, repo.FullName, 0, ""); err != nil || pending {
		return err
	}
	_, err = r.store.EnqueueJob(ctx, store.Job{Kind: store.JobMerge, Repo: repo, Trigger: "resync"})
	r.poke()
	return err
}
