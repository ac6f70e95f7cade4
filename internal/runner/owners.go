package runner

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/hmarr/codeowners"

	"github.com/tfpr/tfpr/internal/store"
)

// isApprover reports whether the commenter is a configured approver (a
// user or a member of an approver team); with none configured, only
// repository admins are.
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

// mayRelease reports whether the commenter may act on applies of project
// p (release a held apply, retry a failed one, unblock the project): an
// approver, or a code owner of p by the default branch's CODEOWNERS (a
// user, or a member of an owning team). Write access alone is not enough:
// these commands put a plan nobody reviewed into effect.
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
