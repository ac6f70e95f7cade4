package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// client speaks the internal endpoint for one run.
type client struct {
	base  string
	runID int64
	token string
	http  *http.Client
}

// errRefused is a final answer: retrying cannot help (a dead token, a
// result the server will never take).
var errRefused = errors.New("refused by the server")

func (c *client) url(what string) string {
	return c.base + "/internal/runs/" + strconv.FormatInt(c.runID, 10) + "/" + what
}

// do sends one request; a 4xx answer wraps errRefused, anything else that
// is not 2xx is worth retrying.
func (c *client) do(ctx context.Context, method, what string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.url(what), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
	resp.Body.Close()
	err = fmt.Errorf("%s %s: %s: %s", method, what, resp.Status, bytes.TrimSpace(msg))
	if resp.StatusCode/100 == 4 && resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusRequestTimeout {
		return nil, fmt.Errorf("%w: %w", errRefused, err)
	}
	return nil, err
}

// retry calls fn until it succeeds, is refused, or deadline passes, backing
// off from 200ms to 10s so a restarting server is not hammered.
func retry(ctx context.Context, deadline time.Time, what string, fn func(context.Context) error) error {
	delay := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		err := fn(actx)
		cancel()
		if err == nil || errors.Is(err, errRefused) {
			return err
		}
		if !time.Now().Add(delay).Before(deadline) {
			return fmt.Errorf("%s: gave up after %d attempts: %w", what, attempt, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(delay*2, 10*time.Second)
	}
}
