package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tfpr/tfpr/internal/config"
	"github.com/tfpr/tfpr/internal/githubtest"
	"github.com/tfpr/tfpr/internal/metrics"
	"github.com/tfpr/tfpr/internal/testenv"
)

// benchServer is a server against fakes whose readiness checks have run
// and whose series hold values for every label tfpr uses, as after a
// while in production.
func benchServer(b *testing.B) *Server {
	gh := githubtest.New(b, githubtest.Options{})
	gh.AddRepo(b, "acme", "infra", 1)
	fg := testenv.FakeGCS(b, "state")
	env := map[string]string{
		"TFPR_GITHUB_APP_ID": "4242", "TFPR_GITHUB_PRIVATE_KEY_FILE": gh.WritePrivateKey(b, b.TempDir()),
		"TFPR_GITHUB_API_URL": gh.APIURL(), "TFPR_GITHUB_WEBHOOK_SECRET": "s3cret-value",
		"TFPR_STATE_BUCKET": fg.Bucket, "TFPR_DATA_DIR": b.TempDir(),
		"TFPR_REPO_ALLOWLIST": "acme/infra", "TFPR_INSECURE_SHARED_IDENTITY": "true",
	}
	cfg, _, err := config.Load("tfpr server", nil, func(k string) string { return env[k] })
	if err != nil {
		b.Fatal(err)
	}
	genv := fg.ClientEnv()
	s, err := New(context.Background(), cfg, Options{Getenv: func(k string) string { return genv[k] }})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.close() })
	s.health.RunOnce(context.Background())
	m := s.metrics
	for _, k := range metrics.Kinds {
		for _, o := range metrics.Outcomes {
			m.RunFinished(k, o, 90*time.Second)
		}
		m.RunStarted(k, time.Second)
	}
	for _, c := range []metrics.Command{metrics.CommandInit, metrics.CommandPlan, metrics.CommandApply, metrics.CommandShow} {
		m.TerraformExit(c, 0)
		m.TerraformExit(c, 1)
		m.TerraformExit(c, -1)
	}
	return s
}

func serveBench(b *testing.B, h http.Handler, path string, want int) {
	b.ReportAllocs()
	var size int
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != want {
			b.Fatalf("GET %s = %d, want %d: %s", path, rec.Code, want, rec.Body)
		}
		size = rec.Body.Len()
	}
	b.ReportMetric(float64(size), "resp-bytes")
}

// BenchmarkMetricsScrape is the server's cost of one /metrics scrape.
func BenchmarkMetricsScrape(b *testing.B) {
	serveBench(b, benchServer(b).Handler(), "/metrics", http.StatusOK)
}

// BenchmarkReadyzProbe is the cost of one /readyz probe: the checks run in
// the background, so a probe reads their cached results.
func BenchmarkReadyzProbe(b *testing.B) {
	serveBench(b, benchServer(b).Handler(), "/readyz", http.StatusOK)
}
