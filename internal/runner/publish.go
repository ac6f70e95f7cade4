package runner

import (
	"context"
	"fmt"
	"strings"

	"github.com/tfpr/tfpr/internal/report"
)

// publish posts a round's comment and its check runs.
func (r *Runner) publish(ctx context.Context, s *session, round report.Round) error {
	var errs []error
	for _, res := range round.Results {
		cr := report.Check(round.Kind, round.SHA, res)
		cr.Summary, cr.Text = r.mask(cr.Summary, s.token), r.mask(cr.Text, s.token)
		if _, err := s.gh.CreateCheckRun(ctx, cr); err != nil {
			errs = append(errs, err)
		}
	}
	if round.PR > 0 {
		if _, err := s.gh.Comment(ctx, round.PR, r.mask(report.Comment(round), s.token)); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("report %s of %s: %w", round.Kind, short(round.SHA), errs[0])
	}
	return nil
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
