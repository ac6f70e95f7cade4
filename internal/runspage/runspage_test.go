package runspage

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tfpr/tfpr/internal/runlog"
	"github.com/tfpr/tfpr/internal/store"
)

type fixture struct {
	st   *store.SQLite
	logs *runlog.Broadcaster
	srv  *httptest.Server
}

func newFixture(t *testing.T, auth *Credentials) *fixture {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "tfpr.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	logs := runlog.New(runlog.Limits{})
	h, err := New(Options{Runs: st, Logs: logs, Auth: auth, KeepAlive: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &fixture{st: st, logs: logs, srv: srv}
}

// run creates a run and moves it to status.
func (f *fixture) run(t *testing.T, kind store.RunKind, project string, pr int, status store.Status) int64 {
	t.Helper()
	ctx := context.Background()
	id, _, err := f.st.CreateRun(ctx, store.Run{Kind: kind, Repo: "acme/infra", Project: project, PR: pr, SHA: strings.Repeat("ab", 20), Trigger: "webhook", MergedBy: "octocat"})
	if err != nil {
		t.Fatal(err)
	}
	if status == store.StatusQueued {
		return id
	}
	if err := f.st.StartRun(ctx, id); err != nil {
		t.Fatal(err)
	}
	if status != store.StatusRunning {
		if err := f.st.FinishRun(ctx, id, status, ""); err != nil {
			t.Fatal(err)
		}
	}
	return id
}

func (f *fixture) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(f.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b)
}

func TestListsRecentRunsFilterableByProjectAndStatus(t *testing.T) {
	f := newFixture(t, nil)
	f.run(t, "plan", "microservices/alpha/dev", 7, store.StatusSucceeded)
	f.run(t, "apply", "microservices/beta/prod", 8, store.StatusFailed)
	f.run(t, "plan", "microservices/alpha/dev", 9, store.StatusRunning)

	code, body := f.get(t, "/")
	if code != 200 || strings.Count(body, `<tr class="run`) != 3 {
		t.Fatalf("GET / = %d with %d runs, want 3:\n%s", code, strings.Count(body, `<tr class="run`), body)
	}
	for _, want := range []string{"acme/infra#8", "<code>abababababab</code>", "octocat", "succeeded", "running"} {
		if !strings.Contains(body, want) {
			t.Errorf("GET / lacks %q", want)
		}
	}
	if _, body := f.get(t, "/?project=microservices/alpha/dev"); strings.Count(body, `<tr class="run`) != 2 || strings.Contains(body, "beta/prod</a>") {
		t.Errorf("project filter shows %d runs, want the 2 of alpha/dev", strings.Count(body, `<tr class="run`))
	}
	if _, body := f.get(t, "/?status=failed"); strings.Count(body, `<tr class="run`) != 1 || !strings.Contains(body, "beta/prod") {
		t.Errorf("status filter shows %d runs, want beta's failed apply", strings.Count(body, `<tr class="run`))
	}
	if code, body := f.get(t, "/?status=bogus"); code != 400 || !strings.Contains(body, `unknown status "bogus"`) {
		t.Errorf("bad status filter = %d %q, want 400 naming the problem", code, body)
	}
	if code, _ := f.get(t, "/runs/999"); code != 404 {
		t.Errorf("GET /runs/999 = %d, want 404", code)
	}
	if code, _ := f.get(t, "/runs/x"); code != 400 {
		t.Errorf("GET /runs/x = %d, want 400", code)
	}
}

// event is one Server-Sent Event.
type event struct{ name, data, id string }

func readEvents(t *testing.T, r *bufio.Reader, n int, stop string) []event {
	t.Helper()
	var out []event
	var ev event
	for len(out) < n {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended after %d events: %v (%+v)", len(out), err, out)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if ev.data != "" || ev.name != "" {
				out = append(out, ev)
				if stop != "" && ev.name == stop {
					return out
				}
			}
			ev = event{}
		case strings.HasPrefix(line, "data: "):
			ev.data = strings.TrimPrefix(line, "data: ")
		case strings.HasPrefix(line, "event: "):
			ev.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "id: "):
			ev.id = strings.TrimPrefix(line, "id: ")
		}
	}
	return out
}

// A running run's log arrives line by line as it is written, masked, and
// the stream ends with the run's status.
func TestStreamsARunningRunsLogLive(t *testing.T) {
	f := newFixture(t, nil)
	id := f.run(t, "plan", "microservices/alpha/dev", 7, store.StatusRunning)
	rid := runlog.RunID(id)
	f.logs.Append(rid, "Initializing the backend...")

	if _, body := f.get(t, "/runs/"+itoa(id)); !strings.Contains(body, "Initializing the backend...") || !strings.Contains(body, `data-stream="/runs/`+itoa(id)+`/log?from=1"`) {
		t.Fatalf("run page lacks the backlog or the stream:\n%s", body)
	}
	resp, err := http.Get(f.srv.URL + "/runs/" + itoa(id) + "/log")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type = %q", ct)
	}
	r := bufio.NewReader(resp.Body)
	if ev := readEvents(t, r, 1, ""); ev[0].data != "Initializing the backend..." || ev[0].id != "0" {
		t.Fatalf("first event = %+v", ev[0])
	}
	f.logs.Append(rid, "Plan: 1 to add, 0 to change, 0 to destroy.", "Authorization: Bearer ghs_16C7e42F292c6912E7710c838347Ae178B4a")
	ev := readEvents(t, r, 2, "")
	if ev[0].data != "Plan: 1 to add, 0 to change, 0 to destroy." || strings.Contains(ev[1].data, "ghs_16C7") || !strings.Contains(ev[1].data, "«redacted»") {
		t.Fatalf("live events = %+v, want the plan line and the token masked", ev)
	}
	if err := f.st.FinishRun(context.Background(), id, store.StatusSucceeded, ""); err != nil {
		t.Fatal(err)
	}
	f.logs.Finish(rid)
	if ev := readEvents(t, r, 5, "end"); ev[len(ev)-1].name != "end" || ev[len(ev)-1].data != "succeeded" {
		t.Fatalf("after the run finished: %+v, want an end event with its status", ev)
	}
}

// An executor that dies without finishing its log does not leave the page
// streaming forever: the store's status ends the stream.
func TestStreamEndsWhenTheStoreSaysTheRunEnded(t *testing.T) {
	f := newFixture(t, nil)
	id := f.run(t, "apply", "microservices/alpha/dev", 7, store.StatusRunning)
	resp, err := http.Get(f.srv.URL + "/runs/" + itoa(id) + "/log")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := f.st.FinishRun(context.Background(), id, store.StatusFailed, "lost"); err != nil {
		t.Fatal(err)
	}
	if ev := readEvents(t, bufio.NewReader(resp.Body), 100, "end"); ev[len(ev)-1].name != "end" || ev[len(ev)-1].data != "failed" {
		t.Fatalf("events = %+v, want end: failed", ev)
	}
}

func TestBasicAuth(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth")
	os.WriteFile(path, []byte("ops:correct-horse-battery\n"), 0o600)
	creds, err := LoadCredentials(path)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, creds)
	if code, _ := f.get(t, "/"); code != http.StatusUnauthorized {
		t.Errorf("GET / without credentials = %d, want 401", code)
	}
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/", nil)
	req.SetBasicAuth("ops", "wrong-password-xx")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong password: %v %v, want 401", resp.StatusCode, err)
	}
	req.SetBasicAuth("ops", "correct-horse-battery")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("right credentials: %v %v, want 200", resp.StatusCode, err)
	}
	os.WriteFile(path, []byte("ops:short"), 0o600)
	if _, err := LoadCredentials(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("a short password: err = %v, want a refusal naming the file", err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
