package githubtest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/golang-jwt/jwt/v4"
	"github.com/google/go-github/v88/github"
)

func signJWT(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatalf("sign JWT: %v", err)
	}
	return s
}

func TestAccessTokenJWTRules(t *testing.T) {
	t.Parallel()
	s := New(t, Options{})
	s.AddRepo(t, "acme", "infra", 7)
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	iss := strconv.FormatInt(s.AppID(), 10)
	valid := func() jwt.MapClaims { return jwt.MapClaims{"iat": now - 30, "exp": now + 90, "iss": iss} }
	with := func(k string, v any) jwt.MapClaims { c := valid(); c[k] = v; return c }

	tests := []struct {
		name   string
		auth   string
		path   string
		status int
	}{
		{"valid JWT with string iss", "Bearer " + signJWT(t, jwt.SigningMethodRS256, s.key, valid()), "7", http.StatusCreated},
		{"valid JWT with numeric iss", "Bearer " + signJWT(t, jwt.SigningMethodRS256, s.key, with("iss", s.AppID())), "7", http.StatusCreated},
		{"signed by another key", "Bearer " + signJWT(t, jwt.SigningMethodRS256, otherKey, valid()), "7", http.StatusUnauthorized},
		{"expired", "Bearer " + signJWT(t, jwt.SigningMethodRS256, s.key, with("exp", now-1)), "7", http.StatusUnauthorized},
		{"lives longer than ten minutes", "Bearer " + signJWT(t, jwt.SigningMethodRS256, s.key, jwt.MapClaims{"iat": now - 30, "exp": now - 30 + 601, "iss": iss}), "7", http.StatusUnauthorized},
		{"issued in the future", "Bearer " + signJWT(t, jwt.SigningMethodRS256, s.key, jwt.MapClaims{"iat": now + 300, "exp": now + 400, "iss": iss}), "7", http.StatusUnauthorized},
		{"fractional iat", "Bearer " + signJWT(t, jwt.SigningMethodRS256, s.key, with("iat", float64(now)-0.5)), "7", http.StatusUnauthorized},
		{"missing exp", "Bearer " + signJWT(t, jwt.SigningMethodRS256, s.key, jwt.MapClaims{"iat": now, "iss": iss}), "7", http.StatusUnauthorized},
		{"other App", "Bearer " + signJWT(t, jwt.SigningMethodRS256, s.key, with("iss", "1")), "7", http.StatusUnauthorized},
		{"HS256 with the public key bytes", "Bearer " + signJWT(t, jwt.SigningMethodHS256, x509.MarshalPKCS1PublicKey(&s.key.PublicKey), valid()), "7", http.StatusUnauthorized},
		{"installation token instead of JWT", "token ghs_notajwt", "7", http.StatusUnauthorized},
		{"no Authorization", "", "7", http.StatusUnauthorized},
		{"unknown installation", "Bearer " + signJWT(t, jwt.SigningMethodRS256, s.key, valid()), "8", http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, s.APIURL()+"app/installations/"+tc.path+"/access_tokens", nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatalf("response is not JSON: %v", err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d (%v), want %d", resp.StatusCode, body["message"], tc.status)
			}
			if tc.status == http.StatusCreated {
				tok, _ := body["token"].(string)
				exp, err := time.Parse(time.RFC3339, fmt.Sprint(body["expires_at"]))
				if !strings.HasPrefix(tok, "ghs_") || err != nil || time.Until(exp) < 59*time.Minute {
					t.Fatalf("token response = %v, want a ghs_ token expiring in an hour", body)
				}
			} else if body["message"] == "" || body["message"] == nil {
				t.Fatalf("error response has no message: %v", body)
			}
		})
	}
}

func TestGhinstallationWithWrongKeyIsRefused(t *testing.T) {
	t.Parallel()
	s := New(t, Options{AppID: 99})
	s.AddRepo(t, "acme", "infra", 7)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	otherPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(other)})

	_, err = installation(t, s, otherPEM, 7, nil).Token(context.Background())
	var he *ghinstallation.HTTPError
	if !errors.As(err, &he) || he.Response.StatusCode != http.StatusUnauthorized {
		t.Fatalf("Token with a foreign key: err = %v, want HTTP 401", err)
	}

	tok, err := installation(t, s, s.PrivateKeyPEM(), 7, nil).Token(context.Background())
	if err != nil || !strings.HasPrefix(tok, "ghs_") {
		t.Fatalf("Token with the App key = %q, %v; want a ghs_ token", tok, err)
	}
	if grants := s.Tokens(); len(grants) != 1 || grants[0].Token != tok || grants[0].InstallationID != 7 {
		t.Fatalf("Tokens() = %+v, want the one token for installation 7", grants)
	}
}

func TestWritePrivateKeyIsPrivateAndUsable(t *testing.T) {
	t.Parallel()
	s := New(t, Options{})
	path := s.WritePrivateKey(t, t.TempDir())
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, want 0600", st.Mode().Perm())
	}
	if _, err := ghinstallation.NewAppsTransportKeyFromFile(http.DefaultTransport, s.AppID(), path); err != nil {
		t.Fatalf("ghinstallation cannot load the written key: %v", err)
	}
}

func TestTokenReachesOnlyItsRepositories(t *testing.T) {
	t.Parallel()
	s := New(t, Options{})
	infra := s.AddRepo(t, "acme", "infra", 7)
	s.AddRepo(t, "acme", "network", 7)
	s.AddRepo(t, "globex", "infra", 8)
	ctx := context.Background()

	tests := []struct {
		name        string
		opts        *github.InstallationTokenOptions
		owner, repo string
		status      int
	}{
		{"own repo", nil, "acme", "infra", http.StatusOK},
		{"owner and name case-insensitive", nil, "ACME", "Infra", http.StatusOK},
		{"other repo of the installation", nil, "acme", "network", http.StatusOK},
		{"repo of another installation", nil, "globex", "infra", http.StatusNotFound},
		{"no such repo", nil, "acme", "missing", http.StatusNotFound},
		{"token limited by name, inside", &github.InstallationTokenOptions{Repositories: []string{"infra"}}, "acme", "infra", http.StatusOK},
		{"token limited by name, outside", &github.InstallationTokenOptions{Repositories: []string{"infra"}}, "acme", "network", http.StatusNotFound},
		{"token limited by ID, outside", &github.InstallationTokenOptions{RepositoryIDs: []int64{infra.id}}, "acme", "network", http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gh := client(t, s, installation(t, s, s.PrivateKeyPEM(), 7, tc.opts))
			repo, resp, err := gh.Repositories.Get(ctx, tc.owner, tc.repo)
			if got := statusOf(t, resp, err); got != tc.status {
				t.Fatalf("GET repo status = %d, want %d (err %v)", got, tc.status, err)
			}
			if tc.status == http.StatusOK && (repo.GetDefaultBranch() != "main" || !strings.EqualFold(repo.GetFullName(), tc.owner+"/"+tc.repo)) {
				t.Fatalf("repo = %s default %s", repo.GetFullName(), repo.GetDefaultBranch())
			}
		})
	}

	for _, tc := range []struct{ name, auth string }{
		{"no token", ""},
		{"unknown token", "token ghs_000000000000000000000000000000000000"},
		{"App JWT", "Bearer " + signJWT(t, jwt.SigningMethodRS256, s.key, jwt.MapClaims{"iat": time.Now().Unix(), "exp": time.Now().Unix() + 60, "iss": "4242"})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, resp, err := client(t, s, tokenTransport{tc.auth}).Repositories.Get(ctx, "acme", "infra")
			if got := statusOf(t, resp, err); got != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401", got)
			}
		})
	}
}

func TestTokenRequestsAreCheckedAndRecorded(t *testing.T) {
	t.Parallel()
	s := New(t, Options{})
	infra := s.AddRepo(t, "acme", "infra", 7)
	s.AddRepo(t, "globex", "infra", 8)
	infra.Commit(t, "feature", map[string]string{"main.tf": "# change\n"}, "change")
	infra.OpenPR(t, 1, "feature", "alice")
	ctx := context.Background()

	_, err := installation(t, s, s.PrivateKeyPEM(), 7, &github.InstallationTokenOptions{Repositories: []string{"globex-only"}}).Token(ctx)
	var he *ghinstallation.HTTPError
	if !errors.As(err, &he) || he.Response.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("token for a repo outside the installation: err = %v, want 422", err)
	}
	_, err = installation(t, s, s.PrivateKeyPEM(), 7, &github.InstallationTokenOptions{Permissions: &github.InstallationPermissions{Contents: github.Ptr("write")}}).Token(ctx)
	if !errors.As(err, &he) || he.Response.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("token asking for more than the App holds: err = %v, want 422", err)
	}

	// A token limited to checks cannot comment.
	itr := installation(t, s, s.PrivateKeyPEM(), 7, &github.InstallationTokenOptions{
		Repositories: []string{"infra"},
		Permissions:  &github.InstallationPermissions{Checks: github.Ptr("write")},
	})
	gh := client(t, s, itr)
	_, resp, err := gh.Issues.CreateComment(ctx, "acme", "infra", 1, &github.IssueComment{Body: github.Ptr("hi")})
	if got := statusOf(t, resp, err); got != http.StatusForbidden {
		t.Fatalf("comment with a checks-only token: status %d, want 403", got)
	}
	grants := s.Tokens()
	last := grants[len(grants)-1]
	if len(last.Repositories) != 1 || last.Repositories[0] != "infra" || last.Permissions["checks"] != "write" || len(last.Permissions) != 1 {
		t.Fatalf("recorded grant = %+v, want repositories [infra] and permissions checks:write", last)
	}
}
