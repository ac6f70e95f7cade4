package health

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A check that never answers fails by its timeout, named; the probe keeps
// answering from the cache while it hangs.
func TestHangingCheckFailsByTimeoutAndProbeStaysCheap(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	c := New([]Check{
		{Name: CheckStore, Run: func(context.Context) error { return nil }},
		{Name: CheckStateBucket, Run: func(context.Context) error { <-release; return nil }},
		{Name: CheckGitHub, Run: func(context.Context) error { return errors.New("401 Bad credentials") }},
	}, Options{Timeout: 50 * time.Millisecond})
	c.RunOnce(context.Background())
	rec := httptest.NewRecorder()
	c.Ready(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	body := rec.Body.String()
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(body, "state_bucket: no answer within the check's timeout") ||
		!strings.Contains(body, "github: 401 Bad credentials") || strings.Contains(body, "store") {
		t.Fatalf("/readyz = %d %q", rec.Code, body)
	}

	// A round whose bucket check hangs for as long as the test lasts:
	// probes answer meanwhile, from the last round's results.
	slow := New(c.checks, Options{Timeout: time.Minute})
	slow.results = c.results
	round := make(chan struct{})
	go func() { slow.RunOnce(context.Background()); close(round) }()
	for range 1000 {
		rec := httptest.NewRecorder()
		slow.Ready(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		if rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("probe during a round = %d", rec.Code)
		}
	}
	select {
	case <-round:
		t.Fatal("the round ended before its hanging check was released")
	default:
	}
}
