package redact

import (
	"context"
	"fmt"
	"log/slog"
)

// Handler masks credentials in every record's message and attributes
// before the wrapped handler formats them, so no log call can leak one,
// whatever it logs (an error wrapping terraform's output, a request body).
type Handler struct{ next slog.Handler }

// NewHandler wraps next; wrapping a Handler again returns it unchanged.
func NewHandler(next slog.Handler) slog.Handler {
	if h, ok := next.(*Handler); ok {
		return h
	}
	return &Handler{next: next}
}

// Logger returns log with its handler wrapped by NewHandler.
func Logger(log *slog.Logger) *slog.Logger {
	h := NewHandler(log.Handler())
	if h == log.Handler() {
		return log
	}
	return slog.New(h)
}

func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, String(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	masked := make([]slog.Attr, len(as))
	for i, a := range as {
		masked[i] = attr(a)
	}
	return &Handler{next: h.next.WithAttrs(masked)}
}

func (h *Handler) WithGroup(name string) slog.Handler { return &Handler{next: h.next.WithGroup(name)} }

func attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, String(v.String()))
	case slog.KindGroup:
		g := v.Group()
		masked := make([]any, len(g))
		for i, ga := range g {
			masked[i] = attr(ga)
		}
		return slog.Group(a.Key, masked...)
	case slog.KindAny:
		// Errors, Stringers, byte slices and structs are formatted by the
		// handler; mask what it would print, and keep the value as it is
		// when nothing needs masking so structured output stays structured.
		var text string
		switch x := v.Any().(type) {
		case error:
			text = x.Error()
		case fmt.Stringer:
			text = x.String()
		case []byte:
			text = string(x)
		default:
			text = fmt.Sprintf("%+v", x)
		}
		if m := String(text); m != text {
			return slog.String(a.Key, m)
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
