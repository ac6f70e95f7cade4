package e2e

import (
	"crypto/rand"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tfpr/tfpr/internal/bench"
	"github.com/tfpr/tfpr/internal/githubtest"
)

// BenchmarkWebhookAckWhilePlanning is BenchmarkWebhookAck while a PR's 20
// project plans run for real: 8 senders redeliver that PR's "opened" (each
// with a new delivery id, so every one is verified, parsed, deduplicated
// and looked up) while terraform keeps the cores busy. It fails rather
// than report figures taken after the plans finished.
func BenchmarkWebhookAckWhilePlanning(b *testing.B) {
	const senders, projects, pr = 8, 20, 100
	e := newBenchEnv(b, nil)
	benchSeedCallers(b, e.repo, projects)
	e.serve()
	e.warmUp(1)
	benchModulePR(b, e.repo, pr)
	body := e.repo.PullRequestPayload(b, pr, "opened")
	signature := []byte(githubtest.Sign(e.secret, body))
	start := e.deliver("pull_request", body)
	e.waitFor(2*time.Minute, "the first terraform plan to start", func() bool {
		return slices.ContainsFunc(e.invocations(start), func(i bench.Invocation) bool { return i.Command() == "plan" })
	})

	b.Run(fmt.Sprintf("senders=%d,plans=%d", senders, projects), func(b *testing.B) {
		procs := runtime.GOMAXPROCS(0)
		b.SetParallelism(max(1, (senders+procs-1)/procs))
		var (
			mu   sync.Mutex
			took []time.Duration
			seq  atomic.Int64
			bad  atomic.Value
		)
		prefix := rand.Text()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			local := make([]time.Duration, 0, 1024)
			snd, err := newSender(e.url)
			if err != nil {
				bad.Store(err.Error())
				return
			}
			defer snd.close()
			for pb.Next() {
				id := prefix + "-" + strconv.FormatInt(seq.Add(1), 10)
				t0 := time.Now()
				code, err := snd.post("pull_request", id, body, signature)
				local = append(local, time.Since(t0))
				if err != nil || code/100 != 2 {
					bad.Store(fmt.Sprintf("status %d, %v", code, err))
				}
			}
			mu.Lock()
			took = append(took, local...)
			mu.Unlock()
		})
		b.StopTimer()
		if v := bad.Load(); v != nil {
			b.Fatalf("delivery refused: %v", v)
		}
		for _, c := range e.repo.Comments(pr) {
			if strings.Contains(c.Body, "tfpr plan") {
				b.Fatal("the 20 plans finished before the senders stopped: the figures would not be under load; use a shorter -benchtime")
			}
		}
		b.ReportMetric(bench.Ms(bench.Quantile(took, 0.50)), "p50-ms")
		b.ReportMetric(bench.Ms(bench.Quantile(took, 0.99)), "p99-ms")
		b.ReportMetric(float64(len(took)), "deliveries")
	})
	e.waitComment(pr, "tfpr plan", 10*time.Minute)
	if n := len(e.invocations(start)); n == 0 {
		b.Fatal("no terraform ran")
	}
}
