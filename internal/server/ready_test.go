package server

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tfpr/tfpr/internal/githubtest"
	"github.com/tfpr/tfpr/internal/testenv"
)

// readyEnv is a server environment against a fake GitHub and a fake GCS.
func readyEnv(t *testing.T, gh *githubtest.Server, fg *testenv.GCS) (map[string]string, Options) {
	env := githubEnv(t, gh)
	env["TFPR_REPO_ALLOWLIST"] = "acme/infra"
	env["TFPR_STATE_BUCKET"] = fg.Bucket
	genv := fg.ClientEnv()
	return env, Options{Getenv: func(k string) string { return genv[k] }}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(body)
}

func TestReadyzNamesWhatFailed(t *testing.T) {
	gh := githubtest.New(t, githubtest.Options{})
	gh.AddRepo(t, "acme", "infra", 1)
	fg := testenv.FakeGCS(t, "state")

	env, o := readyEnv(t, gh, fg)
	s, err := New(context.Background(), load(t, env), o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	if code, body := get(t, srv.URL+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "not checked yet") {
		t.Errorf("/readyz before any check = %d %q, want 503 not checked yet", code, body)
	}
	s.health.RunOnce(context.Background())
	if code, body := get(t, srv.URL+"/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz with every dependency healthy = %d %q, want 200", code, body)
	}
	if _, body := get(t, srv.URL+"/metrics"); !strings.Contains(body, "tfpr_ready 1") || !strings.Contains(body, `tfpr_readiness_check_ok{check="github"} 1`) {
		t.Errorf("/metrics lacks tfpr_ready 1:\n%.3000s", body)
	}

	// The store stops taking writes.
	s.store.Close()
	s.health.RunOnce(context.Background())
	code, body := get(t, srv.URL+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "store: write to the store") {
		t.Errorf("/readyz with a closed store = %d %q, want 503 naming the store", code, body)
	}
	for _, ok := range []string{"github:", "state_bucket:", "policies:"} {
		if strings.Contains(body, ok) {
			t.Errorf("/readyz names %s, which is healthy: %q", ok, body)
		}
	}
}

func TestReadyzFailsOnRejectedJWTAndMissingBucket(t *testing.T) {
	gh := githubtest.New(t, githubtest.Options{})
	gh.AddRepo(t, "acme", "infra", 1)
	fg := testenv.FakeGCS(t, "state")
	env, o := readyEnv(t, gh, fg)
	env["TFPR_GITHUB_APP_ID"] = "999" // the fake App is 4242: GitHub refuses the JWT
	env["TFPR_STATE_BUCKET"] = "no-such-bucket"
	s, err := New(context.Background(), load(t, env), o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	s.health.RunOnce(context.Background())
	code, body := get(t, srv.URL+"/readyz")
	if code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz = %d %q, want 503", code, body)
	}
	for _, want := range []string{"github: GitHub did not accept the App's JWT", "state_bucket: list gs://no-such-bucket"} {
		if !strings.Contains(body, want) {
			t.Errorf("/readyz lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "store:") || strings.Contains(body, "policies:") {
		t.Errorf("/readyz blames a healthy check:\n%s", body)
	}
	_, metrics := get(t, srv.URL+"/metrics")
	for _, want := range []string{"tfpr_ready 0", `tfpr_readiness_check_ok{check="github"} 0`, `tfpr_readiness_check_ok{check="store"} 1`,
		`tfpr_gcs_errors_total{op="probe"} 1`, `tfpr_github_requests_total{code="4xx",route="app"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// Serve runs the checks in the background: /readyz turns 200 without
// anyone asking for a check, and answers from the cache.
func TestServeChecksReadinessInTheBackground(t *testing.T) {
	gh := githubtest.New(t, githubtest.Options{})
	gh.AddRepo(t, "acme", "infra", 1)
	fg := testenv.FakeGCS(t, "state")
	env, o := readyEnv(t, gh, fg)
	s, err := New(context.Background(), load(t, env), o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()
	url := "http://" + ln.Addr().String() + "/readyz"
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := get(t, url)
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d after 30 s: %s", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
