package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

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
func family(kind report.Kind, sha string) string {
	if kind == report.KindApply {
		return "apply " + sha
	}
	return string(kind)
}

// repoURL is the repository's web address, from its clone URL.
func repoURL(repo store.Repo) string {
	u := strings.TrimSuffix(repo.CloneURL, ".git")
	if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
		return ""
	}
	return u
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

// publishLiving makes number's comments of a family (markers starting with
// family) read pages: each page edits the comment carrying its marker, or
// is posted when there is none or a person deleted it, and comments of the
// family left over from a longer earlier round are deleted. Comments are
// found by their marker, never by their text. It returns the pages' ids.
func publishLiving(ctx context.Context, gh RepoClient, number int, family string, pages []report.Page) ([]int64, error) {
	have, err := ownComments(ctx, gh, number, family)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(pages))
	for i, p := range pages {
		if !strings.HasPrefix(p.Body, p.Marker+"\n") || !strings.HasPrefix(p.Marker, family) {
			return ids, fmt.Errorf("comment %d on #%d does not start with its marker %q", i+1, number, p.Marker)
		}
		old, ok := have[p.Marker]
		delete(have, p.Marker)
		if ok {
			err := gh.EditComment(ctx, old.ID, p.Body)
			if err == nil {
				ids[i] = old.ID
				continue
			}
			if !errors.Is(err, githubapp.ErrNotFound) {
				return ids, err
			}
		}
		if ids[i], err = gh.Comment(ctx, number, p.Body); err != nil {
			return ids, err
		}
	}
	for _, old := range have {
		if err := gh.DeleteComment(ctx, old.ID); err != nil && !errors.Is(err, githubapp.ErrNotFound) {
			return ids, err
		}
	}
	return ids, nil
}

// ownComments maps the marker of each of tfpr's comments on number whose
// marker starts with prefix to that comment; the newest wins.
func ownComments(ctx context.Context, gh RepoClient, number int, prefix string) (map[string]githubapp.OwnComment, error) {
	cs, err := gh.OwnComments(ctx, number, prefix)
	if err != nil {
		return nil, err
	}
	out := make(map[string]githubapp.OwnComment, len(cs))
	for _, c := range cs {
		out[c.Marker] = c
	}
	return out, nil
}
