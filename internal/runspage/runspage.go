// Package runspage serves tfpr's run history at /: recent runs filterable
// by project and status, and each run's log, streamed live with
// Server-Sent Events while it runs. Pages are rendered on the server with
// html/template; the one script (the log stream) is a static file, so the
// page works under a Content-Security-Policy that forbids inline code.
//
// Access is meant to go through an OIDC proxy in front of tfpr; optional
// basic auth (a user:password file) covers deployments without one.
package runspage

import (
	"context"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tfpr/tfpr/internal/redact"
	"github.com/tfpr/tfpr/internal/runlog"
	"github.com/tfpr/tfpr/internal/store"
)

//go:embed assets
var assets embed.FS

// Runs is what the page reads from the store.
type Runs interface {
	RecentRuns(ctx context.Context, f store.RunFilter) ([]store.Run, error)
	GetRun(ctx context.Context, id int64) (store.Run, error)
}

// Options configure the page.
type Options struct {
	Runs Runs
	Logs runlog.Source
	// Auth, when set, is required of every request (basic auth).
	Auth *Credentials
	Log  *slog.Logger
	// MaxStreams bounds log streams open at once (64 if 0); more get 503.
	MaxStreams int
	// KeepAlive is how often an idle stream gets a comment line and the
	// run's status is looked up again (15 s if 0).
	KeepAlive time.Duration
}

type page struct {
	o       Options
	tmpl    *template.Template
	streams chan struct{}
	closing chan struct{}
	once    sync.Once
}

// Page serves /, /runs/{id}, /runs/{id}/log and /static/.
type Page struct {
	http.Handler
	p *page
}

// Close ends every open log stream, so a server shutting down is not held
// open by browsers watching logs.
func (pg *Page) Close() { pg.p.once.Do(func() { close(pg.p.closing) }) }

// New returns the runs page.
func New(o Options) (*Page, error) {
	if o.Runs == nil || o.Logs == nil {
		return nil, errors.New("runs page: Options.Runs and Options.Logs are required")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.MaxStreams <= 0 {
		o.MaxStreams = 64
	}
	if o.KeepAlive <= 0 {
		o.KeepAlive = 15 * time.Second
	}
	tmpl, err := template.New("").Funcs(template.FuncMap{
		"short": func(s string) string {
			if len(s) > 12 {
				return s[:12]
			}
			return s
		},
		"mask":     redact.String,
		"duration": duration,
		"who":      who,
		"when": func(t time.Time) string {
			if t.IsZero() {
				return "-"
			}
			return t.UTC().Format("2006-01-02 15:04:05Z")
		},
	}).ParseFS(assets, "assets/*.html")
	if err != nil {
		return nil, fmt.Errorf("runs page templates: %w", err)
	}
	p := &page{o: o, tmpl: tmpl, streams: make(chan struct{}, o.MaxStreams), closing: make(chan struct{})}
	static, _ := fs.Sub(assets, "assets")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", p.list)
	mux.HandleFunc("GET /runs/{id}", p.run)
	mux.HandleFunc("GET /runs/{id}/log", p.stream)
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(onlyAssets{static})))
	return &Page{Handler: p.secure(mux), p: p}, nil
}

// onlyAssets serves the script and style sheet, not the templates.
type onlyAssets struct{ fs.FS }

func (a onlyAssets) Open(name string) (fs.File, error) {
	if !strings.HasSuffix(name, ".js") && !strings.HasSuffix(name, ".css") {
		return nil, fs.ErrNotExist
	}
	return a.FS.Open(name)
}

// secure sets headers that keep the page from being framed or running
// anything but its own script, and checks basic auth when configured.
func (p *page) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if p.o.Auth != nil && !p.o.Auth.match(r) {
			h.Set("WWW-Authenticate", `Basic realm="tfpr", charset="UTF-8"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

type listData struct {
	Runs     []store.Run
	Project  string
	Status   store.Status
	Statuses []store.Status
	Now      time.Time
}

func (p *page) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.RunFilter{Project: strings.TrimSpace(q.Get("project")), Status: store.Status(q.Get("status")), Limit: 100}
	if f.Status != "" && !slices.Contains(store.Statuses(), f.Status) {
		http.Error(w, fmt.Sprintf("unknown status %q: want one of %s", clip(string(f.Status)), statusList()), http.StatusBadRequest)
		return
	}
	if len(f.Project) > 512 {
		http.Error(w, "project filter longer than 512 bytes", http.StatusBadRequest)
		return
	}
	runs, err := p.o.Runs.RecentRuns(r.Context(), f)
	if err != nil {
		p.o.Log.Error("runs page: list runs", "err", err)
		http.Error(w, "could not list runs", http.StatusInternalServerError)
		return
	}
	p.render(w, "list.html", listData{Runs: runs, Project: f.Project, Status: f.Status, Statuses: store.Statuses(), Now: time.Now()})
}

type runData struct {
	Run     store.Run
	Lines   []string
	Dropped int
	From    int  // index of the line after Lines, where the stream resumes
	Live    bool // the run may still write: the page streams its log
	Kept    bool // the log is in memory
	Now     time.Time
}

func (p *page) run(w http.ResponseWriter, r *http.Request) {
	run, ok := p.lookup(w, r)
	if !ok {
		return
	}
	d := runData{Run: run, Now: time.Now(), Live: active(run.Status)}
	d.Lines, d.Dropped = p.o.Logs.Lines(runlog.RunID(run.ID))
	d.From = d.Dropped + len(d.Lines)
	d.Kept = len(d.Lines) > 0 || d.Live
	p.render(w, "run.html", d)
}

// lookup finds the run named by the path, answering 400 or 404 itself.
func (p *page) lookup(w http.ResponseWriter, r *http.Request) (store.Run, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		http.Error(w, "run id must be a positive integer", http.StatusBadRequest)
		return store.Run{}, false
	}
	run, err := p.o.Runs.GetRun(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		http.Error(w, fmt.Sprintf("no run %d", id), http.StatusNotFound)
		return store.Run{}, false
	}
	if err != nil {
		p.o.Log.Error("runs page: get run", "run", id, "err", err)
		http.Error(w, "could not read the run", http.StatusInternalServerError)
		return store.Run{}, false
	}
	return run, true
}

func (p *page) render(w http.ResponseWriter, name string, data any) {
	var b strings.Builder
	if err := p.tmpl.ExecuteTemplate(&b, name, data); err != nil {
		p.o.Log.Error("runs page: render", "template", name, "err", err)
		http.Error(w, "could not render the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(b.String()))
}

// active reports whether a run in status may still write log lines.
func active(status store.Status) bool {
	return status == store.StatusQueued || status == store.StatusRunning
}

func duration(r store.Run, now time.Time) string {
	switch {
	case r.Started.IsZero():
		return "-"
	case r.Finished.IsZero():
		return now.Sub(r.Started).Round(time.Second).String() + "…"
	}
	return r.Finished.Sub(r.Started).Round(time.Second).String()
}

// who names the person behind a run, as far as the store knows.
func who(r store.Run) string {
	for _, s := range []string{r.RetriedBy, r.MergedBy, r.ApprovedBy} {
		if s != "" {
			return s
		}
	}
	if t, _, _ := strings.Cut(r.Trigger, ":"); t != "" {
		return t
	}
	return "-"
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// Credentials are the runs page's basic-auth user and password.
type Credentials struct{ user, password []byte }

// LoadCredentials reads "user:password" (one line) from path.
func LoadCredentials(path string) (*Credentials, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("runs page basic auth file: %w", err)
	}
	if fi.Size() > 4096 {
		return nil, fmt.Errorf("runs page basic auth file %s: %d bytes, want one user:password line", path, fi.Size())
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("runs page basic auth file: %w", err)
	}
	user, pass, ok := strings.Cut(strings.TrimSpace(string(raw)), ":")
	if !ok || user == "" || len(pass) < 12 {
		return nil, fmt.Errorf("runs page basic auth file %s: want one line user:password with a password of 12 or more characters", path)
	}
	return &Credentials{user: []byte(user), password: []byte(pass)}, nil
}

func (c *Credentials) match(r *http.Request) bool {
	u, p, ok := r.BasicAuth()
	// Both compared in full, so timing tells nothing about which was wrong.
	uok := subtle.ConstantTimeCompare([]byte(u), c.user)
	pok := subtle.ConstantTimeCompare([]byte(p), c.password)
	return ok && uok&pok == 1
}

func statusList() string {
	var names []string
	for _, s := range store.Statuses() {
		names = append(names, string(s))
	}
	return strings.Join(names, ", ")
}
