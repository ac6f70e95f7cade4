package runner

import (
	"context"
	"errors"
	"net/url"
	"time"

	"github.com/tfpr/tfpr/internal/report"
	"github.com/tfpr/tfpr/internal/report/md"
	"github.com/tfpr/tfpr/internal/store"
)

// DriftIssueLabel marks the issues tfpr keeps for drifted projects.
const DriftIssueLabel = "tfpr:drift"

// driftMarker is the hidden line that finds a project's drift issue again,
// whatever the store knows; the dir is escaped so no name can end the
// HTML comment early.
func driftMarker(project string) string {
	return "<!-- tfpr:drift " + url.PathEscape(project) + " -->"
}

func driftTitle(project string) string { return "tfpr drift: " + project }

// driftIssueBody renders a check's result: why the issue exists, what to
// do, and the result the way a plan comment shows it.
func driftIssueBody(repo store.Repo, sha string, res report.Result, result store.DriftResult, checked time.Time) string {
	branch := repo.DefaultBranch
	var lead md.Markdown
	if result == store.DriftDrifted {
		lead = md.Sprintf("**Drift**: the infrastructure of %s differs from the default branch %s at %s. "+
			"Someone changed it outside tfpr, or an apply did not finish.",
			md.Code(res.Project), md.Code(branch), md.Code(short(sha)))
	} else {
		lead = md.Sprintf("**The drift check of %s failed** at %s of %s, so tfpr cannot tell whether it drifted.",
			md.Code(res.Project), md.Code(short(sha)), md.Code(branch))
	}
	body := driftMarker(res.Project) + "\n" + string(lead) + "\n\n" +
		string(md.Sprintf("Last checked %s. ", md.Text(checked.UTC().Format(time.RFC3339)))) +
		"Comment `tfpr apply` here (a code owner of the project, or an approver) to re-plan the default branch's head and apply it; " +
		"`tfpr drift` here checks again now. tfpr closes this issue when a check, an apply or a reconcile finds the project in sync.\n\n"
	// The living comment's rendering and fitting: the intro above stays
	// within the room it leaves under GitHub's limit.
	return body + report.Comment(report.Round{Kind: report.KindDrift, SHA: sha, RepoURL: repoURL(repo), At: checked, Results: []report.Result{res}})
}

// reportDrift makes the project's issue show a check's result: opened or
// edited in place for drift or an error, closed when in sync. It returns
// the project's open issue afterwards (0 for none).
func (r *Runner) reportDrift(ctx context.Context, s *session, d store.DriftCheck, res report.Result, result store.DriftResult, sha string, checked time.Time) int {
	switch onDriftResult(result, d.Issue) {
	case driftOpenOrEdit:
		repo, err := r.repoOf(ctx, d.Repo)
		if err != nil {
			r.logger(ctx).Error("drift: report", "err", err)
			return d.Issue
		}
		body := r.mask(driftIssueBody(repo, sha, res, result, checked), s.token)
		n, err := r.ensureDriftIssue(ctx, s, d, body)
		if err != nil {
			r.logger(ctx).Error("drift: open or update the issue", "err", err)
			return d.Issue
		}
		return n
	case driftCloseIssue:
		msg := md.Sprintf("A drift check at %s found %s in sync with the default branch; closing.", md.Code(short(sha)), md.Code(d.Project))
		if err := s.gh.CloseIssue(ctx, d.Issue, r.mask(string(msg), s.token)); err != nil {
			r.logger(ctx).Warn("drift: close the issue", "issue", d.Issue, "err", err)
			return d.Issue
		}
		return 0
	}
	return d.Issue
}

// ensureDriftIssue edits the project's issue in place, or finds it by its
// marker (a store that lost the number), or opens it: one issue per
// project, never two.
func (r *Runner) ensureDriftIssue(ctx context.Context, s *session, d store.DriftCheck, body string) (int, error) {
	title := driftTitle(d.Project)
	if d.Issue > 0 {
		_, err := s.gh.EditIssue(ctx, d.Issue, title, body)
		if err == nil {
			return d.Issue, nil
		}
		r.logger(ctx).Warn("drift: edit the recorded issue; looking for it by its marker", "issue", d.Issue, "err", err)
	}
	found, ok, err := s.gh.FindIssue(ctx, DriftIssueLabel, driftMarker(d.Project))
	if err != nil {
		return 0, err
	}
	if ok {
		if _, err := s.gh.EditIssue(ctx, found.Number, title, body); err != nil {
			return 0, err
		}
		return found.Number, nil
	}
	is, err := s.gh.OpenIssue(ctx, title, DriftIssueLabel, body)
	if err != nil {
		return 0, err
	}
	if is.Number == 0 {
		return 0, errors.New("GitHub returned no issue number")
	}
	return is.Number, nil
}
