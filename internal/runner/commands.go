package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tfpr/tfpr/internal/githubapp"
	"github.com/tfpr/tfpr/internal/report"
	"github.com/tfpr/tfpr/internal/store"
)

// Verb is what a `tfpr ...` comment asks for.
type Verb string

const (
	VerbHelp    Verb = "help"
	VerbPlan    Verb = "plan"
	VerbApply   Verb = "apply"
	VerbApprove Verb = "approve"
	VerbUnblock Verb = "unblock"
	VerbDrift   Verb = "drift"
)

// Command is a parsed `tfpr ...` comment.
type Command struct {
	Verb     Verb
	Projects []string // plan -p DIR...; unblock -p DIR
	Rule     string   // approve RULE
}

// commandError is a comment tfpr cannot carry out as written; its text
// is the answer.
type commandError struct {
	verb Verb
	text string
}

func (e *commandError) Error() string { return e.text }

// parseCommand reads the first line of body addressing tfpr. The verb is
// set whenever it is a known one, even when its arguments are wrong.
func parseCommand(body string) (Command, error) {
	args := commandArgs(body)
	if len(args) == 0 || args[0] == string(VerbHelp) {
		return Command{Verb: VerbHelp}, nil
	}
	cmd := Command{Verb: Verb(args[0])}
	switch cmd.Verb {
	case VerbPlan:
		projects, err := planTargets(args[1:])
		if err != nil {
			return cmd, &commandError{VerbPlan, err.Error()}
		}
		cmd.Projects = projects
	case VerbApply:
	case VerbApprove:
		if len(args) != 2 {
			return cmd, &commandError{VerbApprove, "usage on a pull request: `tfpr approve RULE-ID`."}
		}
		cmd.Rule = args[1]
	case VerbDrift:
		switch {
		case len(args) == 3 && args[1] == "-p":
			cmd.Projects = []string{strings.Trim(args[2], "/")}
		case len(args) != 1:
			return cmd, &commandError{VerbDrift, "usage: `tfpr drift` on a drift issue, or `tfpr drift -p DIR`."}
		}
	case VerbUnblock:
		// Other words after unblock are ignored: it then means this issue.
		if len(args) == 3 && args[1] == "-p" {
			cmd.Projects = []string{strings.Trim(args[2], "/")}
		}
	default:
		return Command{}, &commandError{text: report.UnknownCommand(args[0])}
	}
	return cmd, nil
}

// commandCall is one command being carried out.
type commandCall struct {
	j     store.Job
	cmd   Command
	gh    RepoClient
	reply func(string) error
	done  func(string) error // a reply to a command carried out
}

// command carries out a `tfpr ...` comment after checking who asked.
func (r *Runner) command(ctx context.Context, j store.Job) error {
	gh, err := r.gh.Repo(j.Repo.Installation, j.Repo.FullName)
	if err != nil {
		return err
	}
	// Answers are a reaction on the command plus text in the living
	// comment, never a comment per command.
	reply := func(text string) error { return r.answer(ctx, gh, j, githubapp.ReactionSeen, text, false) }
	refuse := func(text string) error { return r.answer(ctx, gh, j, githubapp.ReactionRefused, text, false) }
	cmd, perr := parseCommand(j.Body)
	switch {
	case cmd.Verb == VerbHelp:
		return r.answer(ctx, gh, j, githubapp.ReactionDone, "the commands tfpr knows:", true)
	case cmd.Verb == "":
		return r.answer(ctx, gh, j, githubapp.ReactionConfused, perr.Error(), false)
	case cmd.Verb == VerbApprove:
		// Approvers are checked by approve itself; write access is not the bar.
		if perr != nil || !j.IsPR {
			return reply("usage on a pull request: `tfpr approve RULE-ID`.")
		}
		return r.approve(ctx, j, cmd.Rule, reply)
	}
	perm, err := gh.Permission(ctx, j.Actor)
	if err != nil {
		return err
	}
	if !slices.Contains([]string{"admin", "maintain", "write"}, perm) {
		r.logger(ctx).Warn("command refused", "user", j.Actor, "permission", perm, "command", cmd.Verb)
		return refuse(fmt.Sprintf("`tfpr %s` needs write access to %s; you have %s. Nothing was run.", cmd.Verb, j.Repo.FullName, perm))
	}
	if perr != nil {
		return reply(perr.Error())
	}
	call := commandCall{j: j, cmd: cmd, gh: gh, reply: reply,
		done: func(text string) error { return r.answer(ctx, gh, j, githubapp.ReactionDone, text, false) }}
	switch cmd.Verb {
	case VerbPlan:
		return r.planCommand(ctx, call)
	case VerbApply:
		return r.retryApply(ctx, j, reply)
	case VerbUnblock:
		return r.unblockCommand(ctx, call)
	case VerbDrift:
		return r.driftCommand(ctx, call)
	}
	return nil
}

// planCommand queues a plan of the PR head, of every affected project or
// the ones named.
func (r *Runner) planCommand(ctx context.Context, c commandCall) error {
	if !c.j.IsPR {
		return c.reply("`tfpr plan` works on pull requests only.")
	}
	pr, err := c.gh.PullRequest(ctx, c.j.PR)
	if err != nil {
		return err
	}
	if pr.State != "open" {
		return c.reply("this pull request is not open; nothing to plan.")
	}
	if _, err = r.store.EnqueueJob(ctx, store.Job{Kind: store.JobPR, Repo: c.j.Repo, PR: pr.Number, HeadSHA: pr.HeadSHA, BaseSHA: pr.BaseSHA, BaseRef: pr.BaseRef,
		Author: pr.Author, Fork: pr.Fork, Trigger: "comment:" + c.j.Actor, Projects: c.cmd.Projects}); err != nil {
		return err
	}
	if c.j.CommentID > 0 {
		// The reply is the re-planned living comment itself.
		if err := c.gh.React(ctx, c.j.CommentID, githubapp.ReactionDone); err != nil {
			r.logger(ctx).Warn("react to command", "comment", c.j.CommentID, "err", err)
		}
	}
	return nil
}

// unblockCommand lets later merges of a project apply again: the project
// named with -p (anywhere, for a block whose issue could not be opened),
// else the one this apply-failure issue blocks.
func (r *Runner) unblockCommand(ctx context.Context, c commandCall) error {
	j := c.j
	if len(c.cmd.Projects) == 1 {
		p := c.cmd.Projects[0]
		if _, err := r.store.Blocked(ctx, j.Repo.FullName, p); err != nil {
			return c.reply(fmt.Sprintf("`%s` is not blocked.", p))
		}
		if ok, err := r.mayRelease(ctx, j, p); err != nil || !ok {
			return refuseOwner(err, c.reply, "unblock", p)
		}
		if err := r.store.Unblock(ctx, j.Repo.FullName, p); err != nil {
			return err
		}
		r.poke()
		return c.done(fmt.Sprintf("unblocked `%s`: queued applies of it run again, in merge order.", p))
	}
	b, err := r.store.BlockByIssue(ctx, j.Repo.FullName, j.PR)
	if errors.Is(err, store.ErrNotFound) {
		return c.reply("no project is blocked by this issue; use `tfpr unblock -p DIR` to name one.")
	}
	if err != nil {
		return err
	}
	if ok, err := r.mayRelease(ctx, j, b.Project); err != nil || !ok {
		return refuseOwner(err, c.reply, "unblock", b.Project)
	}
	r.logger(ctx).Info("project unblocked", "project", b.Project, "by", j.Actor)
	if err := r.store.Unblock(ctx, j.Repo.FullName, b.Project); err != nil {
		return err
	}
	r.poke()
	return c.gh.CloseIssue(ctx, j.PR, fmt.Sprintf("@%s unblocked `%s`: queued applies of it run again, in merge order.", j.Actor, b.Project))
}

// retryApply requeues a failed apply (on its issue) or releases applies
// held for approval (on the merged PR).
func (r *Runner) retryApply(ctx context.Context, j store.Job, reply func(string) error) error {
	if !j.IsPR {
		if d, err := r.store.DriftCheckByIssue(ctx, j.Repo.FullName, j.PR); err == nil {
			return r.reconcile(ctx, j, d, reply)
		}
	}
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
		moved, err := r.store.SetRunStatus(ctx, run.ID, []store.Status{store.StatusFailed, store.StatusDenied}, store.StatusQueued,
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
	held, err := r.store.FindRuns(ctx, j.Repo.FullName, j.PR, store.RunApply, store.StatusWaiting)
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
		moved, err := r.store.SetRunStatus(ctx, run.ID, []store.Status{store.StatusWaiting}, store.StatusQueued,
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
