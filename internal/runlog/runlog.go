// Package runlog carries each run's log from whatever executes it (the
// worker's log stream, which internal/runapi receives the same way from a
// local sandbox or a Kubernetes Job) to whoever watches it (the runs
// page). Writers Append lines under the run's id and Finish it; readers
// Subscribe and get what was written so far, then every new line as it
// arrives.
//
// Every line is masked with internal/redact on the way in, so nothing that
// reaches a reader can hold a credential terraform printed. Memory is
// bounded: lines are cut, each run keeps its last lines only, and only the
// most recent runs are kept.
package runlog

import (
	"container/list"
	"sync"

	"github.com/tfpr/tfpr/internal/redact"
)

// RunID is a run's id in the store.
type RunID int64

// Sink is where an executor writes a run's log.
type Sink interface {
	// Append adds lines to the run's log.
	Append(id RunID, lines ...string)
	// Finish marks the run's log complete; readers see its end.
	Finish(id RunID)
}

// Source is where the runs page reads a run's log.
type Source interface {
	// Subscribe returns the run's lines so far and, until the log is
	// finished, a subscription delivering the lines after them. Cancel it
	// when done.
	Subscribe(id RunID) *Subscription
	// Lines returns the run's lines so far and how many earlier ones were
	// dropped, without subscribing (or remembering the run).
	Lines(id RunID) (lines []string, dropped int)
}

// Limits bound a Broadcaster's memory.
type Limits struct {
	LineBytes   int // longest line kept, cut beyond (4 KiB if 0)
	LinesPerRun int // last lines kept per run (5000 if 0)
	Runs        int // runs kept, least recently written dropped first (200 if 0)
	Buffer      int // lines a subscriber may fall behind before it is cut off (1024 if 0)
}

// Broadcaster is an in-memory Sink and Source.
type Broadcaster struct {
	lim Limits

	mu    sync.Mutex
	runs  map[RunID]*list.Element // of *runLog
	order *list.List              // most recently written first
}

type runLog struct {
	id       RunID
	lines    []string
	dropped  int // lines dropped from the head to keep LinesPerRun
	finished bool
	subs     map[*Subscription]struct{}
}

// Subscription delivers a run's lines after Backlog.
type Subscription struct {
	// Backlog is the run's lines at subscription time (the last
	// LinesPerRun of them; Dropped says how many came before).
	Backlog []string
	Dropped int
	// Lines delivers the lines written after Backlog, and is closed when
	// the log is finished, the subscriber fell too far behind (Lagged),
	// or Cancel was called. Nil when the log was finished already.
	Lines <-chan string

	ch     chan string
	b      *Broadcaster
	id     RunID
	mu     sync.Mutex
	lagged bool
	closed bool
}

// New returns an empty Broadcaster.
func New(lim Limits) *Broadcaster {
	if lim.LineBytes <= 0 {
		lim.LineBytes = 4 << 10
	}
	if lim.LinesPerRun <= 0 {
		lim.LinesPerRun = 5000
	}
	if lim.Runs <= 0 {
		lim.Runs = 200
	}
	if lim.Buffer <= 0 {
		lim.Buffer = 1024
	}
	return &Broadcaster{lim: lim, runs: map[RunID]*list.Element{}, order: list.New()}
}

// run returns id's log, creating it (and dropping the oldest run beyond
// the limit). b.mu is held.
func (b *Broadcaster) run(id RunID) *runLog {
	if e, ok := b.runs[id]; ok {
		b.order.MoveToFront(e)
		return e.Value.(*runLog)
	}
	r := &runLog{id: id, subs: map[*Subscription]struct{}{}}
	b.runs[id] = b.order.PushFront(r)
	for b.order.Len() > b.lim.Runs {
		old := b.order.Back()
		or := old.Value.(*runLog)
		for s := range or.subs {
			s.close(false)
		}
		b.order.Remove(old)
		delete(b.runs, or.id)
	}
	return r
}

// Append implements Sink.
func (b *Broadcaster) Append(id RunID, lines ...string) {
	if len(lines) == 0 {
		return
	}
	clean := make([]string, len(lines))
	for i, l := range lines {
		if len(l) > b.lim.LineBytes {
			l = l[:b.lim.LineBytes] + " …"
		}
		clean[i] = redact.String(l)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.run(id)
	if r.finished {
		return
	}
	r.lines = append(r.lines, clean...)
	if over := len(r.lines) - b.lim.LinesPerRun; over > 0 {
		r.lines = append([]string(nil), r.lines[over:]...)
		r.dropped += over
	}
	for s := range r.subs {
		for _, l := range clean {
			if !s.send(l) {
				delete(r.subs, s)
				break
			}
		}
	}
}

// Finish implements Sink.
func (b *Broadcaster) Finish(id RunID) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.run(id)
	r.finished = true
	for s := range r.subs {
		s.close(false)
	}
	r.subs = map[*Subscription]struct{}{}
}

// Subscribe implements Source. A run nothing was written for yet gets an
// empty backlog and a live subscription: its executor may not have started.
func (b *Broadcaster) Subscribe(id RunID) *Subscription {
	b.mu.Lock()
	defer b.mu.Unlock()
	var r *runLog
	if e, ok := b.runs[id]; ok {
		r = e.Value.(*runLog)
	} else {
		r = b.run(id)
	}
	s := &Subscription{Backlog: append([]string(nil), r.lines...), Dropped: r.dropped, b: b, id: id}
	if r.finished {
		return s
	}
	s.ch = make(chan string, b.lim.Buffer)
	s.Lines = s.ch
	r.subs[s] = struct{}{}
	return s
}

// Lines implements Source.
func (b *Broadcaster) Lines(id RunID) ([]string, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.runs[id]
	if !ok {
		return nil, 0
	}
	r := e.Value.(*runLog)
	return append([]string(nil), r.lines...), r.dropped
}

// Finished reports whether id's log is complete (or unknown to b and so
// not coming: false).
func (b *Broadcaster) Finished(id RunID) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.runs[id]
	return ok && e.Value.(*runLog).finished
}

// send delivers l without blocking; a subscriber whose buffer is full is
// cut off (Lagged) rather than slowing the executor down.
func (s *Subscription) send(l string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	select {
	case s.ch <- l:
		return true
	default:
		s.lagged = true
		s.closed = true
		close(s.ch)
		return false
	}
}

func (s *Subscription) close(lagged bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.ch == nil {
		return
	}
	s.lagged = lagged
	s.closed = true
	close(s.ch)
}

// Lagged reports whether Lines closed because the reader fell behind.
func (s *Subscription) Lagged() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lagged
}

// Cancel stops the subscription and closes Lines.
func (s *Subscription) Cancel() {
	if s.ch == nil {
		return
	}
	s.b.mu.Lock()
	if e, ok := s.b.runs[s.id]; ok {
		delete(e.Value.(*runLog).subs, s)
	}
	s.b.mu.Unlock()
	s.close(false)
}
