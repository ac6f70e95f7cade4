package runlog

import (
	"bytes"
	"context"
	"sync"
)

type ctxKey struct{}

type target struct {
	sink Sink
	id   RunID
}

// WithRun returns ctx naming the run whose log output produced under it
// belongs to, and where to write it. The executor that starts a process
// for the run (terraform today) writes its output there, without knowing
// about runs.
func WithRun(ctx context.Context, sink Sink, id RunID) context.Context {
	if sink == nil {
		return ctx
	}
	return context.WithValue(ctx, ctxKey{}, target{sink: sink, id: id})
}

// Writer returns a line writer for the run ctx names, or nil when it names
// none. Close it to write a last line without a newline.
func Writer(ctx context.Context) *LineWriter {
	t, ok := ctx.Value(ctxKey{}).(target)
	if !ok {
		return nil
	}
	return &LineWriter{sink: t.sink, id: t.id}
}

// maxPartial bounds a line still waiting for its newline; past it the
// line is written as it is.
const maxPartial = 64 << 10

// LineWriter splits what is written to it into lines and appends them to
// a run's log.
type LineWriter struct {
	sink Sink
	id   RunID

	mu  sync.Mutex
	buf []byte
}

func (w *LineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	var lines []string
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		lines = append(lines, string(bytes.TrimSuffix(w.buf[:i], []byte("\r"))))
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > maxPartial {
		lines = append(lines, string(w.buf))
		w.buf = nil
	}
	if len(lines) > 0 {
		w.sink.Append(w.id, lines...)
	}
	if len(w.buf) == 0 {
		w.buf = nil // let a large slice go
	}
	return len(p), nil
}

// Close writes what is left without a newline.
func (w *LineWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.sink.Append(w.id, string(w.buf))
		w.buf = nil
	}
	return nil
}
