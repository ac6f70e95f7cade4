// Package iamcreds mints short-lived OAuth access tokens for a project's
// own service account through the IAM Credentials API
// (projects/-/serviceAccounts/SA:generateAccessToken). A worker is given
// only such a token, so terraform cannot impersonate anyone else: nothing
// it holds can.
package iamcreds

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// DefaultEndpoint is Google's IAM Credentials API.
const DefaultEndpoint = "https://iamcredentials.googleapis.com/"

// Bounds of a minted token's lifetime: Google refuses less than 10 minutes
// of nothing useful and more than an hour without an org policy exception.
const (
	MinLifetime = 5 * time.Minute
	MaxLifetime = time.Hour
)

// Token is a minted access token.
type Token struct {
	AccessToken string
	Expires     time.Time
}

// Minter mints tokens with tfpr's own credentials (which need
// roles/iam.serviceAccountTokenCreator on each project account).
type Minter struct {
	endpoint string
	src      oauth2.TokenSource
	http     *http.Client
}

// New returns a Minter calling endpoint (DefaultEndpoint when empty) with
// tokens from src.
func New(endpoint string, src oauth2.TokenSource, hc *http.Client) (*Minter, error) {
	if endpoint == "" {
		endpoint = DefaultEndpoint
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("IAM credentials endpoint %q is not an http(s) URL", endpoint)
	}
	if src == nil {
		return nil, errors.New("IAM credentials: no token source for tfpr's own identity")
	}
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Minter{endpoint: strings.TrimRight(endpoint, "/") + "/", src: src, http: hc}, nil
}

// Mint returns an access token of serviceAccount (an email) valid for
// lifetime, clamped to [MinLifetime, MaxLifetime].
func (m *Minter) Mint(ctx context.Context, serviceAccount string, lifetime time.Duration) (Token, error) {
	if !strings.Contains(serviceAccount, "@") || strings.ContainsAny(serviceAccount, "/?# ") {
		return Token{}, fmt.Errorf("mint token: %q is not a service account email", serviceAccount)
	}
	lifetime = min(max(lifetime, MinLifetime), MaxLifetime)
	own, err := m.src.Token()
	if err != nil {
		return Token{}, fmt.Errorf("mint token for %s: tfpr's own credentials: %w", serviceAccount, err)
	}
	body, _ := json.Marshal(map[string]any{
		"scope":    []string{"https://www.googleapis.com/auth/cloud-platform"},
		"lifetime": fmt.Sprintf("%ds", int(lifetime.Seconds())),
	})
	u := m.endpoint + "v1/projects/-/serviceAccounts/" + url.PathEscape(serviceAccount) + ":generateAccessToken"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return Token{}, fmt.Errorf("mint token for %s: %w", serviceAccount, err)
	}
	req.Header.Set("Content-Type", "application/json")
	own.SetAuthHeader(req)
	resp, err := m.http.Do(req)
	if err != nil {
		return Token{}, fmt.Errorf("mint token for %s: %w", serviceAccount, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return Token{}, fmt.Errorf("mint token for %s: %w", serviceAccount, err)
	}
	if resp.StatusCode != http.StatusOK {
		return Token{}, fmt.Errorf("mint token for %s: IAM credentials API answered %s: %s", serviceAccount, resp.Status, firstLine(string(data)))
	}
	var out struct {
		AccessToken string    `json:"accessToken"`
		ExpireTime  time.Time `json:"expireTime"`
	}
	if err := json.Unmarshal(data, &out); err != nil || out.AccessToken == "" {
		return Token{}, fmt.Errorf("mint token for %s: the IAM credentials API answered without a token", serviceAccount)
	}
	return Token{AccessToken: out.AccessToken, Expires: out.ExpireTime}, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
