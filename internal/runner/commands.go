package runner

import (
	"bytes"

	"context"
	"errors"
	"fmt"
	"github.com/hmarr/codeowners"
	"slices"
	"strings"
	"time"

	"github.com/tfpr/tfpr/internal/store"
)

const helpText = "tfpr commands (comment on a pull request):\n\n" +
	"| command | what it does | who |\n|---|---|---|\n" +
	"| `tfpr plan` | re-plan every affected project at the PR head | write access |\n" +
	"| `tfpr plan -p DIR` | re-plan only project DIR (repeatable) | write access |\n" +
	"| `tfpr apply` | on a merged PR: apply plans held for approval; on an apply-failure issue: retry the failed apply | write access |\n" +
	"| `tfpr approve RULE` | override a plan-stage policy denial for this PR head | configured approvers, not the PR author |\n" +
	"| `tfpr unblock` | on an apply-failure issue: let later merges of the project apply again | write access |\n" +
	"| `tfpr help` | this text | anyone |\n"

// command carries out a `tfpr ...` comment after checking who asked.
func (r *Runner) command(ctx context.Context, j store.Job) error {
	gh, err := r.gh.Repo(j.Repo.Installation, j.Repo.FullName)
	if err != nil {
		return err
	}
	args := commandArgs(j.Body)
	reply := func(text string) error {
		_, err := gh.Comment(ctx, j.PR, "@"+j.Actor+" "+text)
		return err
	}
	if len(args) == 0 || args[0] == "help" {
		return reply(helpText)
	}
	verb := args[0]
	known := map[string]bool{"plan": true, "apply": true, "approve": true, "unblock": true}
	if !known[verb] {
		return reply(fmt.Sprintf("`tfpr %s` is not a tfpr command.\n\n%s", verb, helpText))
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
		return reply(fmt.Sprintf("`tfpr %s` needs write access to %s; you have %s. Nothing was run.", verb, j.Repo.FullName, perm))
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
		_, err = r.store.EnqueueJob(ctx, store.Job{Kind: store.JobPR, Repo: j.Repo, PR: pr.Number, HeadSHA: pr.HeadSHA, BaseRef: pr.BaseRef,
			Author: pr.Author, Fork: pr.Fork, Trigger: "comment:" + j.Actor, Projects: projects})
		return err
	case "apply":
		return r.retryApply(ctx, j, reply)
	case "unblock":
		if len(args) == 3 && args[1] == "-p" {
			// Anywhere, for a block whose issue could not be opened.
			p := strings.Trim(args[2], "/")
			if _, err := r.store.Blocked(ctx, j.Repo.FullName, p); err != nil {
				return reply(fmt.Sprintf("`%s` is not blocked.", p))
			}
			if err := r.store.Unblock(ctx, j.Repo.FullName, p); err != nil {
				return err
			}
			r.poke()
			return reply(fmt.Sprintf("unblocked `%s`: queued applies of it run again, in merge order.", p))
		}
		b, err := r.store.BlockByIssue(ctx, j.Repo.FullName, j.PR)
		if errors.Is(err, store.ErrNotFound) {
			return reply("no project is blocked by this issue; use `tfpr unblock -p DIR` to name one.")
		}
		if err != nil {
			return err
		}
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
		moved, err := r.store.SetRunStatus(ctx, run.ID, []string{store.StatusFailed, store.StatusDenied}, store.StatusQueued, j.Actor)
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
		moved, err := r.store.SetRunStatus(ctx, run.ID, []string{store.StatusWaiting}, store.StatusQueued, j.Actor)
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

// approve records a plan-stage policy override by an approver.
func (r *Runner) approve(ctx context.Context, j store.Job, args []string, reply func(string) error) error {
	if !j.IsPR || len(args) != 1 {
		return reply("usage on a pull request: `tfpr approve RULE-ID`.")
	}
	gh, err := r.gh.Repo(j.Repo.Installation, j.Repo.FullName)
	if err != nil {
		return err
	}
	pr, err := gh.PullRequest(ctx, j.PR)
	if err != nil {
		return err
	}
	if strings.EqualFold(pr.Author, j.Actor) {
		return reply("the author of a pull request cannot approve its own policy override.")
	}
	ok, err := r.isApprover(ctx, j)
	if err != nil {
		return err
	}
	if !ok {
		return reply("only configured approvers can approve policy overrides. Nothing was recorded.")
	}
	if err := r.store.Approve(ctx, store.Approval{Repo: j.Repo.FullName, PR: j.PR, HeadSHA: pr.HeadSHA, Rule: args[0], User: j.Actor}); err != nil {
		return err
	}
	// Re-plan so the check run and the comment show the override.
	if _, err := r.store.EnqueueJob(ctx, store.Job{Kind: store.JobPR, Repo: j.Repo, PR: pr.Number, HeadSHA: pr.HeadSHA, BaseRef: pr.BaseRef,
		Author: pr.Author, Fork: pr.Fork, Trigger: "approve:" + j.Actor}); err != nil {
		return err
	}
	return reply(fmt.Sprintf("approved `%s` for %s (this head only; a new push needs a new approval). Re-planning to show it.", args[0], short(pr.HeadSHA)))
}

func (r *Runner) isApprover(ctx context.Context, j store.Job) (bool, error) {
	for _, u := range r.cfg.ApproverUsers {
		if strings.EqualFold(u, j.Actor) {
			return true, nil
		}
	}
	gh, err := r.gh.Repo(j.Repo.Installation, j.Repo.FullName)
	if err != nil {
		return false, err
	}
	for _, t := range r.cfg.ApproverTeams {
		ok, err := gh.TeamMember(ctx, t, j.Actor)
		if err != nil {
			return false, err
		}
		if ok {
			return true, nil
		}
	}
	if len(r.cfg.ApproverUsers) == 0 && len(r.cfg.ApproverTeams) == 0 {
		// No approvers configured: only repository admins may override.
		perm, err := gh.Permission(ctx, j.Actor)
		return perm == "admin", err
	}
	return false, nil
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
	if pending, err := r.store.PendingJob(ctx, store.JobMerge, repo.FullName, 0, ""); err != nil || pending {
		return err
	}
	_, err = r.store.EnqueueJob(ctx, store.Job{Kind: store.JobMerge, Repo: repo, Trigger: "resync"})
	r.poke()
	return err
}

// mayRelease reports whether the commenter may release a held apply of
// project p: an approver, or a code owner of p by the default branch's
// CODEOWNERS (a user, or a member of an owning team).
func (r *Runner) mayRelease(ctx context.Context, j store.Job, p string) (bool, error) {
	if ok, err := r.isApprover(ctx, j); err != nil || ok {
		return ok, err
	}
	s, err := r.open(ctx, j.Repo, fmt.Sprintf("+refs/heads/%s:refs/heads/%s", j.Repo.DefaultBranch, j.Repo.DefaultBranch))
	if err != nil {
		return false, err
	}
	var raw []byte
	for _, f := range []string{".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"} {
		if raw, err = r.ws.ReadFile(ctx, s.repo, "refs/heads/"+j.Repo.DefaultBranch, f); err == nil {
			break
		}
	}
	if raw == nil {
		return false, nil
	}
	rules, err := codeowners.ParseFile(bytes.NewReader(raw))
	if err != nil {
		return false, fmt.Errorf("parse CODEOWNERS: %w", err)
	}
	rule, err := rules.Match(p + "/main.tf") // owners of the files in the project
	if err != nil || rule == nil {
		return false, nil
	}
	for _, o := range rule.Owners {
		switch o.Type {
		case codeowners.UsernameOwner:
			if strings.EqualFold(o.Value, j.Actor) {
				return true, nil
			}
		case codeowners.TeamOwner:
			if ok, err := s.gh.TeamMember(ctx, o.Value, j.Actor); err != nil || ok {
				return ok, err
			}
		}
	}
	return false, nil
}
