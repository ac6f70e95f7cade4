package runner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tfpr/tfpr/internal/githubapp"
	"github.com/tfpr/tfpr/internal/metrics"
	"github.com/tfpr/tfpr/internal/observe"
	"github.com/tfpr/tfpr/internal/report"
	"github.com/tfpr/tfpr/internal/store"
)

// publish reports a round that had no in-progress check runs.
func (r *Runner) publish(ctx context.Context, s *session, round report.Round) error {
	return r.publishRound(ctx, s, round, false, nil)
}

// startAggregate creates the round's aggregate `tfpr` check as in progress;
// 0 when GitHub refused (the completed one is created then).
func (r *Runner) startAggregate(ctx context.Context, s *session, kind report.Kind, sha string, projects int) int64 {
	id, err := s.gh.CreateCheckRun(ctx, report.InProgressAggregate(kind, sha, projects))
	if err != nil {
		r.logger(ctx).Warn("create in-progress check", "check", report.AggregateName, "err", err)
		return 0
	}
	return id
}

// startCheck creates a project's check run as in progress, so reviewers see
// work happening; 0 when GitHub refused (the completed one is created then).
func (r *Runner) startCheck(ctx context.Context, s *session, kind report.Kind, sha, project string) int64 {
	id, err := s.gh.CreateCheckRun(ctx, report.InProgress(kind, sha, project))
	if err != nil {
		r.logger(ctx).Warn("create in-progress check", "project", project, "err", err)
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
	defer observe.Time(ctx, metrics.PhaseReport)()
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
		merged, err := r.remember(ctx, s.repo.FullName, round, full)
		if err != nil {
			r.logger(ctx).Warn("living comment shows this round only", "pr", round.PR, "err", err)
		} else {
			whole, complete = merged, true
		}
	}
	// The aggregate judges the whole PR: a partial round whose other
	// projects are unknown must not turn it green.
	if round.Kind == report.KindPlan && complete {
		if err := r.completeCheck(ctx, s, checks[""], report.Aggregate(whole)); err != nil {
			errs = append(errs, err)
		}
	}
	if round.PR > 0 {
		pages := report.Render(whole)
		for i := range pages {
			pages[i].Body = r.mask(pages[i].Body, s.token)
		}
		if _, err := publishLiving(ctx, s.gh, round.PR, report.CommentFamily(round.Kind, round.SHA), pages); err != nil {
			errs = append(errs, err)
		}
		if round.Kind == report.KindPlan {
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
	round := report.Round{Kind: report.KindPlan, SHA: j.HeadSHA, PR: j.PR, RepoURL: repoURL(j.Repo), At: time.Now()}
	if len(j.Projects) > 0 {
		// `tfpr plan -p` naming nothing affected: the last full round's
		// verdict stands (a neutral check here would pass a denied PR).
		return nil
	}
	prev, err := r.store.Reported(ctx, j.Repo.FullName, j.PR, family(report.KindPlan, ""))
	if err != nil {
		return err
	}
	if len(prev) == 0 {
		return r.completeCheck(ctx, s, 0, report.Aggregate(round))
	}
	return r.publishRound(ctx, s, round, true, nil)
}

// mask removes every known secret from text bound for GitHub, as a last
// line of defence behind terraform's own sensitive-value masking.
func (r *Runner) mask(text, token string) string {
	for _, s := range append([]string{token}, r.cfg.Secrets...) {
		if len(s) >= 6 {
			text = strings.ReplaceAll(text, s, "***")
		}
	}
	return text
}
