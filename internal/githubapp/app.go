// Package githubapp is the one place that owns tfpr's GitHub credentials: it
// turns the App key into installation tokens (through ghinstallation, cached
// and refreshed) and hands out per-repository clients whose tokens are
// narrowed to that repository and to the permissions tfpr uses.
//
// It is also the one place text leaves for GitHub: every comment and issue
// body, issue title, check-run title, summary, text and annotation passes
// through redact.String on the way out, so no caller can forget to mask a
// credential that terraform printed in a non-sensitive attribute.
package githubapp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	jwt "github.com/golang-jwt/jwt/v4"
	"github.com/google/go-github/v88/github"
	"github.com/tfpr/tfpr/internal/metrics"
	"github.com/tfpr/tfpr/internal/observe"
)

// Options configures App.
type Options struct {
	AppID      int64
	PrivateKey []byte // PEM
	APIURL     string // REST base, ending in "/"
	// TeamApprovers makes tokens carry members:read, needed to check team
	// membership for `tfpr approve`.
	TeamApprovers bool
	Transport     http.RoundTripper // nil: http.DefaultTransport
}

// App mints installation clients.
type App struct {
	opts    Options
	signer  ghinstallation.Signer
	apps    *ghinstallation.AppsTransport
	enter   bool
	mu      sync.Mutex
	clients map[string]*Client
	login   string // the App's bot login, once GitHub told it
}

// New validates the key and prepares the App transport.
func New(opts Options) (*App, error) {
	if opts.Transport == nil {
		opts.Transport = http.DefaultTransport
	}
	if !strings.HasSuffix(opts.APIURL, "/") {
		opts.APIURL += "/"
	}
	if err := CheckPrivateKey(opts.PrivateKey); err != nil {
		return nil, fmt.Errorf("GitHub App private key: %w", err)
	}
	key, err := jwt.ParseRSAPrivateKeyFromPEM(opts.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("load GitHub App private key: %w", err)
	}
	signer := ghinstallation.NewRSASigner(jwt.SigningMethodRS256, key)
	atr, err := ghinstallation.NewAppsTransportWithOptions(opts.Transport, opts.AppID, ghinstallation.WithSigner(signer))
	if err != nil {
		return nil, fmt.Errorf("load GitHub App private key: %w", err)
	}
	atr.BaseURL = strings.TrimSuffix(opts.APIURL, "/")
	return &App{
		opts:    opts,
		signer:  signer,
		apps:    atr,
		enter:   strings.TrimSuffix(opts.APIURL, "/") != "https://api.github.com",
		clients: map[string]*Client{},
	}, nil
}

func (a *App) permissions() *github.InstallationPermissions {
	p := &github.InstallationPermissions{
		Contents:     github.Ptr("read"),
		PullRequests: github.Ptr("write"),
		Checks:       github.Ptr("write"),
		Issues:       github.Ptr("write"),
		Metadata:     github.Ptr("read"),
	}
	if a.opts.TeamApprovers {
		p.Members = github.Ptr("read")
	}
	return p
}

// installation returns a transport minting one installation's tokens. Each
// has an App transport of its own: ghinstallation writes fields of the one
// it was made from on every token refresh, which would race between
// repositories sharing it.
func (a *App) installation(id int64) *ghinstallation.Transport {
	atr, err := ghinstallation.NewAppsTransportWithOptions(a.opts.Transport, a.opts.AppID, ghinstallation.WithSigner(a.signer))
	if err != nil {
		panic(err) // only without a signer, which New always sets
	}
	atr.BaseURL = a.apps.BaseURL
	tr := ghinstallation.NewFromAppsTransport(atr, id)
	tr.BaseURL = atr.BaseURL
	return tr
}

// Repo returns the client for one repository of an installation. Tokens are
// requested for that single repository with only the permissions tfpr uses,
// so a leaked token cannot reach the rest of the organisation.
func (a *App) Repo(installation int64, fullName string) (*Client, error) {
	owner, name, ok := strings.Cut(fullName, "/")
	if !ok || owner == "" || name == "" {
		return nil, fmt.Errorf("repository %q is not owner/name", fullName)
	}
	key := fmt.Sprintf("%d/%s", installation, strings.ToLower(fullName))
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.clients[key]; ok {
		return c, nil
	}
	tr := a.installation(installation)
	tr.InstallationTokenOptions = &github.InstallationTokenOptions{
		Repositories: []string{name},
		Permissions:  a.permissions(),
	}
	gh, err := a.client(tr)
	if err != nil {
		return nil, err
	}
	c := &Client{gh: gh, tr: tr, owner: owner, name: name, app: a}
	a.clients[key] = c
	return c, nil
}

// Client talks to GitHub about one repository.
type Client struct {
	gh          *github.Client
	tr          *ghinstallation.Transport
	owner, name string
	app         *App
}

// BotLogin is the login GitHub shows on what the App writes,
// "<slug>[bot]". Comments and issues are tfpr's only when that login wrote
// them: any other bot (a workflow's github-actions[bot]) may copy a marker.
func (a *App) BotLogin(ctx context.Context) (string, error) {
	a.mu.Lock()
	login := a.login
	a.mu.Unlock()
	if login != "" {
		return login, nil
	}
	gh, err := a.client(a.apps)
	if err != nil {
		return "", err
	}
	app, _, err := gh.Apps.Get(ctx, "")
	if err != nil {
		return "", fmt.Errorf("ask GitHub for the App's name: %w", err)
	}
	if app.GetSlug() == "" {
		return "", errors.New("GitHub returned the App without a slug")
	}
	login = app.GetSlug() + "[bot]"
	a.mu.Lock()
	a.login = login
	a.mu.Unlock()
	return login, nil
}

// ownedBy reports whether login is the App's bot.
func (c *Client) ownedBy(ctx context.Context, login string) (bool, error) {
	bot, err := c.app.BotLogin(ctx)
	if err != nil {
		return false, err
	}
	return strings.EqualFold(login, bot), nil
}

// Token returns the current installation token, for git over HTTPS. Callers
// must pass it only through the environment, never argv, URLs or files.
func (c *Client) Token(ctx context.Context) (string, error) {
	defer observe.Time(ctx, metrics.PhaseToken)()
	t, err := c.tr.Token(ctx)
	if err != nil {
		return "", fmt.Errorf("installation token for %s/%s: %w", c.owner, c.name, err)
	}
	return t, nil
}

// FullName is owner/name.
func (c *Client) FullName() string { return c.owner + "/" + c.name }

// API exposes go-github for calls this package has no helper for. Text
// sent through it is not masked: add a helper here for anything that
// posts text.
func (c *Client) API() *github.Client { return c.gh }

// client is a REST client sending through tr, at the Enterprise URL when
// one is configured.
func (a *App) client(tr http.RoundTripper) (*github.Client, error) {
	opts := []github.ClientOptionsFunc{github.WithHTTPClient(&http.Client{Transport: tr, Timeout: 60 * time.Second})}
	if a.enter {
		opts = append(opts, github.WithEnterpriseURLs(a.opts.APIURL, a.opts.APIURL))
	}
	gh, err := github.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("GitHub API URL %q: %w", a.opts.APIURL, err)
	}
	return gh, nil
}
