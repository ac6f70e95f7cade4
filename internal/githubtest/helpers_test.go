package githubtest

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v88/github"
)

// installation builds the transport tfpr builds: App JWT -> installation
// token through ghinstallation, against the fake's API base URL.
func installation(t *testing.T, s *Server, key []byte, id int64, opts *github.InstallationTokenOptions) *ghinstallation.Transport {
	t.Helper()
	atr, err := ghinstallation.NewAppsTransport(http.DefaultTransport, s.AppID(), key)
	if err != nil {
		t.Fatalf("NewAppsTransport: %v", err)
	}
	atr.BaseURL = strings.TrimSuffix(s.APIURL(), "/")
	itr := ghinstallation.NewFromAppsTransport(atr, id)
	itr.BaseURL = atr.BaseURL
	itr.InstallationTokenOptions = opts
	return itr
}

func client(t *testing.T, s *Server, tr http.RoundTripper) *github.Client {
	t.Helper()
	c, err := github.NewClient(github.WithHTTPClient(&http.Client{Transport: tr}), github.WithEnterpriseURLs(s.APIURL(), s.APIURL()))
	if err != nil {
		t.Fatalf("WithEnterpriseURLs: %v", err)
	}
	return c
}

// appClient is a go-github client for installation id with a full token.
func appClient(t *testing.T, s *Server, id int64) *github.Client {
	t.Helper()
	return client(t, s, installation(t, s, s.PrivateKeyPEM(), id, nil))
}

// tokenTransport sends a fixed Authorization header value.
type tokenTransport struct{ auth string }

func (tt tokenTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if tt.auth != "" {
		r.Header.Set("Authorization", tt.auth)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// statusOf returns the HTTP status of a go-github call's outcome.
func statusOf(t *testing.T, resp *github.Response, err error) int {
	t.Helper()
	var ge *github.ErrorResponse
	if errors.As(err, &ge) {
		return ge.Response.StatusCode
	}
	if err != nil {
		t.Fatalf("request failed without an HTTP status: %v", err)
	}
	return resp.StatusCode
}
