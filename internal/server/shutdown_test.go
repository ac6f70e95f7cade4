package server

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/tfpr/tfpr/internal/runlog"
	"github.com/tfpr/tfpr/internal/store"
)

// A browser watching a running run's log does not hold shutdown up: the
// stream ends and Serve returns cleanly, well before its 10 s limit.
func TestShutdownEndsLiveLogStreams(t *testing.T) {
	s, err := New(context.Background(), load(t, baseEnv(t)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	id, _, err := s.store.CreateRun(context.Background(), store.Run{Kind: "plan", Repo: "acme/infra", Project: "microservices/alpha/dev", PR: 1, SHA: "abc", Status: store.StatusRunning})
	if err != nil {
		t.Fatal(err)
	}
	s.logs.Append(runlog.RunID(id), "Initializing the backend...")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()

	resp, err := http.Get("http://" + ln.Addr().String() + "/runs/" + strconv.FormatInt(id, 10) + "/log")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if line, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil || line != "id: 0\n" {
		t.Fatalf("stream's first line = %q, %v", line, err)
	}
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve returned %v with a log stream open", err)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("shutdown took %v with a log stream open", took)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Serve did not return with a log stream open")
	}
}
