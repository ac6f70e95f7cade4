package webhook

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

const (
	defaultBodyBudget = 64 << 20
	// defaultBodyTimeout matches GitHub's own delivery timeout: a body still
	// arriving after it is not GitHub's.
	defaultBodyTimeout = 10 * time.Second

	// A body is read in chunks that start small and double, so a sender holds
	// budget for little more than it has actually sent, and a typical
	// delivery (tens of KiB, length declared) is one allocation.
	firstChunk = 64 << 10
	maxChunk   = 1 << 20
	// smallBody is the declared length up to which a body may use the part
	// of the budget kept back from large and undeclared ones. GitHub's
	// deliveries are almost all far below it, so a flood of large unsigned
	// bodies cannot crowd them out.
	smallBody = 1 << 20
)

// budget bounds the bytes held for bodies whose signature is not checked
// yet, all requests together. Reservations never wait: over the budget a
// delivery is answered 503 at once.
type budget struct {
	limit int64 // open to bodies declaring at most smallBody bytes
	large int64 // open to larger bodies and to those of unknown length
	held  atomic.Int64
}

func newBudget(limit int64) *budget {
	return &budget{limit: limit, large: limit - limit/4}
}

// take reserves n bytes, or reports false when that would go over the part
// of the budget open to this body. Concurrent takes may both fail near the
// limit; neither ever admits more than the limit.
func (b *budget) take(n int64, small bool) bool {
	ceiling := b.large
	if small {
		ceiling = b.limit
	}
	if b.held.Add(n) > ceiling {
		b.held.Add(-n)
		return false
	}
	return true
}

func (b *budget) give(n int64) { b.held.Add(-n) }

// heldBody is a body read in chunks and the budget it holds.
type heldBody struct {
	chunks   [][]byte
	size     int64
	reserved int64
	budget   *budget
	// first is the first chunk's buffer when it came from the handler's
	// pool, to be put back once nothing reads the body any more.
	first *[]byte
}

// firstChunks keeps first-chunk buffers between deliveries: most bodies
// fit in one, so an ack allocates no body at all.
type firstChunks struct{ pool sync.Pool }

func (c *firstChunks) get(n int64) *[]byte {
	if p, ok := c.pool.Get().(*[]byte); ok {
		*p = (*p)[:n]
		return p
	}
	buf := make([]byte, n, firstChunk)
	return &buf
}

// recycle puts the body's pooled buffer back. The caller must hold no
// slice of the body, nor anything aliasing it.
func (c *firstChunks) recycle(b *heldBody) {
	if b.first != nil {
		c.pool.Put(b.first)
		b.first = nil
	}
}

// release returns the body's reservation; calling it again does nothing.
func (b *heldBody) release() {
	b.budget.give(b.reserved)
	b.reserved = 0
	b.chunks = nil
}

// bytes returns the body as one slice, copying only when it spans chunks.
func (b *heldBody) bytes() []byte {
	if len(b.chunks) == 1 {
		return b.chunks[0]
	}
	out := make([]byte, 0, b.size)
	for _, c := range b.chunks {
		out = append(out, c...)
	}
	return out
}

// readBody reads r's body before any parse slot is taken, under the body
// deadline and the size limit, reserving budget for each chunk before
// reading it and hashing each chunk into v as it arrives. On success the
// caller must release the returned body.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request, v *verifier, deadline time.Time) (*heldBody, *result) {
	// A server that cannot set deadlines (a test recorder) still has its own
	// ReadTimeout; nothing else to do then.
	if err := http.NewResponseController(w).SetReadDeadline(deadline); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return nil, &result{status: http.StatusBadRequest, text: "cannot read body", outcome: "bad_body", err: fmt.Errorf("set body deadline: %w", err)}
	}
	declared := r.ContentLength // -1 when unknown
	small := declared >= 0 && declared <= smallBody
	src := http.MaxBytesReader(w, r.Body, h.maxBody)
	b := &heldBody{budget: h.budget}
	for chunk := int64(firstChunk); declared < 0 || b.size < declared; chunk = min(2*chunk, maxChunk) {
		n := chunk
		if declared >= 0 {
			n = min(n, declared-b.size)
		} else {
			// One byte past the limit lets MaxBytesReader report it.
			n = min(n, h.maxBody+1-b.size)
		}
		if !h.budget.take(n, small) {
			b.release()
			return nil, &result{status: http.StatusServiceUnavailable, text: "busy, retry later", outcome: "over_budget",
				err: fmt.Errorf("unverified bodies would exceed the %d-byte budget", h.budget.limit)}
		}
		b.reserved += n
		var buf []byte
		if len(b.chunks) == 0 && n <= firstChunk {
			b.first = h.firstChunks.get(n)
			buf = *b.first
		} else {
			buf = make([]byte, n)
		}
		got, err := fill(src, buf)
		buf = buf[:got]
		b.chunks = append(b.chunks, buf)
		b.size += int64(got)
		v.mac.Write(buf)
		if err == io.EOF {
			break
		}
		if err != nil {
			b.release()
			return nil, readError(err, h.maxBody)
		}
	}
	return b, nil
}

// fill reads into buf until it is full or the reader fails. Unlike
// io.ReadFull it passes io.EOF on, so the end of the body is told apart
// from a sender that hung up early (io.ErrUnexpectedEOF from net/http).
func fill(src io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := src.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func readError(err error, limit int64) *result {
	var tooBig *http.MaxBytesError
	var netErr net.Error
	switch {
	case errors.As(err, &tooBig):
		res := tooLarge(-1, limit)
		return &res
	case errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout():
		return &result{status: http.StatusRequestTimeout, text: "body not received in time", outcome: "body_timeout", err: fmt.Errorf("read body: %w", err)}
	}
	return &result{status: http.StatusBadRequest, text: "cannot read body", outcome: "bad_body", err: fmt.Errorf("read body: %w", err)}
}
