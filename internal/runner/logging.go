package runner

import (
	"context"
	"log/slog"
)

// logKey holds the logger of the job or run a context belongs to.
type logKey struct{}

// withLogger makes log the logger of everything done under ctx.
func withLogger(ctx context.Context, log *slog.Logger) context.Context {
	return context.WithValue(ctx, logKey{}, log)
}

// logger is the logger of the job or run ctx belongs to, so every line
// names it (and the webhook delivery that asked for it); the runner's own
// outside a job.
func (r *Runner) logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(logKey{}).(*slog.Logger); ok {
		return l
	}
	return r.log
}
