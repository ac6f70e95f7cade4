package worker

import (
	"context"
	"strconv"
	"sync"
	"time"
)

// logBuffer holds the worker's log until the server takes it. While the
// server is away it keeps at most max bytes, dropping the oldest and saying
// how much it dropped, so a long outage costs bounded memory.
type logBuffer struct {
	mu      sync.Mutex
	buf     []byte
	max     int
	dropped int
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.dropped += over
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

// take returns what is buffered and empties the buffer.
func (b *logBuffer) take() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf) == 0 && b.dropped == 0 {
		return nil
	}
	out := b.buf
	if b.dropped > 0 {
		out = append([]byte("[tfpr worker: "+strconv.Itoa(b.dropped)+" bytes of log dropped while the server was away]\n"), out...)
	}
	b.buf, b.dropped = nil, 0
	return out
}

// putBack returns chunk to the front of the buffer after a failed post.
func (b *logBuffer) putBack(chunk []byte) {
	b.mu.Lock()
	rest := b.buf
	b.buf = append(append([]byte(nil), chunk...), rest...)
	b.mu.Unlock()
	b.Write(nil)
}

// ship posts the buffer every interval until ctx ends, then once more.
func (b *logBuffer) ship(ctx context.Context, c *client, interval time.Duration) {
	post := func(pctx context.Context) {
		chunk := b.take()
		if chunk == nil {
			return
		}
		resp, err := c.do(pctx, "POST", "log", chunk)
		if err != nil {
			b.putBack(chunk)
			return
		}
		resp.Body.Close()
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			post(fctx)
			cancel()
			return
		case <-t.C:
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			post(pctx)
			cancel()
		}
	}
}
