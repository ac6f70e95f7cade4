package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/google/go-github/v88/github"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tfpr/tfpr/internal/logctx"
)

const (
	eventHeader    = "X-GitHub-Event"
	deliveryHeader = "X-GitHub-Delivery"

	defaultMaxBody     = 25 << 20 // GitHub caps payloads at 25 MiB
	defaultMaxInFlight = 64

	// inFlightWait rides out a burst of deliveries while staying far below
	// GitHub's 10 s delivery timeout.
	inFlightWait = 100 * time.Millisecond
	// storeTimeout bounds dedupe and dispatch, which run detached from the
	// request: a sender hanging up must not leave a delivery recorded as seen
	// but never dispatched.
	storeTimeout = 10 * time.Second
	// maxLoggedHeader keeps unverified header values from flooding the log.
	maxLoggedHeader = 100
)

// Deduper records delivery ids so a redelivered event is acted on once.
type Deduper interface {
	// FirstDelivery records id and reports whether it had not been seen.
	FirstDelivery(ctx context.Context, id string) (bool, error)
	// ForgetDelivery removes id so a redelivery of it is accepted again.
	ForgetDelivery(ctx context.Context, id string) error
}

// Dispatcher hands an event on for processing. It must be fast: persist or
// enqueue the event and return; the runner does the work later.
type Dispatcher interface {
	Dispatch(ctx context.Context, ev Event) error
}

// Recorded is what became of a delivery handed to a Recorder.
type Recorded int

const (
	// Accepted: the delivery is new and its work is durably handed on.
	Accepted Recorded = iota + 1
	// Duplicate: the delivery id was seen before; nothing was done.
	Duplicate
)

// Recorder dedupes and dispatches in one durable step: the delivery id is
// recorded exactly when its work is handed on, and it returns only once
// both would survive a crash. It takes the place of a Deduper and a
// Dispatcher, which need two writes and leave a window between them.
type Recorder interface {
	Record(ctx context.Context, ev Event) (Recorded, error)
}

// Options configures a Handler.
type Options struct {
	Secret []byte // the App's webhook secret; required
	// Record dedupes and dispatches each delivery; when it is nil, Dedupe
	// and Dispatch are both required and do it in two steps.
	Record   Recorder
	Dedupe   Deduper
	Dispatch Dispatcher
	// AllowRepo reports whether tfpr acts on a repository ("owner/name");
	// nil allows all. Deliveries for other repositories are acknowledged
	// with 202, logged and counted, and never dispatched.
	AllowRepo func(fullName string) bool
	// MaxBody is the largest body accepted, 25 MiB (GitHub's cap) if 0.
	MaxBody int64
	// MaxInFlight bounds verified deliveries being parsed and handed on at
	// once, 64 if 0. When all are busy a delivery waits briefly, then gets
	// 503. Bodies are read and verified before a slot is taken, so slow or
	// unsigned senders never hold one.
	MaxInFlight int
	// BodyBudget bounds the bytes held for bodies whose signature is not
	// checked yet, all requests together, 64 MiB if 0. A quarter is kept
	// for bodies declaring at most 1 MiB, so it must be at least 4/3 of
	// MaxBody for the largest delivery to fit. Over it, 503 at once.
	BodyBudget int64
	// BodyTimeout is how long after the request arrives its body must be
	// in, 10 s (GitHub's delivery timeout) if 0; later, 408.
	BodyTimeout time.Duration
	Log         *slog.Logger          // nil discards logs
	Metrics     prometheus.Registerer // nil records no metrics
}

// Handler is the http.Handler GitHub delivers webhooks to.
type Handler struct {
	secret      []byte
	recorder    Recorder
	dedupe      Deduper
	dispatch    Dispatcher
	allow       func(string) bool
	maxBody     int64
	budget      *budget
	firstChunks firstChunks
	bodyWait    time.Duration
	slots       chan struct{}
	log         *slog.Logger
	metrics     *metrics
}

// New returns a Handler for opts.
func New(opts Options) (*Handler, error) {
	switch {
	case len(opts.Secret) == 0:
		return nil, errors.New("new webhook handler: Options.Secret is empty")
	case opts.Record == nil && opts.Dedupe == nil:
		return nil, errors.New("new webhook handler: Options.Dedupe is nil (and there is no Options.Record)")
	case opts.Record == nil && opts.Dispatch == nil:
		return nil, errors.New("new webhook handler: Options.Dispatch is nil (and there is no Options.Record)")
	case opts.MaxBody < 0:
		return nil, fmt.Errorf("new webhook handler: Options.MaxBody is %d, want >= 0", opts.MaxBody)
	case opts.MaxInFlight < 0:
		return nil, fmt.Errorf("new webhook handler: Options.MaxInFlight is %d, want >= 0", opts.MaxInFlight)
	case opts.BodyTimeout < 0:
		return nil, fmt.Errorf("new webhook handler: Options.BodyTimeout is %v, want >= 0", opts.BodyTimeout)
	}
	maxBody, bodyBudget := orDefault(opts.MaxBody, defaultMaxBody), orDefault(opts.BodyBudget, defaultBodyBudget)
	if b := newBudget(bodyBudget); b.large < maxBody {
		return nil, fmt.Errorf("new webhook handler: Options.BodyBudget is %d bytes, want at least 4/3 of MaxBody (%d) so the largest delivery fits", bodyBudget, (4*maxBody+2)/3)
	}
	h := &Handler{
		// Copied so a caller reusing its slice cannot change the key.
		secret:   bytes.Clone(opts.Secret),
		recorder: opts.Record,
		dedupe:   opts.Dedupe,
		dispatch: opts.Dispatch,
		allow:    opts.AllowRepo,
		maxBody:  maxBody,
		budget:   newBudget(bodyBudget),
		bodyWait: orDefault(opts.BodyTimeout, defaultBodyTimeout),
		slots:    make(chan struct{}, orDefault(opts.MaxInFlight, defaultMaxInFlight)),
		log:      opts.Log,
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if opts.Metrics != nil {
		m, err := newMetrics(opts.Metrics)
		if err != nil {
			return nil, fmt.Errorf("new webhook handler: %w", err)
		}
		h.metrics = m
	}
	return h, nil
}

// orDefault returns v, or def when v is zero.
func orDefault[T int | int64 | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// result is what became of one delivery.
type result struct {
	status   int
	text     string // response body; never internal details
	outcome  string // metric label and log field
	verified bool   // the signature matched, so header values come from GitHub
	action   string
	repo     string
	err      error // logged, not sent
}

// ServeHTTP verifies, parses, dedupes and dispatches one delivery.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	res := h.handle(w, r, start)
	hdr := w.Header()
	switch res.status {
	case http.StatusMethodNotAllowed:
		hdr.Set("Allow", http.MethodPost)
	case http.StatusServiceUnavailable:
		hdr.Set("Retry-After", "1")
	}
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	hdr.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(res.status)
	_, _ = io.WriteString(w, res.text+"\n")
	h.record(r, res, time.Since(start))
}

func (h *Handler) handle(w http.ResponseWriter, r *http.Request, start time.Time) result {
	if r.Method != http.MethodPost {
		return result{status: http.StatusMethodNotAllowed, text: "method not allowed", outcome: "method_not_allowed"}
	}
	if r.ContentLength > h.maxBody {
		return tooLarge(r.ContentLength, h.maxBody)
	}
	// A request that cannot be signed is refused before its body is read.
	v, err := newVerifier(h.secret, r.Header.Get(signatureHeader))
	if err != nil {
		return result{status: http.StatusUnauthorized, text: "signature mismatch", outcome: "bad_signature", err: err}
	}
	body, errRes := h.readBody(w, r, v, start.Add(h.bodyWait))
	if errRes != nil {
		return *errRes
	}
	if err := v.check(); err != nil {
		body.release()
		return result{status: http.StatusUnauthorized, text: "signature mismatch", outcome: "bad_signature", err: err}
	}
	// From here on the body is GitHub's: the slot, not the budget, bounds
	// how many are parsed and handed on at once.
	raw := body.bytes()
	body.release()
	// The event holds copies of what it needs, so once it is built the
	// buffer can take the next delivery.
	defer h.firstChunks.recycle(body)
	if !h.acquire(r.Context()) {
		return result{status: http.StatusServiceUnavailable, text: "busy, retry later", outcome: "overloaded", verified: true}
	}
	defer func() { <-h.slots }()
	ev, res := h.parse(r, raw, start)
	if ev == nil {
		return res
	}
	return h.deliver(r.Context(), ev, res)
}

// parse turns a verified body into an Event. It returns a nil Event when
// the delivery is answered already.
func (h *Handler) parse(r *http.Request, body []byte, start time.Time) (Event, result) {
	res := result{verified: true}
	event, delivery := r.Header.Get(eventHeader), r.Header.Get(deliveryHeader)
	if event == "" || delivery == "" {
		res.status, res.text, res.outcome = http.StatusBadRequest, "missing "+eventHeader+" or "+deliveryHeader+" header", "missing_header"
		return nil, res
	}

	ev, action, err := parse(event, delivery, body, start)
	res.action = action
	switch {
	case errors.Is(err, ErrIgnored):
		res.status, res.text, res.outcome = http.StatusAccepted, "ignored", "ignored"
		return nil, res
	case err != nil:
		// The sender is GitHub, so the reason helps whoever reads the
		// delivery log in the App settings.
		res.status, res.text, res.outcome, res.err = http.StatusBadRequest, err.Error(), "malformed", err
		return nil, res
	}
	res.repo = ev.Meta().Repo.FullName
	return ev, res
}

// deliver applies the allowlist, drops redeliveries and dispatches ev.
func (h *Handler) deliver(ctx context.Context, ev Event, res result) result {
	m := ev.Meta()
	// An organization ping names no repository, so there is nothing to judge.
	if h.allow != nil && m.Repo.FullName != "" && !h.allow(m.Repo.FullName) {
		res.status, res.text, res.outcome = http.StatusAccepted, "ignored: repository not allowed", "repo_not_allowed"
		return res
	}

	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	// Whatever the dispatcher logs names the delivery it is acting on.
	ctx = logctx.With(ctx, "delivery", m.Delivery, "repo", m.Repo.FullName)
	if h.recorder != nil {
		return h.recordOnce(ctx, ev, res)
	}
	first, err := h.dedupe.FirstDelivery(ctx, m.Delivery)
	if err != nil {
		res.status, res.text, res.outcome = http.StatusInternalServerError, "internal error, redeliver later", "dedupe_error"
		res.err = fmt.Errorf("record delivery %s: %w", m.Delivery, err)
		return res
	}
	if !first {
		res.status, res.text, res.outcome = http.StatusOK, "duplicate", "duplicate"
		return res
	}
	if err := h.dispatch.Dispatch(ctx, ev); err != nil {
		err = fmt.Errorf("dispatch %s delivery %s: %w", m.Event, m.Delivery, err)
		if ferr := h.dedupe.ForgetDelivery(ctx, m.Delivery); ferr != nil {
			// The redelivery will be taken for a duplicate: say so loudly.
			err = errors.Join(err, fmt.Errorf("forget delivery %s, so its redelivery will be dropped: %w", m.Delivery, ferr))
		}
		res.status, res.text, res.outcome, res.err = http.StatusInternalServerError, "internal error, redeliver later", "dispatch_error", err
		return res
	}
	res.status, res.text, res.outcome = http.StatusAccepted, "accepted", "accepted"
	return res
}

// recordOnce hands ev to the Recorder, which dedupes and dispatches it in
// one durable write.
func (h *Handler) recordOnce(ctx context.Context, ev Event, res result) result {
	m := ev.Meta()
	out, err := h.recorder.Record(ctx, ev)
	switch {
	case err != nil:
		res.status, res.text, res.outcome = http.StatusInternalServerError, "internal error, redeliver later", "dispatch_error"
		res.err = fmt.Errorf("record %s delivery %s: %w", m.Event, m.Delivery, err)
	case out == Duplicate:
		res.status, res.text, res.outcome = http.StatusOK, "duplicate", "duplicate"
	default:
		res.status, res.text, res.outcome = http.StatusAccepted, "accepted", "accepted"
	}
	return res
}

// acquire takes an in-flight slot, waiting at most inFlightWait.
func (h *Handler) acquire(ctx context.Context) bool {
	select {
	case h.slots <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(inFlightWait)
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

func tooLarge(length, limit int64) result {
	res := result{status: http.StatusRequestEntityTooLarge, text: "request body too large", outcome: "too_large"}
	if length >= 0 {
		res.err = fmt.Errorf("declared Content-Length %d exceeds limit %d", length, limit)
	} else {
		res.err = fmt.Errorf("body exceeds limit %d", limit)
	}
	return res
}

// record logs one line for the delivery and updates the metrics. The body and
// headers other than the event name and delivery id are never logged.
func (h *Handler) record(r *http.Request, res result, took time.Duration) {
	event := r.Header.Get(eventHeader)
	level := slog.LevelInfo
	switch {
	case res.status >= 500:
		level = slog.LevelError
	case res.status >= 400:
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.String("event", clip(event)),
		slog.String("action", res.action),
		slog.String("delivery", clip(r.Header.Get(deliveryHeader))),
		slog.String("repo", res.repo),
		slog.String("outcome", res.outcome),
		slog.Int("status", res.status),
		slog.Duration("duration", took),
	}
	if res.err != nil {
		attrs = append(attrs, slog.String("error", res.err.Error()))
	}
	h.log.LogAttrs(r.Context(), level, "webhook delivery", attrs...)

	if h.metrics != nil {
		h.metrics.deliveries.WithLabelValues(eventLabel(event, res.verified), res.outcome).Inc()
		h.metrics.duration.Observe(took.Seconds())
	}
}

// eventLabel keeps the event metric label to names GitHub sends, so
// unauthenticated or made-up event names cannot grow the series.
func eventLabel(event string, verified bool) string {
	if verified && github.EventForType(event) != nil {
		return event
	}
	return "unknown"
}

func clip(s string) string {
	if len(s) > maxLoggedHeader {
		return s[:maxLoggedHeader] + "..."
	}
	return s
}

type metrics struct {
	deliveries *prometheus.CounterVec
	duration   prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	deliveries, err := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tfpr_webhook_deliveries_total",
		Help: "Webhook deliveries received, by event and outcome.",
	}, []string{"event", "outcome"}))
	if err != nil {
		return nil, err
	}
	duration, err := register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "tfpr_webhook_duration_seconds",
		Help:    "Time from receiving a webhook delivery to acknowledging it.",
		Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5},
	}))
	if err != nil {
		return nil, err
	}
	return &metrics{deliveries: deliveries, duration: duration}, nil
}

// register registers c, or returns the identical collector registered by an
// earlier Handler on the same registry.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	var dup prometheus.AlreadyRegisteredError
	if errors.As(err, &dup) {
		if existing, ok := dup.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	if err != nil {
		return c, fmt.Errorf("register metrics: %w", err)
	}
	return c, nil
}
