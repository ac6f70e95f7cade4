package runapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/tfpr/tfpr/internal/runspec"
	"github.com/tfpr/tfpr/internal/store"
)

// openRun records a started plan run with a fresh token and a bundle file,
// as Run does before it hands the run to an executor.
func openRun(t *testing.T, r *rig) (int64, string) {
	t.Helper()
	token, hash, err := newToken()
	if err != nil {
		t.Fatal(err)
	}
	id, err := r.store.CreateWorkerRun(context.Background(), store.WorkerRun{RunID: 1, Stage: "plan", Project: "microservices/alpha/dev",
		TokenHash: hash, Deadline: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(r.d.bundlePath(id), []byte("bundle bytes"), 0o600)
	return id, token
}

func call(t *testing.T, r *rig, method string, id int64, what, token string, body []byte) int {
	t.Helper()
	req, _ := http.NewRequest(method, r.url+"/internal/runs/"+itoa(id)+"/"+what, bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func planResult(id int64, file []byte, sum string) []byte {
	b, _ := json.Marshal(runspec.Result{RunID: id, Stage: runspec.Plan, Status: runspec.Succeeded, Finished: time.Now(),
		Plan: &runspec.PlanResult{HasChanges: true, Add: 1, JSON: []byte(`{"format_version":"1.2"}`), File: file, SHA256: sum}})
	return b
}

func TestTokens(t *testing.T) {
	r := newRig(t, "", nil)
	a, tokA := openRun(t, r)
	b, tokB := openRun(t, r)
	for _, c := range []struct {
		name  string
		id    int64
		token string
		want  int
	}{
		{"no token", a, "", http.StatusUnauthorized},
		{"wrong token", a, "tfprrun_" + string(bytes.Repeat([]byte("0"), 64)), http.StatusUnauthorized},
		{"another run's token", a, tokB, http.StatusUnauthorized},
		{"unknown run", 999, tokA, http.StatusUnauthorized},
		{"own token", a, tokA, http.StatusOK},
		{"other run, own token", b, tokB, http.StatusOK},
	} {
		if got := call(t, r, "GET", c.id, "bundle", c.token, nil); got != c.want {
			t.Errorf("%s: GET bundle answered %d, want %d", c.name, got, c.want)
		}
	}
	// Once its result is taken the token is spent.
	file := []byte("plan file")
	if got := call(t, r, "POST", a, "result", tokA, planResult(a, file, runspec.SHA256(file))); got != http.StatusOK {
		t.Fatalf("result: %d", got)
	}
	if _, err := r.d.Wait(context.Background(), mustGet(t, r, a)); err != nil {
		t.Fatal(err)
	}
	for _, what := range []string{"bundle", "log"} {
		method := map[string]string{"bundle": "GET", "log": "POST"}[what]
		if got := call(t, r, method, a, what, tokA, []byte("x\n")); got != http.StatusUnauthorized {
			t.Errorf("reused token: %s %s answered %d, want 401", method, what, got)
		}
	}
}

func mustGet(t *testing.T, r *rig, id int64) store.WorkerRun {
	t.Helper()
	wr, err := r.store.GetWorkerRun(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return wr
}

func TestResultWithWrongPlanHashIsRefused(t *testing.T) {
	r := newRig(t, "", nil)
	id, tok := openRun(t, r)
	file := []byte("plan file")
	if got := call(t, r, "POST", id, "result", tok, planResult(id, file, runspec.SHA256([]byte("another plan")))); got != http.StatusUnprocessableEntity {
		t.Fatalf("result with a wrong plan hash answered %d, want 422", got)
	}
	if wr := mustGet(t, r, id); wr.Result != "" || wr.State != store.WorkerStarted {
		t.Fatalf("refused result was recorded: %+v", wr)
	}
	if got := call(t, r, "POST", id+1000, "result", tok, planResult(id, file, runspec.SHA256(file))); got != http.StatusUnauthorized {
		t.Fatalf("result for another run answered %d", got)
	}
}

func TestResultRecordedOnceAcrossRestarts(t *testing.T) {
	r := newRig(t, "", nil)
	id, tok := openRun(t, r)
	file := []byte("plan file")
	first := planResult(id, file, runspec.SHA256(file))
	for i := 0; i < 3; i++ {
		if got := call(t, r, "POST", id, "result", tok, first); got != http.StatusOK {
			t.Fatalf("post %d of the same result answered %d, want 200", i+1, got)
		}
		r.restart()
	}
	other := []byte("a different plan")
	if got := call(t, r, "POST", id, "result", tok, planResult(id, other, runspec.SHA256(other))); got != http.StatusConflict {
		t.Fatalf("a different second result answered %d, want 409", got)
	}
	wr := mustGet(t, r, id)
	var res runspec.Result
	json.Unmarshal([]byte(wr.Result), &res)
	if wr.State != store.WorkerReported || string(res.Plan.File) != "plan file" {
		t.Fatalf("recorded: state %s, plan %q", wr.State, res.Plan.File)
	}
	got, err := r.d.Wait(context.Background(), wr)
	if err != nil || string(got.Plan.File) != "plan file" {
		t.Fatalf("wait: %v %+v", err, got)
	}
	if call(t, r, "POST", id, "result", tok, first) != http.StatusOK {
		t.Fatal("the same result after the run was closed was not accepted idempotently")
	}
	if wr := mustGet(t, r, id); wr.State != store.WorkerClosed {
		t.Fatalf("state %s after the result was taken", wr.State)
	}
}
