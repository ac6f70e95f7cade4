package githubapp_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/tfpr/tfpr/internal/githubapp"
	"github.com/tfpr/tfpr/internal/githubtest"
)

// Runs of several repositories ask for their tokens at once, while clients
// for other repositories are made: nothing between them is shared
// unguarded (the race detector watches), and each gets its token.
func TestTokensOfManyRepositoriesAtOnce(t *testing.T) {
	gh := githubtest.New(t, githubtest.Options{})
	const repos = 4
	for i := range repos {
		gh.AddRepo(t, "acme", fmt.Sprintf("r%d", i), 7)
	}
	app, err := githubapp.New(githubapp.Options{AppID: gh.AppID(), PrivateKey: gh.PrivateKeyPEM(), APIURL: gh.APIURL()})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range repos {
		wg.Go(func() {
			c, err := app.Repo(7, fmt.Sprintf("acme/r%d", i))
			if err != nil {
				t.Error(err)
				return
			}
			if tok, err := c.Token(context.Background()); err != nil || tok == "" {
				t.Errorf("token of acme/r%d: %q, %v", i, tok, err)
			}
		})
	}
	wg.Wait()
}
