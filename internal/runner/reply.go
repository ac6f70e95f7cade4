package runner

import (
	"context"
	"errors"
	"strings"

	"github.com/tfpr/tfpr/internal/githubapp"
	"github.com/tfpr/tfpr/internal/report"
	"github.com/tfpr/tfpr/internal/store"
)

// answer replies to a command: a reaction on the command's comment, and
// on a PR the text at the top of the living comment rather than a new
// comment (on an issue, a comment). help adds the usage.
func (r *Runner) answer(ctx context.Context, gh RepoClient, j store.Job, reaction githubapp.Reaction, text string, help bool) error {
	if j.CommentID > 0 {
		if err := gh.React(ctx, j.CommentID, reaction); err != nil {
			r.logger(ctx).Warn("react to command", "comment", j.CommentID, "err", err)
		}
	}
	if !j.IsPR {
		if help {
			text += "\n\n" + report.Help()
		}
		_, err := gh.Comment(ctx, j.PR, "@"+j.Actor+" "+text)
		return err
	}
	marker := report.CommentMarker(report.KindPlan, "", 1)
	have, err := ownComments(ctx, gh, j.PR, marker)
	if err != nil {
		return err
	}
	living, found := have[marker]
	body := report.Placeholder()
	if found {
		body = living.Body
	}
	body = report.WithReply(body, j.Actor, commandLine(j.Body), text, help)
	if found {
		if err := gh.EditComment(ctx, living.ID, body); err == nil || !errors.Is(err, githubapp.ErrNotFound) {
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
