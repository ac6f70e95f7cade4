package iamcreds

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

func TestMint(t *testing.T) {
	var gotPath, gotAuth string
	var gotBody map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotAuth = r.URL.Path, r.Header.Get("Authorization")
		json.NewDecoder(r.Body).Decode(&gotBody)
		if !strings.Contains(r.URL.Path, "tf-alpha-dev@") {
			http.Error(w, `{"error":{"message":"Permission 'iam.serviceAccounts.getAccessToken' denied"}}`, http.StatusForbidden)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"accessToken": "ya29.alpha", "expireTime": time.Now().Add(time.Hour)})
	}))
	defer srv.Close()
	m, err := New(srv.URL, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "own"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := m.Mint(context.Background(), "tf-alpha-dev@p.iam.gserviceaccount.com", 3*time.Hour)
	if err != nil || tok.AccessToken != "ya29.alpha" {
		t.Fatalf("Mint: %v %+v", err, tok)
	}
	if gotPath != "/v1/projects/-/serviceAccounts/tf-alpha-dev@p.iam.gserviceaccount.com:generateAccessToken" || gotAuth != "Bearer own" {
		t.Fatalf("request: %s with %q", gotPath, gotAuth)
	}
	if gotBody["lifetime"] != "3600s" {
		t.Fatalf("lifetime %v, want clamped to 3600s", gotBody["lifetime"])
	}
	_, err = m.Mint(context.Background(), "tf-beta-dev@p.iam.gserviceaccount.com", time.Hour)
	if err == nil || !strings.Contains(err.Error(), "tf-beta-dev@") || !strings.Contains(err.Error(), "403") {
		t.Fatalf("denied mint: %v, want an error naming the account and the answer", err)
	}
	if _, err := m.Mint(context.Background(), "../../x", time.Hour); err == nil {
		t.Fatal("a path as account was accepted")
	}
}
