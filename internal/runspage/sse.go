package runspage

import (
	"fmt"
	"github.com/tfpr/tfpr/internal/store"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tfpr/tfpr/internal/runlog"
)

// writeWindow is how long one write to a stream may take; the deadline
// moves with every write, so a stream outlives the server's WriteTimeout
// while a reader that stops reading is dropped.
const writeWindow = 30 * time.Second

// stream sends a run's log as Server-Sent Events: one "message" event per
// line (its id the line's index, so a reconnecting browser resumes where
// it was), then an "end" event with the run's status when it finishes.
func (p *page) stream(w http.ResponseWriter, r *http.Request) {
	run, ok := p.lookup(w, r)
	if !ok {
		return
	}
	select {
	case p.streams <- struct{}{}:
		defer func() { <-p.streams }()
	default:
		w.Header().Set("Retry-After", "5")
		http.Error(w, "too many log streams open, retry later", http.StatusServiceUnavailable)
		return
	}
	// Where to resume: after the last line a reconnecting browser got,
	// else after the lines the page showed.
	from := 0
	if n, err := strconv.Atoi(r.Header.Get("Last-Event-ID")); err == nil && n >= 0 {
		from = n + 1
	} else if n, err := strconv.Atoi(r.URL.Query().Get("from")); err == nil && n >= 0 {
		from = n
	}
	id := runlog.RunID(run.ID)
	// Only a run that may still write is subscribed to: looking at old
	// runs must not make the log store remember them.
	sub := &runlog.Subscription{}
	if active(run.Status) {
		sub = p.o.Logs.Subscribe(id)
		defer sub.Cancel()
	} else {
		sub.Backlog, sub.Dropped = p.o.Logs.Lines(id)
	}

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // proxies must not hold the stream back
	w.WriteHeader(http.StatusOK)

	next := sub.Dropped
	send := func(format string, args ...any) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(writeWindow))
		if _, err := fmt.Fprintf(w, format, args...); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	line := func(l string) bool {
		defer func() { next++ }()
		if next < from {
			return true
		}
		// A line holds no newline (the sink splits on them); guard anyway,
		// since a raw newline would end the event early.
		return send("id: %d\ndata: %s\n\n", next, strings.ReplaceAll(l, "\n", " "))
	}
	end := func(status store.Status) { send("event: end\ndata: %s\n\n", status) }

	if next > from && from > 0 {
		send("event: gap\ndata: %d lines were dropped to bound memory\n\n", next-from)
	}
	for _, l := range sub.Backlog {
		if !line(l) {
			return
		}
	}
	if !active(run.Status) {
		end(run.Status)
		return
	}
	if sub.Lines == nil { // the log ended between the lookup and now
		end(p.status(r, run.ID))
		return
	}
	tick := time.NewTicker(p.o.KeepAlive)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-p.closing:
			// The browser reconnects by itself and resumes after the last
			// line it got (Last-Event-ID).
			send("retry: 5000\n\n")
			return
		case l, ok := <-sub.Lines:
			if !ok {
				if sub.Lagged() {
					send("event: lagged\ndata: reload to read on\n\n")
					return
				}
				end(p.status(r, run.ID))
				return
			}
			if !line(l) {
				return
			}
		case <-tick.C:
			// The executor may have died without finishing its log: the
			// store's status is the truth.
			if st := p.status(r, run.ID); !active(st) {
				end(st)
				return
			}
			if !send(": keep-alive\n\n") {
				return
			}
		}
	}
}

// status is the run's current status in the store ("unknown" when it
// cannot be read).
func (p *page) status(r *http.Request, id int64) store.Status {
	run, err := p.o.Runs.GetRun(r.Context(), id)
	if err != nil {
		return "unknown"
	}
	return run.Status
}
