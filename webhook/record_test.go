package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// memRecorder is an in-memory Recorder: it keeps the ids it has seen and
// the events of the new ones, and fails while err is set.
type memRecorder struct {
	mu     sync.Mutex
	seen   map[string]bool
	events []Event
	err    error
}

func (r *memRecorder) Record(_ context.Context, ev Event) (Recorded, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return 0, r.err
	}
	id := ev.Meta().Delivery
	if r.seen[id] {
		return Duplicate, nil
	}
	if r.seen == nil {
		r.seen = map[string]bool{}
	}
	r.seen[id] = true
	r.events = append(r.events, ev)
	return Accepted, nil
}

// A handler with a Recorder needs no Deduper or Dispatcher: the recorder
// answers both questions in one step, and its answers become the response.
func TestRecorderDedupesAndDispatches(t *testing.T) {
	rec := &memRecorder{}
	hs := newHarness(t, func(o *Options) { o.Dedupe, o.Dispatch, o.Record = nil, nil, rec })
	body := patch(t, fixture(t, "pull_request/opened.payload.json"), map[string]any{"installation.id": 4242})

	if w := hs.serve(delivery("pull_request", "d-1", body)); w.Code != http.StatusAccepted {
		t.Fatalf("first delivery: %d %q, want 202", w.Code, w.Body)
	}
	if w := hs.serve(delivery("pull_request", "d-1", body)); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "duplicate") {
		t.Fatalf("redelivery: %d %q, want 200 duplicate", w.Code, w.Body)
	}
	if len(rec.events) != 1 || rec.events[0].Meta().Delivery != "d-1" {
		t.Fatalf("recorded %d events, want the one of d-1", len(rec.events))
	}
	rec.err = errors.New("disk full")
	w := hs.serve(delivery("pull_request", "d-2", body))
	if w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "disk full") {
		t.Fatalf("failing recorder: %d %q, want 500 without internals", w.Code, w.Body)
	}
	if got := hs.count(t, "pull_request", "dispatch_error"); got != 1 {
		t.Errorf("dispatch_error count = %v, want 1", got)
	}
	if !strings.Contains(hs.logs.String(), "record pull_request delivery d-2: disk full") {
		t.Errorf("the log does not say which delivery failed and why:\n%s", hs.logs)
	}
	if w := hs.serve(delivery("pull_request", "d-3", body)); w.Code != http.StatusInternalServerError {
		t.Fatalf("still failing: %d", w.Code)
	}
	if hs.dedupe.seen != nil || len(hs.dispatch.dispatched()) != 0 {
		t.Error("the Deduper or Dispatcher was used although a Recorder is set")
	}
}

// Acknowledging a delivery allocates far less than its body: the buffer a
// body is read into serves the next delivery, and the decoder builds only
// the fields tfpr reads.
func TestAckAllocatesLessThanTheBody(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	hs := newHarness(t, func(o *Options) { o.Dedupe, o.Dispatch, o.Record = nil, nil, &memRecorder{} })
	body := patch(t, fixture(t, "pull_request/synchronize.payload.json"), map[string]any{"installation.id": 4242})
	const n = 200
	reqs := make([]*http.Request, n+1)
	for i := range reqs {
		reqs[i] = delivery("pull_request", fmt.Sprintf("d-%d", i), body)
	}
	hs.serve(reqs[n]) // the first one fills the pool
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, r := range reqs[:n] {
		w := httptest.NewRecorder()
		hs.h.ServeHTTP(w, r)
		if w.Code != http.StatusAccepted {
			t.Fatalf("status %d %q", w.Code, w.Body)
		}
	}
	runtime.ReadMemStats(&after)
	per := (after.TotalAlloc - before.TotalAlloc) / n
	t.Logf("%d bytes allocated per ack of a %d-byte delivery", per, len(body))
	if per > uint64(len(body))/2 {
		t.Errorf("an ack of a %d-byte delivery allocates %d bytes, want under half the body", len(body), per)
	}
}
