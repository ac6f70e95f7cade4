// Package logctx carries log attributes in a context, so every line logged
// with that context names the delivery, repository, PR, project and run it
// belongs to, however deep the call that logs it. One delivery can then be
// followed through its plan and apply with a single filter on the JSON logs.
package logctx

import (
	"context"
	"log/slog"
	"time"
)

type key struct{}

// With returns ctx carrying args (slog key-value pairs or Attrs) on top of
// those it carries already; a key given again replaces the earlier value.
func With(ctx context.Context, args ...any) context.Context {
	prev, _ := ctx.Value(key{}).([]slog.Attr)
	r := slog.NewRecord(time.Time{}, 0, "", 0)
	r.Add(args...)
	out := make([]slog.Attr, 0, len(prev)+r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool {
		out = append(out, a)
		return true
	})
	for i := len(prev) - 1; i >= 0; i-- {
		if !hasKey(out, prev[i].Key) {
			out = append([]slog.Attr{prev[i]}, out...)
		}
	}
	return context.WithValue(ctx, key{}, out)
}

func hasKey(as []slog.Attr, k string) bool {
	for _, a := range as {
		if a.Key == k {
			return true
		}
	}
	return false
}

// Attrs returns the attributes ctx carries.
func Attrs(ctx context.Context) []slog.Attr {
	as, _ := ctx.Value(key{}).([]slog.Attr)
	return as
}

// Handler adds the context's attributes to every record logged with one
// (the ...Context logging methods).
type Handler struct {
	next slog.Handler
	// bound are the keys a logger's With already wrote: the context's
	// value for one of them would write the key twice.
	bound map[string]bool
}

// NewHandler wraps next.
func NewHandler(next slog.Handler) *Handler {
	if h, ok := next.(*Handler); ok {
		return h
	}
	return &Handler{next: next}
}

func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if as := Attrs(ctx); len(as) > 0 {
		// The line's own attributes win: a key is never written twice.
		own := map[string]bool{}
		r.Attrs(func(a slog.Attr) bool {
			own[a.Key] = true
			return true
		})
		for k := range h.bound {
			own[k] = true
		}
		r = r.Clone()
		for _, a := range as {
			if !own[a.Key] {
				r.AddAttrs(a)
			}
		}
	}
	return h.next.Handle(ctx, r)
}

func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	bound := make(map[string]bool, len(h.bound)+len(as))
	for k := range h.bound {
		bound[k] = true
	}
	for _, a := range as {
		bound[a.Key] = true
	}
	return &Handler{next: h.next.WithAttrs(as), bound: bound}
}

func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), bound: h.bound}
}
