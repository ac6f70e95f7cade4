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
// and looked up) while terraform keeps the cores busy. Only the acks sent
// before the last terraform process ended count; it fails when too few
// were, rather than report figures taken on an idle server.
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
		type ack struct {
			at   time.Time
			took time.Duration
		}
		var (
			mu   sync.Mutex
			acks []ack
			seq  atomic.Int64
			bad  atomic.Value
		)
		prefix := rand.Text()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			local := make([]ack, 0, 1024)
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
				local = append(local, ack{t0, time.Since(t0)})
				if err != nil || code/100 != 2 {
					bad.Store(fmt.Sprintf("status %d, %v", code, err))
				}
			}
			mu.Lock()
			acks = append(acks, local...)
			mu.Unlock()
		})
		b.StopTimer()
		if v := bad.Load(); v != nil {
			b.Fatalf("delivery refused: %v", v)
		}
		// The plans are under way until their last terraform process
		// ends; one still running means all of them are.
		var busyUntil time.Time
		if !slices.ContainsFunc(e.repo.Comments(pr), func(c githubtest.Comment) bool { return strings.Contains(c.Body, "tfpr plan") }) {
			busyUntil = time.Now()
		}
		for _, inv := range e.invocations(start) {
			if inv.End.After(busyUntil) {
				busyUntil = inv.End
			}
		}
		var took []time.Duration
		for _, a := range acks {
			if a.at.Before(busyUntil) {
				took = append(took, a.took)
			}
		}
		if len(took) < min(200, len(acks)) {
			b.Fatalf("only %d of %d acks were sent while the plans ran: too few for a p99 under load; use a shorter -benchtime", len(took), len(acks))
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
