package webhook

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// stallingBody sends n bytes, then blocks until released.
type stallingBody struct {
	left    int
	stalled chan struct{}
	release chan struct{}
}

func (b *stallingBody) Read(p []byte) (int, error) {
	if b.left == 0 {
		close(b.stalled)
		<-b.release
		return 0, io.EOF
	}
	n := min(len(p), b.left)
	for i := range p[:n] {
		p[i] = ' '
	}
	b.left -= n
	return n, nil
}

func TestHandlerBodyBudget(t *testing.T) {
	const limit = 1 << 20
	hs := newHarness(t, func(o *Options) { o.MaxBody = limit; o.BodyBudget = 4 * limit; o.MaxInFlight = 1 })
	release := make(chan struct{})
	type answer struct {
		code       int
		retryAfter string
	}
	answers := make(chan answer, 16)
	held := 0
	var refused *answer
	// Unsigned bodies of unknown length that stop just short of the end
	// hold what they sent; one of them must be refused at once.
	for i := 0; refused == nil; i++ {
		if i == 16 {
			t.Fatalf("16 stalled bodies of %d bytes held with a budget of %d: none refused", limit, 4*limit)
		}
		body := &stallingBody{left: limit, stalled: make(chan struct{}), release: release}
		r := delivery("push", fmt.Sprintf("d-stall-%d", i), nil)
		r.Header.Set(signatureHeader, "sha256="+strings.Repeat("0", 64))
		r.Body, r.ContentLength = io.NopCloser(body), -1
		go func() {
			w := hs.serve(r)
			answers <- answer{w.Code, w.Header().Get("Retry-After")}
		}()
		select {
		case <-body.stalled:
			held++
		case a := <-answers:
			refused = &a
		}
	}
	if refused.code != http.StatusServiceUnavailable || refused.retryAfter == "" {
		t.Fatalf("stalled body past the budget: %d (Retry-After %q), want 503 with Retry-After", refused.code, refused.retryAfter)
	}
	if held*limit > 4*limit {
		t.Errorf("%d stalled bodies of %d bytes held at once, over the %d-byte budget", held, limit, 4*limit)
	}
	// A small signed delivery still fits: a share is kept for it.
	if w := hs.serve(delivery("push", "d-small", fixture(t, "push/with-new-branch.payload.json"))); w.Code != http.StatusAccepted {
		t.Fatalf("small signed delivery with the budget held: ServeHTTP() = %d %q, want 202", w.Code, w.Body.String())
	}
	close(release)
	for range held {
		if a := <-answers; a.code != http.StatusUnauthorized {
			t.Errorf("stalled unsigned body, once ended: %d, want 401", a.code)
		}
	}
	if got := hs.count(t, "unknown", "over_budget"); got != 1 {
		t.Errorf("deliveries_total{unknown,over_budget} = %v, want 1", got)
	}
}

func TestHandlerRefusesUnsignableRequestsUnread(t *testing.T) {
	hs := newHarness(t, nil)
	body := &countingReader{}
	r := delivery("push", "d-nosig", nil)
	r.Header.Del(signatureHeader)
	r.Body, r.ContentLength = io.NopCloser(body), 20<<20
	if w := hs.serve(r); w.Code != http.StatusUnauthorized {
		t.Fatalf("unsigned 20 MiB body: ServeHTTP() = %d, want 401", w.Code)
	}
	if got := body.n.Load(); got != 0 {
		t.Errorf("read %d bytes of a body without a signature, want 0", got)
	}
}
