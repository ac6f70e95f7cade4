package runapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tfpr/tfpr/internal/runlog"
	"github.com/tfpr/tfpr/internal/runspec"
	"github.com/tfpr/tfpr/internal/store"
)

// DefaultAddr is the internal endpoint's fixed default address: loopback,
// never the public webhook port, and the same across restarts so a worker
// that outlives the server finds its successor.
const DefaultAddr = "127.0.0.1:8081"

// maxLogPost bounds one log post; a worker sends at most this per second.
const maxLogPost = 1 << 20

// newToken returns a fresh random run token and its stored hash.
func newToken() (token, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("make run token: %w", err)
	}
	token = "tfprrun_" + hex.EncodeToString(b)
	return token, hashToken(token), nil
}

func hashToken(token string) string { return runspec.TokenHash(token) }

// Handler serves the internal endpoint:
//
//	GET  /internal/runs/{id}/bundle  the run's spec and files (tar)
//	POST /internal/runs/{id}/log     a chunk of the worker's log
//	POST /internal/runs/{id}/result  the run's result (JSON), recorded once
//
// Each needs the run's bearer token; a wrong token, a token of another run,
// or the token of a run already acted on gets 401.
func (d *Dispatcher) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /internal/runs/{id}/bundle", d.serveBundle)
	mux.HandleFunc("POST /internal/runs/{id}/log", d.serveLog)
	mux.HandleFunc("POST /internal/runs/{id}/result", d.serveResult)
	return mux
}

// authorize checks the request's token against the run's stored hash and
// returns the run. open demands a run not yet reported or closed.
func (d *Dispatcher) authorize(w http.ResponseWriter, r *http.Request, open bool) (store.WorkerRun, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		http.Error(w, "bad run id", http.StatusNotFound)
		return store.WorkerRun{}, false
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	wr, err := d.store.GetWorkerRun(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || !ok ||
		(err == nil && subtle.ConstantTimeCompare([]byte(hashToken(token)), []byte(wr.TokenHash)) != 1) {
		d.log.Warn("internal endpoint: bad run token", "worker_run", id, "path", r.URL.Path, "remote", r.RemoteAddr)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return wr, false
	}
	if err != nil {
		d.log.Error("internal endpoint: read run", "worker_run", id, "err", err)
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return wr, false
	}
	if open && wr.State != store.WorkerStarted {
		http.Error(w, "unauthorized: the run's token is spent", http.StatusUnauthorized)
		return wr, false
	}
	return wr, true
}

func (d *Dispatcher) serveBundle(w http.ResponseWriter, r *http.Request) {
	wr, ok := d.authorize(w, r, true)
	if !ok {
		return
	}
	f, err := os.Open(d.bundlePath(wr.ID))
	if err != nil {
		d.log.Error("internal endpoint: open bundle", "worker_run", wr.ID, "err", err)
		http.Error(w, "bundle unavailable", http.StatusGone)
		return
	}
	defer f.Close()
	d.started(wr.ID)
	w.Header().Set("Content-Type", "application/x-tar")
	if _, err := io.Copy(w, f); err != nil {
		d.log.Warn("internal endpoint: send bundle", "worker_run", wr.ID, "err", err)
	}
}

func (d *Dispatcher) serveLog(w http.ResponseWriter, r *http.Request) {
	wr, ok := d.authorize(w, r, true)
	if !ok {
		return
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxLogPost+1))
	if err != nil || len(data) > maxLogPost {
		http.Error(w, fmt.Sprintf("a log post holds at most %d bytes", maxLogPost), http.StatusRequestEntityTooLarge)
		return
	}
	// Masked whole, then split: a private key spans lines, and masking
	// line by line would hide its BEGIN line and show its body.
	var lines []string
	for _, line := range strings.Split(strings.TrimRight(d.mask(string(data)), "\n"), "\n") {
		if line = strings.TrimSuffix(line, "\r"); line != "" {
			lines = append(lines, line)
		}
	}
	// The runs page shows the stream under the tfpr run it belongs to; the
	// server log keeps it at debug level, as it repeats terraform's output.
	if d.logs != nil && wr.RunID != 0 {
		d.logs.Append(runlog.RunID(wr.RunID), lines...)
	}
	ctx := d.logContext(r.Context(), wr.ID)
	for _, line := range lines {
		d.log.DebugContext(ctx, "worker: "+line, "worker_run", wr.ID, "run", wr.RunID, "project", wr.Project)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (d *Dispatcher) serveResult(w http.ResponseWriter, r *http.Request) {
	wr, ok := d.authorize(w, r, false)
	if !ok {
		return
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, runspec.MaxResultBytes+1))
	if err != nil {
		http.Error(w, "read result: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(data) > runspec.MaxResultBytes {
		http.Error(w, fmt.Sprintf("a result holds at most %d bytes", runspec.MaxResultBytes), http.StatusRequestEntityTooLarge)
		return
	}
	status, msg := d.record(r.Context(), wr, data)
	if status != http.StatusOK {
		http.Error(w, msg, status)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// record stores a result once. The same result again (a worker that never
// saw the first answer) is accepted without effect; a different one after
// the first is refused.
func (d *Dispatcher) record(ctx context.Context, wr store.WorkerRun, data []byte) (int, string) {
	if wr.State != store.WorkerStarted {
		if wr.Result != "" && resultDigest([]byte(wr.Result)) == resultDigest(data) {
			return http.StatusOK, ""
		}
		return http.StatusConflict, "this run's result is already recorded"
	}
	res, err := decodeResult(data)
	if err == nil {
		// The run's deadline was set from its budget: a command may have
		// taken up to all of it.
		budget := max(wr.Deadline.Sub(wr.Created)-runspec.Grace, 0)
		err = res.Validate(runspec.Spec{RunID: wr.ID, Stage: stageOf(wr), Budget: budget})
	}
	if err != nil {
		d.log.WarnContext(d.logContext(ctx, wr.ID), "internal endpoint: result refused", "worker_run", wr.ID, "run", wr.RunID, "err", err)
		return http.StatusUnprocessableEntity, "result refused: " + err.Error()
	}
	recorded, err := d.store.RecordWorkerResult(ctx, wr.ID, string(data))
	if err != nil {
		d.log.Error("internal endpoint: record result", "worker_run", wr.ID, "err", err)
		return http.StatusServiceUnavailable, "store unavailable"
	}
	if !recorded {
		again, err := d.store.GetWorkerRun(ctx, wr.ID)
		if err == nil {
			return d.record(ctx, again, data)
		}
		return http.StatusServiceUnavailable, "store unavailable"
	}
	d.log.InfoContext(d.logContext(ctx, wr.ID), "worker result recorded", "worker_run", wr.ID, "run", wr.RunID, "status", res.Status.String())
	d.notify(wr.ID)
	return http.StatusOK, ""
}

func decodeResult(data []byte) (runspec.Result, error) {
	var res runspec.Result
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil {
		return res, fmt.Errorf("result is not a result document: %w", err)
	}
	return res, nil
}

// resultDigest compares results by content, ignoring the worker's
// finishing time, which differs between a result file and a re-post only
// if the worker rewrote it.
func resultDigest(data []byte) string {
	res, err := decodeResult(data)
	if err != nil {
		return hashToken(string(data))
	}
	res.Finished = time.Time{}
	b, _ := json.Marshal(res)
	return hashToken(string(b))
}

func stageOf(wr store.WorkerRun) runspec.Stage {
	var s runspec.Stage
	s.UnmarshalText([]byte(wr.Stage))
	return s
}
