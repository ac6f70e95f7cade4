package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

const testSecret = "webhook-secret-9f2c"

// memDeduper is an in-memory Deduper.
type memDeduper struct {
	mu      sync.Mutex
	seen    map[string]bool
	forgets int
	err     error // returned by FirstDelivery when set
}

func (d *memDeduper) FirstDelivery(_ context.Context, id string) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		return false, d.err
	}
	if d.seen == nil {
		d.seen = map[string]bool{}
	}
	if d.seen[id] {
		return false, nil
	}
	d.seen[id] = true
	return true, nil
}

func (d *memDeduper) ForgetDelivery(_ context.Context, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.seen, id)
	d.forgets++
	return nil
}

// recDispatcher records dispatched events and fails while err is set.
type recDispatcher struct {
	mu     sync.Mutex
	events []Event
	err    error
}

func (d *recDispatcher) Dispatch(_ context.Context, ev Event) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		return d.err
	}
	d.events = append(d.events, ev)
	return nil
}

func (d *recDispatcher) setErr(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.err = err
}

func (d *recDispatcher) dispatched() []Event {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Event(nil), d.events...)
}

type harness struct {
	h        *Handler
	dedupe   *memDeduper
	dispatch *recDispatcher
	reg      *prometheus.Registry
	logs     *bytes.Buffer
}

func newHarness(t *testing.T, edit func(*Options)) *harness {
	t.Helper()
	hs := &harness{dedupe: &memDeduper{}, dispatch: &recDispatcher{}, reg: prometheus.NewRegistry(), logs: &bytes.Buffer{}}
	opts := Options{
		Secret:   []byte(testSecret),
		Dedupe:   hs.dedupe,
		Dispatch: hs.dispatch,
		Log:      slog.New(slog.NewJSONHandler(&lockedWriter{w: hs.logs}, nil)),
		Metrics:  hs.reg,
	}
	if edit != nil {
		edit(&opts)
	}
	h, err := New(opts)
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	hs.h = h
	return hs
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// delivery builds a signed request as GitHub sends it.
func delivery(event, id string, body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/webhook", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set(eventHeader, event)
	r.Header.Set(deliveryHeader, id)
	r.Header.Set(signatureHeader, sign([]byte(testSecret), body))
	return r
}

func (hs *harness) serve(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	hs.h.ServeHTTP(w, r)
	return w
}

// count returns tfpr_webhook_deliveries_total{event,outcome}.
func (hs *harness) count(t *testing.T, event, outcome string) float64 {
	t.Helper()
	families, err := hs.reg.Gather()
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	for _, f := range families {
		if f.GetName() != "tfpr_webhook_deliveries_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["event"] == event && labels["outcome"] == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func TestNewRequiresOptions(t *testing.T) {
	ok := Options{Secret: []byte("s"), Dedupe: &memDeduper{}, Dispatch: &recDispatcher{}}
	tests := []struct {
		name    string
		edit    func(*Options)
		wantErr string
	}{
		{"empty secret", func(o *Options) { o.Secret = nil }, "Secret is empty"},
		{"no deduper", func(o *Options) { o.Dedupe = nil }, "Dedupe is nil"},
		{"no dispatcher", func(o *Options) { o.Dispatch = nil }, "Dispatch is nil"},
		{"negative body limit", func(o *Options) { o.MaxBody = -1 }, "MaxBody is -1"},
		{"negative in-flight", func(o *Options) { o.MaxInFlight = -1 }, "MaxInFlight is -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := ok
			tt.edit(&opts)
			if _, err := New(opts); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New() error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
	// Two handlers may share a registry, e.g. across a config reload.
	ok.Metrics = prometheus.NewRegistry()
	for range 2 {
		if _, err := New(ok); err != nil {
			t.Fatalf("New() with a shared registry: %v", err)
		}
	}
}

func TestHandlerResponses(t *testing.T) {
	opened := patch(t, fixture(t, "pull_request/opened.payload.json"), map[string]any{"installation.id": 4242})
	tests := []struct {
		name         string
		req          func() *http.Request
		wantStatus   int
		wantBody     string
		wantEvent    string // metric label
		wantOutcome  string
		wantDispatch int
	}{
		{
			name:       "accepted",
			req:        func() *http.Request { return delivery("pull_request", "d-ok", opened) },
			wantStatus: http.StatusAccepted, wantBody: "accepted", wantEvent: "pull_request", wantOutcome: "accepted", wantDispatch: 1,
		},
		{
			name: "GET",
			req: func() *http.Request {
				r := delivery("pull_request", "d-get", opened)
				r.Method = http.MethodGet
				return r
			},
			wantStatus: http.StatusMethodNotAllowed, wantBody: "method not allowed", wantEvent: "unknown", wantOutcome: "method_not_allowed",
		},
		{
			name: "missing signature",
			req: func() *http.Request {
				r := delivery("pull_request", "d-nosig", opened)
				r.Header.Del(signatureHeader)
				return r
			},
			wantStatus: http.StatusUnauthorized, wantBody: "signature mismatch", wantEvent: "unknown", wantOutcome: "bad_signature",
		},
		{
			name: "signed with another secret",
			req: func() *http.Request {
				r := delivery("pull_request", "d-badsig", opened)
				r.Header.Set(signatureHeader, sign([]byte("not-the-secret"), opened))
				return r
			},
			wantStatus: http.StatusUnauthorized, wantBody: "signature mismatch", wantEvent: "unknown", wantOutcome: "bad_signature",
		},
		{
			name: "body altered after signing",
			req: func() *http.Request {
				r := delivery("pull_request", "d-altered", opened)
				altered := bytes.ReplaceAll(opened, []byte("Codertocat/Hello-World"), []byte("Codertocat/Other-World"))
				if bytes.Equal(altered, opened) {
					t.Fatal("alteration changed nothing")
				}
				r.Body = io.NopCloser(bytes.NewReader(altered))
				return r
			},
			wantStatus: http.StatusUnauthorized, wantBody: "signature mismatch", wantEvent: "unknown", wantOutcome: "bad_signature",
		},
		{
			name: "signature over garbage is checked before parsing",
			req: func() *http.Request {
				r := delivery("pull_request", "d-garbage", []byte("{not json"))
				r.Header.Set(signatureHeader, "sha256="+strings.Repeat("0", 64))
				return r
			},
			wantStatus: http.StatusUnauthorized, wantBody: "signature mismatch", wantEvent: "unknown", wantOutcome: "bad_signature",
		},
		{
			name: "missing event header",
			req: func() *http.Request {
				r := delivery("pull_request", "d-noevent", opened)
				r.Header.Del(eventHeader)
				return r
			},
			wantStatus: http.StatusBadRequest, wantBody: "missing X-GitHub-Event or X-GitHub-Delivery header", wantEvent: "unknown", wantOutcome: "missing_header",
		},
		{
			name: "missing delivery header",
			req: func() *http.Request {
				r := delivery("pull_request", "", opened)
				return r
			},
			wantStatus: http.StatusBadRequest, wantBody: "missing X-GitHub-Event or X-GitHub-Delivery header", wantEvent: "pull_request", wantOutcome: "missing_header",
		},
		{
			name:       "malformed JSON",
			req:        func() *http.Request { return delivery("pull_request", "d-bad", []byte("{\"action\": \"opened\",}")) },
			wantStatus: http.StatusBadRequest, wantBody: "parse pull_request delivery d-bad: invalid JSON at line 1", wantEvent: "pull_request", wantOutcome: "malformed",
		},
		{
			name: "ignored event",
			req: func() *http.Request {
				return delivery("check_run", "d-cr", fixture(t, "check_run/completed.payload.json"))
			},
			wantStatus: http.StatusAccepted, wantBody: "ignored", wantEvent: "check_run", wantOutcome: "ignored",
		},
		{
			name:       "ignored made-up event keeps metric labels bounded",
			req:        func() *http.Request { return delivery("no_such_event", "d-x", []byte("{}")) },
			wantStatus: http.StatusAccepted, wantBody: "ignored", wantEvent: "unknown", wantOutcome: "ignored",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, nil)
			w := hs.serve(tt.req())
			if w.Code != tt.wantStatus || !strings.HasPrefix(w.Body.String(), tt.wantBody) {
				t.Fatalf("ServeHTTP() = %d %q, want %d %q", w.Code, w.Body.String(), tt.wantStatus, tt.wantBody)
			}
			if got := len(hs.dispatch.dispatched()); got != tt.wantDispatch {
				t.Errorf("dispatched %d events, want %d", got, tt.wantDispatch)
			}
			if got := hs.count(t, tt.wantEvent, tt.wantOutcome); got != 1 {
				t.Errorf("deliveries_total{event=%q,outcome=%q} = %v, want 1", tt.wantEvent, tt.wantOutcome, got)
			}
			if tt.wantStatus == http.StatusMethodNotAllowed && w.Header().Get("Allow") != http.MethodPost {
				t.Errorf("Allow = %q, want POST", w.Header().Get("Allow"))
			}
		})
	}
}

func TestHandlerDispatchesParsedEvent(t *testing.T) {
	hs := newHarness(t, nil)
	body := patch(t, fixture(t, "pull_request/synchronize.payload.json"), map[string]any{"installation.id": 4242, "pull_request.head.sha": "0123456789abcdef0123456789abcdef01234567"})
	before := time.Now()
	if w := hs.serve(delivery("pull_request", "d-sync", body)); w.Code != http.StatusAccepted {
		t.Fatalf("ServeHTTP() = %d %q, want 202", w.Code, w.Body.String())
	}
	evs := hs.dispatch.dispatched()
	if len(evs) != 1 {
		t.Fatalf("dispatched %d events, want 1", len(evs))
	}
	e, ok := evs[0].(PullRequestEvent)
	if !ok || e.Action != "synchronize" || e.PR.HeadSHA != "0123456789abcdef0123456789abcdef01234567" || e.M.Installation != 4242 || e.M.Delivery != "d-sync" || e.M.Received.Before(before) {
		t.Fatalf("dispatched %+v, want the synchronize of head 0123456 from installation 4242", evs[0])
	}
}

func TestHandlerDuplicateDispatchedOnce(t *testing.T) {
	hs := newHarness(t, nil)
	body := fixture(t, "push/with-new-branch.payload.json")
	for i, want := range []struct {
		code int
		body string
	}{{http.StatusAccepted, "accepted\n"}, {http.StatusOK, "duplicate\n"}, {http.StatusOK, "duplicate\n"}} {
		if w := hs.serve(delivery("push", "d-dup", body)); w.Code != want.code || w.Body.String() != want.body {
			t.Fatalf("delivery %d: ServeHTTP() = %d %q, want %d %q", i+1, w.Code, w.Body.String(), want.code, want.body)
		}
	}
	if got := len(hs.dispatch.dispatched()); got != 1 {
		t.Fatalf("dispatched %d times, want 1", got)
	}
	// A different delivery of the same payload is a new event.
	if w := hs.serve(delivery("push", "d-dup-2", body)); w.Code != http.StatusAccepted {
		t.Fatalf("second delivery id: ServeHTTP() = %d, want 202", w.Code)
	}
}

func TestHandlerDisallowedRepo(t *testing.T) {
	var asked []string
	hs := newHarness(t, func(o *Options) {
		o.AllowRepo = func(fullName string) bool {
			asked = append(asked, fullName)
			return fullName == "acme/infra"
		}
	})
	w := hs.serve(delivery("push", "d-deny", fixture(t, "push/with-new-branch.payload.json")))
	if w.Code != http.StatusAccepted || !strings.Contains(w.Body.String(), "not allowed") {
		t.Fatalf("ServeHTTP() = %d %q, want 202 not allowed", w.Code, w.Body.String())
	}
	if len(asked) != 1 || asked[0] != "Codertocat/Hello-World" {
		t.Errorf("AllowRepo asked about %q, want [Codertocat/Hello-World]", asked)
	}
	if got := len(hs.dispatch.dispatched()); got != 0 {
		t.Errorf("dispatched %d events, want 0", got)
	}
	if got := hs.count(t, "push", "repo_not_allowed"); got != 1 {
		t.Errorf("deliveries_total{push,repo_not_allowed} = %v, want 1", got)
	}
	// Not recorded as seen: allowing the repository later accepts a redelivery.
	if len(hs.dedupe.seen) != 0 {
		t.Errorf("deduper recorded %v for a disallowed repository", hs.dedupe.seen)
	}

	allowed := patch(t, fixture(t, "push/with-new-branch.payload.json"), map[string]any{"repository.full_name": "acme/infra"})
	if w := hs.serve(delivery("push", "d-allow", allowed)); w.Code != http.StatusAccepted || len(hs.dispatch.dispatched()) != 1 {
		t.Fatalf("allowed repo: ServeHTTP() = %d %q, dispatched %d; want 202 and 1", w.Code, w.Body.String(), len(hs.dispatch.dispatched()))
	}
}

func TestHandlerDispatchErrorAllowsRedelivery(t *testing.T) {
	hs := newHarness(t, nil)
	body := fixture(t, "issue_comment/created.with-installation.payload.json")
	hs.dispatch.setErr(errors.New("queue database is locked"))
	w := hs.serve(delivery("issue_comment", "d-retry", body))
	if w.Code != http.StatusInternalServerError {
		t.Fatalf("failing dispatch: ServeHTTP() = %d %q, want 500", w.Code, w.Body.String())
	}
	if strings.Contains(w.Body.String(), "locked") {
		t.Errorf("500 body %q reveals the internal error", w.Body.String())
	}
	if hs.dedupe.forgets != 1 {
		t.Errorf("ForgetDelivery called %d times, want 1", hs.dedupe.forgets)
	}
	if !strings.Contains(hs.logs.String(), "queue database is locked") {
		t.Errorf("log lacks the dispatch error:\n%s", hs.logs)
	}

	hs.dispatch.setErr(nil)
	if w := hs.serve(delivery("issue_comment", "d-retry", body)); w.Code != http.StatusAccepted {
		t.Fatalf("redelivery: ServeHTTP() = %d %q, want 202", w.Code, w.Body.String())
	}
	if got := len(hs.dispatch.dispatched()); got != 1 {
		t.Fatalf("dispatched %d events after redelivery, want 1", got)
	}
}

func TestHandlerDedupeError(t *testing.T) {
	hs := newHarness(t, nil)
	hs.dedupe.err = errors.New("disk full")
	if w := hs.serve(delivery("push", "d-1", fixture(t, "push/with-new-branch.payload.json"))); w.Code != http.StatusInternalServerError {
		t.Fatalf("ServeHTTP() = %d, want 500", w.Code)
	}
	if got := len(hs.dispatch.dispatched()); got != 0 {
		t.Errorf("dispatched %d events, want 0", got)
	}
}

// countingReader is an endless body that counts what the handler read.
type countingReader struct{ n atomic.Int64 }

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	c.n.Add(int64(len(p)))
	return len(p), nil
}

func TestHandlerTooLarge(t *testing.T) {
	const limit = 64 << 10
	tests := []struct {
		name          string
		contentLength int64 // -1: unknown, as with chunked encoding
		wantMaxRead   int64
	}{
		{name: "declared length over limit", contentLength: limit + 1, wantMaxRead: 0},
		{name: "unknown length", contentLength: -1, wantMaxRead: limit + bytes.MinRead},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, func(o *Options) { o.MaxBody = limit })
			body := &countingReader{}
			r := delivery("pull_request", "d-big", nil)
			r.Body = io.NopCloser(body)
			r.ContentLength = tt.contentLength
			w := hs.serve(r)
			if w.Code != http.StatusRequestEntityTooLarge {
				t.Fatalf("ServeHTTP() = %d %q, want 413", w.Code, w.Body.String())
			}
			if got := body.n.Load(); got > tt.wantMaxRead {
				t.Errorf("read %d bytes of an endless body, want at most %d", got, tt.wantMaxRead)
			}
			if got := hs.count(t, "unknown", "too_large"); got != 1 {
				t.Errorf("deliveries_total{unknown,too_large} = %v, want 1", got)
			}
		})
	}
}

// blockingDispatcher holds a verified delivery in its slot until released.
type blockingDispatcher struct {
	once    sync.Once
	started chan struct{}
	release chan struct{}
}

func (d *blockingDispatcher) Dispatch(context.Context, Event) error {
	d.once.Do(func() { close(d.started) })
	<-d.release
	return nil
}

func TestHandlerInFlightLimit(t *testing.T) {
	block := &blockingDispatcher{started: make(chan struct{}), release: make(chan struct{})}
	hs := newHarness(t, func(o *Options) { o.MaxInFlight = 1; o.Dispatch = block })
	push := fixture(t, "push/with-new-branch.payload.json")
	done := make(chan int)
	go func() { done <- hs.serve(delivery("push", "d-slow", push)).Code }()
	<-block.started

	start := time.Now()
	w := hs.serve(delivery("push", "d-busy", push))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("with the only slot taken: ServeHTTP() = %d (Retry-After %q), want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	if waited := time.Since(start); waited < inFlightWait/2 || waited > 2*time.Second {
		t.Errorf("503 after %v, want about %v", waited, inFlightWait)
	}
	close(block.release)
	if code := <-done; code != http.StatusAccepted {
		t.Fatalf("held delivery: ServeHTTP() = %d, want 202", code)
	}
	if w := hs.serve(delivery("push", "d-after", push)); w.Code != http.StatusAccepted {
		t.Fatalf("after the slot freed: ServeHTTP() = %d, want 202", w.Code)
	}
}

func TestHandlerLogsOneLinePerDelivery(t *testing.T) {
	hs := newHarness(t, nil)
	body := fixture(t, "pull_request/opened.payload.json")
	hs.serve(delivery("pull_request", "d-log-1", body))
	bad := delivery("pull_request", "d-log-2", body)
	bad.Header.Set(signatureHeader, sign([]byte("wrong"), body))
	hs.serve(bad)

	lines := strings.Split(strings.TrimSpace(hs.logs.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d log lines, want 2:\n%s", len(lines), hs.logs)
	}
	want := []map[string]any{
		{"event": "pull_request", "action": "opened", "delivery": "d-log-1", "repo": "Codertocat/Hello-World", "outcome": "accepted", "level": "INFO"},
		{"event": "pull_request", "action": "", "delivery": "d-log-2", "repo": "", "outcome": "bad_signature", "level": "WARN"},
	}
	for i, line := range lines {
		var got map[string]any
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("log line %d is not JSON: %v", i+1, err)
		}
		for k, v := range want[i] {
			if got[k] != v {
				t.Errorf("log line %d: %s = %v, want %v", i+1, k, got[k], v)
			}
		}
		if _, ok := got["duration"]; !ok {
			t.Errorf("log line %d has no duration", i+1)
		}
	}
	for _, secret := range []string{testSecret, "Update the README", sign([]byte(testSecret), body)} {
		if strings.Contains(hs.logs.String(), secret) {
			t.Errorf("log contains %q, which must never be logged", secret)
		}
	}
}
