package githubapp

import (
	"context"
	"fmt"

	"github.com/google/go-github/v88/github"
)

// maxInstallationPages bounds the installation listing: tfpr only needs to
// know whether the App reaches more than one repository.
const maxInstallationPages = 10

// InstalledRepos lists up to limit repositories ("owner/name") the App is
// installed on, across its installations. Each installation is asked with a
// token that may read metadata only.
func (a *App) InstalledRepos(ctx context.Context, limit int) ([]string, error) {
	apps, err := a.client(a.apps)
	if err != nil {
		return nil, err
	}
	var out []string
	opts := &github.ListOptions{PerPage: 100}
	for range maxInstallationPages {
		insts, resp, err := apps.Apps.ListInstallations(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("list the App's installations: %w", err)
		}
		for _, inst := range insts {
			repos, err := a.installationRepos(ctx, inst.GetID(), limit-len(out))
			if err != nil {
				return nil, err
			}
			if out = append(out, repos...); len(out) >= limit {
				return out[:limit], nil
			}
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
	return out, nil
}

// CheckJWT asks GitHub for the App itself with a fresh JWT: it fails when
// the key, the App id or GitHub's reachability is wrong.
func (a *App) CheckJWT(ctx context.Context) error {
	apps, err := a.client(a.apps)
	if err != nil {
		return err
	}
	if _, _, err := apps.Apps.Get(ctx, ""); err != nil {
		return fmt.Errorf("GitHub did not accept the App's JWT (check TFPR_GITHUB_APP_ID and the private key): %w", err)
	}
	return nil
}

// installationRepos lists the first limit repositories of one installation.
func (a *App) installationRepos(ctx context.Context, installation int64, limit int) ([]string, error) {
	tr := a.installation(installation)
	tr.InstallationTokenOptions = &github.InstallationTokenOptions{Permissions: &github.InstallationPermissions{Metadata: github.Ptr("read")}}
	gh, err := a.client(tr)
	if err != nil {
		return nil, err
	}
	list, _, err := gh.Apps.ListRepos(ctx, &github.ListOptions{PerPage: min(max(limit, 1), 100)})
	if err != nil {
		return nil, fmt.Errorf("list the repositories of installation %d: %w", installation, err)
	}
	var out []string
	for _, r := range list.Repositories {
		out = append(out, r.GetFullName())
	}
	return out[:min(len(out), limit)], nil
}
