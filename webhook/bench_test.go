package webhook

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type noopDispatcher struct{}

func (noopDispatcher) Dispatch(context.Context, Event) error { return nil }

// BenchmarkHandlerParallel acknowledges a real pull_request delivery from
// about 8 concurrent senders, signature check and metrics included, and
// reports the p50 and p99 time to answer.
func BenchmarkHandlerParallel(b *testing.B) {
	const senders = 8
	body := patch(b, fixture(b, "pull_request/synchronize.payload.json"), map[string]any{"installation.id": 4242})
	signature := sign([]byte(testSecret), body)
	h, err := New(Options{
		Secret:   []byte(testSecret),
		Dedupe:   &memDeduper{},
		Dispatch: noopDispatcher{},
		Metrics:  prometheus.NewRegistry(),
	})
	if err != nil {
		b.Fatal(err)
	}
	procs := runtime.GOMAXPROCS(0)
	// RunParallel starts parallelism*GOMAXPROCS goroutines.
	parallelism := max(1, (senders+procs-1)/procs)
	b.SetParallelism(parallelism)

	var (
		mu    sync.Mutex
		took  []time.Duration
		seq   atomic.Int64
		codes sync.Map
	)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 4096)
		for pb.Next() {
			r := httptest.NewRequest(http.MethodPost, "/webhook", bytes.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set(eventHeader, "pull_request")
			r.Header.Set(deliveryHeader, "bench-"+strconv.FormatInt(seq.Add(1), 10))
			r.Header.Set(signatureHeader, signature)
			w := httptest.NewRecorder()
			start := time.Now()
			h.ServeHTTP(w, r)
			local = append(local, time.Since(start))
			if w.Code != http.StatusAccepted {
				codes.Store(w.Code, w.Body.String())
			}
		}
		mu.Lock()
		took = append(took, local...)
		mu.Unlock()
	})
	b.StopTimer()
	codes.Range(func(code, text any) bool {
		b.Errorf("got %v %q, want 202 accepted", code, text)
		return true
	})
	if len(took) == 0 {
		return
	}
	slices.Sort(took)
	quantile := func(q float64) float64 {
		return float64(took[int(q*float64(len(took)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(quantile(0.50), "p50-ms")
	b.ReportMetric(quantile(0.99), "p99-ms")
	b.ReportMetric(float64(parallelism*procs), "senders")
}
