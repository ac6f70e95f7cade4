package runner

import (
	"context"
	"fmt"

	"github.com/tfpr/tfpr/internal/project"
	"github.com/tfpr/tfpr/internal/workspace"
)

// A run checks out only the Terraform files of its commit, which is all
// the project scan reads, and then adds the files of the projects it works
// on (project.Graph.Inputs: their dirs, modules and the files they read).
// Lint, plan policies and the worker's bundle see exactly those, and
// terraform in its sandbox sees no more than the bundle.

// checkout takes the Terraform files of sha.
func (r *Runner) checkout(ctx context.Context, repo workspace.Repo, sha string) (*workspace.Checkout, error) {
	return r.ws.Checkout(ctx, repo, sha, workspace.TerraformFiles)
}

// scanCheckout scans co, adding the templates its projects render.
func (r *Runner) scanCheckout(ctx context.Context, co *workspace.Checkout) (*project.Graph, error) {
	return r.scan.Scan(ctx, co.Dir, project.Completing(co.Complete))
}

// completeFor adds to co every file projects read.
func completeFor(ctx context.Context, co *workspace.Checkout, g *project.Graph, projects ...string) error {
	var paths []string
	for _, p := range projects {
		paths = append(paths, g.Inputs(p)...)
	}
	if err := co.Complete(ctx, paths); err != nil {
		return fmt.Errorf("check out the files of %d projects: %w", len(projects), err)
	}
	return nil
}
