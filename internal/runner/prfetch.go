package runner

import (
	"context"
	"fmt"

	"github.com/tfpr/tfpr/internal/store"
	"github.com/tfpr/tfpr/internal/workspace"
)

// openPR fetches what a PR's plan needs and returns the base to diff the
// head against. It fetches by commit id wherever the job carries one: git
// then asks the server for no ref listing, and asks nothing at all when the
// mirror holds both commits (a re-plan). The ids are kept under the PR's own
// refs, so the next push to the PR negotiates from them and the default
// branch's ref only ever moves forward.
func (r *Runner) openPR(ctx context.Context, j store.Job, baseRef string) (*session, string, error) {
	byName := []string{
		fmt.Sprintf("+refs/pull/%d/head:refs/pull/%d/head", j.PR, j.PR),
		fmt.Sprintf("+refs/heads/%s:refs/heads/%s", baseRef, baseRef),
	}
	if !workspace.IsCommitID(j.HeadSHA) || !workspace.IsCommitID(j.BaseSHA) {
		s, err := r.open(ctx, j.Repo, byName...)
		return s, "refs/heads/" + baseRef, err
	}
	s, err := r.open(ctx, j.Repo,
		fmt.Sprintf("+%s:refs/pull/%d/head", j.HeadSHA, j.PR),
		fmt.Sprintf("+%s:refs/pull/%d/base", j.BaseSHA, j.PR))
	if err == nil || ctx.Err() != nil {
		return s, j.BaseSHA, err
	}
	// The head may be gone (force-pushed and collected): fetch the PR's
	// refs by name; the checkout then tells a vanished head.
	r.logger(ctx).Info("fetch by commit id failed; fetching the PR's refs by name", "pr", j.PR, "err", err)
	s, err = r.open(ctx, j.Repo, byName...)
	return s, "refs/heads/" + baseRef, err
}
