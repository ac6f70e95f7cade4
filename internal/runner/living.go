package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tfpr/tfpr/internal/githubapp"
	"github.com/tfpr/tfpr/internal/report"
	"github.com/tfpr/tfpr/internal/store"
	"github.com/tfpr/tfpr/internal/terraform"
)

// maxKeptText bounds the plan or output text kept per reported project: a
// comment never shows more, and the check run has the whole text.
const maxKeptText = 128 << 10

// family names a living comment in the store: one per PR for plans, one
// per merge commit for applies.
func family(kind, sha string) string {
	if kind == "apply" {
		return "apply " + sha
	}
	return kind
}

// repoURL is the repository's web address, from its clone URL.
func repoURL(repo store.Repo) string {
	u := strings.TrimSuffix(repo.CloneURL, ".git")
	if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
		return ""
	}
	return u
}

// startChecks creates the in-progress check runs of a round: the aggregate
// `tfpr` check now, a project's when its run starts (see startCheck).
func (r *Runner) startAggregate(ctx context.Context, s *session, kind, sha string, projects int) int64 {
	id, err := s.gh.CreateCheckRun(ctx, report.InProgressAggregate(kind, sha, projects))
	if err != nil {
		r.log.Warn("create in-progress check", "check", report.AggregateName, "err", err)
		return 0
	}
	return id
}

// startCheck creates a project's check run as in progress, so reviewers see
// work happening; 0 when GitHub refused (the completed one is created then).
func (r *Runner) startCheck(ctx context.Context, s *session, kind, sha, project string) int64 {
	id, err := s.gh.CreateCheckRun(ctx, report.InProgress(kind, sha, project))
	if err != nil {
		r.log.Warn("create in-progress check", "project", project, "err", err)
		return 0
	}
	return id
}

// completeCheck completes the check run id (or creates it completed).
func (r *Runner) completeCheck(ctx context.Context, s *session, id int64, cr githubapp.CheckRun) error {
	cr.Title, cr.Summary, cr.Text = r.mask(cr.Title, s.token), r.mask(cr.Summary, s.token), r.mask(cr.Text, s.token)
	if id != 0 {
		return s.gh.UpdateCheckRun(ctx, id, cr)
	}
	_, err := s.gh.CreateCheckRun(ctx, cr)
	return err
}

// publishRound reports a round: each project's check run (completing its
// in-progress one, ids by project in checks, "" for the aggregate), the
// aggregate `tfpr` check, the living comment and, for plans, the PR's
// labels. A round that ran only some projects (full false) shows the
// others as last reported at the same commit.
func (r *Runner) publishRound(ctx context.Context, s *session, round report.Round, full bool, checks map[string]int64) error {
	var errs []error
	for _, res := range round.Results {
		if res.NotRun == report.NotRunCap {
			continue // named in the comment only: no check run
		}
		if err := r.completeCheck(ctx, s, checks[res.Project], report.Check(round.Kind, round.SHA, res)); err != nil {
			errs = append(errs, err)
		}
	}
	whole, complete := round, full
	if round.PR > 0 {
		merged, err := r.remember(ctx, s.gh.FullName(), round, full)
		if err != nil {
			r.log.Warn("living comment shows this round only", "pr", round.PR, "err", err)
		} else {
			whole, complete = merged, true
		}
	}
	// The aggregate judges the whole PR: a partial round whose other
	// projects are unknown must not turn it green.
	if round.Kind == "plan" && complete {
		if err := r.completeCheck(ctx, s, checks[""], report.Aggregate(whole)); err != nil {
			errs = append(errs, err)
		}
	}
	if round.PR > 0 {
		pages := report.Render(whole)
		for i := range pages {
			pages[i].Body = r.mask(pages[i].Body, s.token)
		}
		if _, err := s.gh.PublishLiving(ctx, round.PR, report.CommentFamily(round.Kind, round.SHA), pages); err != nil {
			errs = append(errs, err)
		}
		if round.Kind == "plan" {
			if err := s.gh.SyncLabels(ctx, round.PR, report.LabelsFor(whole), report.Labels()); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("report %s of %s: %w", round.Kind, short(round.SHA), errors.Join(errs...))
	}
	return nil
}

// publishNothing reports a PR head that affects no project: a neutral
// aggregate check, so branch protection can require it on every PR, and,
// when the living comment showed projects before (the PR was reverted), an
// updated comment and labels instead of a stale plan.
func (r *Runner) publishNothing(ctx context.Context, s *session, j store.Job) error {
	round := report.Round{Kind: "plan", SHA: j.HeadSHA, PR: j.PR, RepoURL: repoURL(j.Repo), At: time.Now()}
	prev, err := r.store.Reported(ctx, j.Repo.FullName, j.PR, family("plan", ""))
	if err != nil {
		return err
	}
	if len(j.Projects) > 0 {
		// `tfpr plan -p` naming nothing affected: the last full round's
		// verdict stands (a neutral check here would pass a denied PR).
		return nil
	}
	if len(prev) == 0 {
		return r.completeCheck(ctx, s, 0, report.Aggregate(round))
	}
	return r.publishRound(ctx, s, round, true, nil)
}

// remember records the round's results for its living comment and returns
// the round with every project the comment shows: this round's, and for a
// partial round the others' last results at the same commit.
func (r *Runner) remember(ctx context.Context, repoName string, round report.Round, full bool) (report.Round, error) {
	fam := family(round.Kind, round.SHA)
	if full {
		if err := r.store.ForgetReported(ctx, repoName, round.PR, fam); err != nil {
			return round, err
		}
	}
	for _, res := range round.Results {
		data, err := json.Marshal(kept(res))
		if err != nil {
			return round, fmt.Errorf("encode result of %s: %w", res.Project, err)
		}
		if err := r.store.SaveReported(ctx, store.Reported{Repo: repoName, PR: round.PR, Family: fam, Project: res.Project,
			SHA: round.SHA, Result: string(data)}); err != nil {
			return round, err
		}
	}
	rows, err := r.store.Reported(ctx, repoName, round.PR, fam)
	if err != nil {
		return round, err
	}
	out := round
	out.Results = nil
	for _, row := range rows {
		if row.SHA != round.SHA {
			continue // from an older head: no longer what the PR would do
		}
		var res report.Result
		if err := json.Unmarshal([]byte(row.Result), &res); err != nil {
			return round, fmt.Errorf("decode reported result of %s: %w", row.Project, err)
		}
		out.Results = append(out.Results, res)
	}
	return out, nil
}

// kept is the part of a result worth keeping for later renders: no plan
// file or JSON, texts bounded.
func kept(res report.Result) report.Result {
	res.Output = clipText(res.Output, maxKeptText)
	if res.Plan != nil {
		res.Plan = &terraform.Plan{HasChanges: res.Plan.HasChanges, Add: res.Plan.Add, Change: res.Plan.Change, Destroy: res.Plan.Destroy,
			Import: res.Plan.Import, Summary: res.Plan.Summary, Text: clipText(res.Plan.Text, maxKeptText)}
	}
	return res
}

// answer replies to a command: a reaction on the command's comment, and
// on a PR the text at the top of the living comment rather than a new
// comment (on an issue, a comment). help adds the usage.
func (r *Runner) answer(ctx context.Context, gh *githubapp.Client, j store.Job, reaction githubapp.Reaction, text string, help bool) error {
	if j.CommentID > 0 {
		if err := gh.React(ctx, j.CommentID, reaction); err != nil {
			r.log.Warn("react to command", "comment", j.CommentID, "err", err)
		}
	}
	if !j.IsPR {
		if help {
			text += "\n\n" + report.Help()
		}
		_, err := gh.Comment(ctx, j.PR, "@"+j.Actor+" "+text)
		return err
	}
	marker := report.CommentMarker("plan", "", 1)
	id, body, found, err := gh.LivingComment(ctx, j.PR, marker)
	if err != nil {
		return err
	}
	if !found {
		body = report.Placeholder()
	}
	body = report.WithReply(body, j.Actor, commandLine(j.Body), text, help)
	if found {
		if err := gh.EditComment(ctx, id, body); err == nil || !githubapp.IsNotFound(err) {
			return err
		}
	}
	_, err = gh.Comment(ctx, j.PR, body)
	return err
}

// commandLine is the line of a comment that addresses tfpr.
func commandLine(body string) string {
	for _, line := range strings.Split(body, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == "tfpr" {
			return strings.Join(f, " ")
		}
	}
	return "tfpr"
}
