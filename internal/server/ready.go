package server

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/tfpr/tfpr/internal/config"
	"github.com/tfpr/tfpr/internal/gcs"
	"github.com/tfpr/tfpr/internal/githubapp"
	"github.com/tfpr/tfpr/internal/health"
	"github.com/tfpr/tfpr/internal/policy"
	"github.com/tfpr/tfpr/internal/store"
)

// readinessChecks are what tfpr needs to do its work: a store and data dir
// that take writes, compiled policies, a GitHub App JWT GitHub accepts,
// and the state bucket within reach.
func readinessChecks(cfg *config.Config, st *store.SQLite, pol *policy.Engine, app *githubapp.App, client *gcs.Client, gcsErr error) []health.Check {
	return []health.Check{
		{Name: health.CheckStore, Run: func(ctx context.Context) error {
			if err := st.CheckWritable(ctx); err != nil {
				return err
			}
			return dataDirWritable(cfg.DataDir)
		}},
		{Name: health.CheckPolicies, Run: func(context.Context) error {
			if len(pol.Rules()) == 0 {
				return errors.New("no policy rules are compiled")
			}
			return nil
		}},
		{Name: health.CheckGitHub, Run: app.CheckJWT},
		{Name: health.CheckStateBucket, Run: func(ctx context.Context) error {
			if client == nil {
				return fmt.Errorf("no GCS client: %w", gcsErr)
			}
			return client.Reachable(ctx, cfg.StateBucket)
		}},
	}
}

// dataDirWritable creates and removes a file in the data dir, where
// checkouts and plan files go.
func dataDirWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".readyz-*")
	if err != nil {
		return fmt.Errorf("write to the data dir: %w", err)
	}
	name := f.Name()
	f.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("clean the data dir: %w", err)
	}
	return nil
}
