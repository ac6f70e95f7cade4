package lintcmd

import (
	"context"
	"testing"

	"github.com/tfpr/tfpr/internal/policy"
	"github.com/tfpr/tfpr/policies"
)

// lintEngine is the engine tfpr lint builds: the default policies and no
// caches between trees.
func lintEngine(t testing.TB) *policy.Engine {
	t.Helper()
	engine, err := policy.New(context.Background(), policies.FS(), policy.Options{NoCache: true})
	if err != nil {
		t.Fatal(err)
	}
	return engine
}

// openTree opens root for linting, closed when the test ends, with the
// dirs terraformDirs finds there.
func openTree(t testing.TB, engine *policy.Engine, root string) (*policy.Tree, map[string]bool) {
	t.Helper()
	ctx := context.Background()
	tree, err := engine.OpenTree(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tree.Close() })
	scanned, err := terraformDirs(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	return tree, scanned
}

// noScope is a lint with nothing linted before it.
func noScope() *scope { return &scope{done: func(string) bool { return false }} }
