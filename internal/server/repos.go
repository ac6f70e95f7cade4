package server

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/tfpr/tfpr/internal/config"
	"github.com/tfpr/tfpr/internal/githubapp"
)

// pinSoleRepo gives an empty TFPR_REPO_ALLOWLIST its only safe meaning:
// the one repository the App is installed on now. With two, the same
// project dir in each would be two teams' projects, and which repositories
// tfpr may act for is the operator's decision, so tfpr refuses to start.
// A repository installed later stays outside the pinned allowlist (its
// deliveries are acknowledged and ignored) until the operator lists it:
// no installation event can widen what tfpr acts on.
func pinSoleRepo(ctx context.Context, cfg *config.Config, app *githubapp.App, log *slog.Logger) error {
	if len(cfg.RepoAllowlist) > 0 {
		return nil
	}
	repos, err := app.InstalledRepos(ctx, 3)
	if err != nil {
		return fmt.Errorf("TFPR_REPO_ALLOWLIST is empty, so tfpr checks that the GitHub App is installed on a single repository, and could not: %w", err)
	}
	switch len(repos) {
	case 0:
		return fmt.Errorf("TFPR_REPO_ALLOWLIST is empty and the GitHub App is installed on no repository: install it, or set TFPR_REPO_ALLOWLIST")
	case 1:
		cfg.RepoAllowlist = repos
		log.Info("TFPR_REPO_ALLOWLIST is empty: acting only on the one installed repository; list others in TFPR_REPO_ALLOWLIST", "repo", repos[0])
		return nil
	}
	names := strings.Join(repos[:min(len(repos), 2)], ", ")
	if len(repos) > 2 {
		names += ", ..."
	}
	return fmt.Errorf("TFPR_REPO_ALLOWLIST is required: the GitHub App is installed on more than one repository (%s), "+
		"and each repository's projects have their own state and service accounts; list the repositories tfpr acts on", names)
}
