package runner

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/tfpr/tfpr/internal/store"
)

// approve records a plan-stage policy override by an approver. It binds to
// what the approver saw when they commented: the PR head of the newest
// plan tfpr had posted when the comment arrived, and each project's plan
// content at that head. A push after that, or a re-plan that comes out
// different, needs a new approval.
func (r *Runner) approve(ctx context.Context, j store.Job, rule string, reply func(string) error) error {
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
	seen, err := r.store.PlansSeen(ctx, j.Repo.FullName, j.PR, j.Created)
	if err != nil {
		return err
	}
	head, plans := seenHead(seen)
	if head == "" {
		return reply("this pull request has no plan yet, so there is nothing to approve. Nothing was recorded.")
	}
	if err := r.store.Approve(ctx, store.Approval{Repo: j.Repo.FullName, PR: j.PR, HeadSHA: head, Rule: rule, User: j.Actor, Plans: plans}); err != nil {
		return err
	}
	r.logger(ctx).Info("policy override approved", "pr", j.PR, "rule", rule, "by", j.Actor, "head", short(head))
	if pr.HeadSHA != head {
		return reply(fmt.Sprintf("approved `%s` for %s, the head whose plan you saw. The PR has since moved to %s; "+
			"its plan needs a new approval.", rule, short(head), short(pr.HeadSHA)))
	}
	// Re-plan so the check run and the comment show the override.
	if _, err := r.store.EnqueueJob(ctx, store.Job{Kind: store.JobPR, Repo: j.Repo, PR: pr.Number, HeadSHA: pr.HeadSHA, BaseRef: pr.BaseRef,
		Author: pr.Author, Fork: pr.Fork, Trigger: "approve:" + j.Actor}); err != nil {
		return err
	}
	return reply(fmt.Sprintf("approved `%s` for %s and the plans shown for it (a new push, or a plan that comes out different, needs a new approval). "+
		"Re-planning to show it.", rule, short(head)))
}

// seenHead picks, from the newest plan per project, the head of the newest
// one, and the content digest of each project's plan at that head.
func seenHead(plans []store.Plan) (string, map[string]string) {
	if len(plans) == 0 {
		return "", nil
	}
	newest := slices.MaxFunc(plans, func(a, b store.Plan) int { return cmp.Compare(a.ID, b.ID) })
	digests := map[string]string{}
	for _, p := range plans {
		if p.HeadSHA == newest.HeadSHA {
			digests[p.Project] = p.Digest
		}
	}
	return newest.HeadSHA, digests
}

// approvals are the overrides recorded for one PR head.
type approvals []store.Approval

// approvedRules lists the overrides approvers gave for a PR head.
func (r *Runner) approvedRules(ctx context.Context, repo string, pr int, head string) (approvals, error) {
	return r.store.Approvals(ctx, repo, pr, head)
}

// forPlan returns the rules overridden for project p's plan with content
// digest, and who approved them (for the audit trail). An approval given
// for other plan content does not count.
func (as approvals) forPlan(p, digest string) (rules []string, by string) {
	var users []string
	for _, a := range as {
		if digest == "" || a.Plans[p] != digest {
			continue
		}
		if !slices.Contains(rules, a.Rule) {
			rules = append(rules, a.Rule)
		}
		if !slices.Contains(users, a.User) {
			users = append(users, a.User)
		}
	}
	return rules, strings.Join(users, ",")
}

// planDigest is the content digest of a plan's JSON form, "" when it
// cannot be read (then no approval matches it).
func planDigest(js []byte) string {
	pc, err := readPlanContent(js)
	if err != nil {
		return ""
	}
	return pc.digest()
}
