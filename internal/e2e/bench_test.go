package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tfpr/tfpr/internal/bench"
	"github.com/tfpr/tfpr/internal/config"
	"github.com/tfpr/tfpr/internal/githubtest"
	"github.com/tfpr/tfpr/internal/server"
	"github.com/tfpr/tfpr/internal/store"
	"github.com/tfpr/tfpr/internal/testenv"
)

// benchEnv is the fake GitHub and GCS, a timing terraform wrapper and the
// settings for one tfpr, run in process (serve) or as the real binary
// (startBinary). harness in harness_test.go is bound to *testing.T.
type benchEnv struct {
	tb     testing.TB
	gh     *githubtest.Server
	repo   *githubtest.Repo
	gcs    *testenv.GCS
	tf     *bench.Wrapper
	secret []byte
	env    map[string]string
	url    string         // webhook URL once running
	srv    *server.Server // in-process server
	cfg    *config.Config
	client *http.Client
}

func newBenchEnv(tb testing.TB, extra map[string]string) *benchEnv {
	tb.Helper()
	e := &benchEnv{tb: tb, secret: []byte("webhook-secret-for-benchmarks")}
	e.gh = githubtest.New(tb, githubtest.Options{})
	e.repo = e.gh.AddRepo(tb, owner, repoName, installation)
	e.gcs = testenv.FakeGCS(tb, bucket)
	tfDir := tb.TempDir()
	tf, err := bench.WriteWrapper(tfDir, testenv.Terraform(tb))
	if err != nil {
		tb.Fatal(err)
	}
	e.tf = tf
	e.env = map[string]string{
		"TFPR_GITHUB_APP_ID":           fmt.Sprint(e.gh.AppID()),
		"TFPR_GITHUB_PRIVATE_KEY_FILE": e.gh.WritePrivateKey(tb, tb.TempDir()),
		"TFPR_GITHUB_WEBHOOK_SECRET":   string(e.secret),
		"TFPR_GITHUB_API_URL":          e.gh.APIURL(),
		"TFPR_STATE_BUCKET":            bucket,
		"TFPR_DATA_DIR":                tb.TempDir(),
		"TFPR_TERRAFORM_BIN":           tf.Path,
		"TFPR_RESYNC_INTERVAL":         "1h",
		"TFPR_SHUTDOWN_GRACE":          "30s",
		// Sandboxed workers (tfpr-worker, not this test binary) run
		// the wrapper, which records each invocation in its directory;
		// the internal endpoint takes any free port, not the fixed
		// default another server may hold.
		"TFPR_WORKER_BIN":    testenv.WorkerBinary(tb),
		"TFPR_SANDBOX_BIND":  tfDir + ":rw",
		"TFPR_INTERNAL_ADDR": "127.0.0.1:0",

		"TFPR_INSECURE_SHARED_IDENTITY": "true",
		"TFPR_REPO_ALLOWLIST":           owner + "/" + repoName,
		"TFPR_DRIFT_INTERVAL":           "0", // the figures are of PR and merge work alone
	}
	// Checkouts go to a tmpfs, as deploy/ mounts one for them: on a disk
	// their time is the disk's, which swings tenfold between runs here.
	if co, err := os.MkdirTemp("/dev/shm", "tfpr-bench-checkouts-"); err == nil {
		tb.Cleanup(func() { os.RemoveAll(co) })
		e.env["TFPR_CHECKOUT_DIR"] = co
	}
	maps.Copy(e.env, extra)
	e.client = &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	tb.Cleanup(e.client.CloseIdleConnections)
	return e
}

func (e *benchEnv) getenv(k string) string {
	if v, ok := e.env[k]; ok {
		return v
	}
	if v, ok := e.gcs.TerraformEnv()[k]; ok {
		return v
	}
	return os.Getenv(k)
}

// serve runs tfpr in this process, logging as `tfpr server` does (JSON,
// info) to a file that is printed if the benchmark fails.
func (e *benchEnv) serve() {
	tb := e.tb
	tb.Helper()
	for k, v := range e.gcs.ClientEnv() {
		tb.Setenv(k, v)
	}
	cfg, _, err := config.Load("tfpr server", nil, e.getenv)
	if err != nil {
		tb.Fatal(err)
	}
	e.cfg = cfg
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg, server.Options{Getenv: e.getenv, Log: benchLogger(tb)})
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	e.srv, e.url = srv, "http://"+ln.Addr().String()+"/webhook"
	tb.Cleanup(func() {
		// A run held at the gate must not keep shutdown waiting.
		if err := e.tf.Release(true); err != nil {
			tb.Error(err)
		}
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("server stopped with error: %v", err)
		}
	})
}

// startBinary runs the tfpr binary against the fakes.
func (e *benchEnv) startBinary(bin string) *bench.Server {
	tb := e.tb
	tb.Helper()
	vars := maps.Clone(e.gcs.TerraformEnv())
	maps.Copy(vars, e.gcs.ClientEnv())
	maps.Copy(vars, e.env)
	var env []string
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	srv, err := bench.StartServer(tb.Context(), bin, env, tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	e.url = "http://" + srv.Addr + "/webhook"
	tb.Cleanup(func() {
		if err := e.tf.Release(true); err != nil {
			tb.Error(err)
		}
		// Queued applies would each run before a graceful exit.
		srv.Kill()
		if tb.Failed() {
			raw, _ := os.ReadFile(srv.LogFile)
			tb.Logf("tfpr log:\n%s", raw[max(0, len(raw)-30000):])
		}
	})
	return srv
}

// benchBinary is $TFPR_BIN (make bench passes bin/tfpr), else a fresh build.
func benchBinary(tb testing.TB) string {
	tb.Helper()
	if bin := os.Getenv("TFPR_BIN"); bin != "" {
		abs, err := filepath.Abs(bin)
		if err != nil {
			tb.Fatal(err)
		}
		return abs
	}
	bin := filepath.Join(tb.TempDir(), "tfpr")
	out, err := exec.CommandContext(tb.Context(), "go", "build", "-o", bin, "github.com/tfpr/tfpr/cmd/tfpr").CombinedOutput()
	if err != nil {
		tb.Fatalf("build tfpr: %v\n%s", err, out)
	}
	return bin
}

func benchLogger(tb testing.TB) *slog.Logger {
	path := filepath.Join(tb.TempDir(), "tfpr.log")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			raw, _ := os.ReadFile(path)
			tb.Logf("tfpr log:\n%s", raw[max(0, len(raw)-30000):])
		}
	})
	return slog.New(slog.NewJSONHandler(f, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// post sends one signed delivery and returns its status code.
func (e *benchEnv) post(event, id string, body, signature []byte) (int, error) {
	req, err := http.NewRequest(http.MethodPost, e.url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", id)
	req.Header.Set("X-Hub-Signature-256", string(signature))
	resp, err := e.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, err
}

// deliver sends one signed delivery with a fresh id and returns when it was
// sent.
func (e *benchEnv) deliver(event string, body []byte) time.Time {
	e.tb.Helper()
	start := time.Now()
	code, err := e.post(event, rand.Text(), body, []byte(githubtest.Sign(e.secret, body)))
	if err != nil || code/100 != 2 {
		e.tb.Fatalf("deliver %s: status %d, %v", event, code, err)
	}
	return start
}

// waitFor polls cond every millisecond (so the time it returns is at most
// that late) and returns when cond first held.
func (e *benchEnv) waitFor(timeout time.Duration, what string, cond func() bool) time.Time {
	e.tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			e.tb.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(time.Millisecond)
	}
	return time.Now()
}

func (e *benchEnv) waitComment(pr int, contains string, timeout time.Duration) (string, time.Time) {
	e.tb.Helper()
	var body string
	at := e.waitFor(timeout, fmt.Sprintf("%q comment on #%d", contains, pr), func() bool {
		for _, c := range e.repo.Comments(pr) {
			if strings.Contains(c.Body, contains) {
				body = c.Body
				return true
			}
		}
		return false
	})
	return body, at
}

// invocations returns terraform runs that started at or after since.
func (e *benchEnv) invocations(since time.Time) []bench.Invocation {
	e.tb.Helper()
	all, err := e.tf.Invocations(e.tb.Context())
	if err != nil {
		e.tb.Fatal(err)
	}
	return slices.DeleteFunc(all, func(i bench.Invocation) bool { return i.Start.Before(since) })
}

// waitJobsDone waits until the in-process runner has no queued or running
// job for PR pr at sha.
func (e *benchEnv) waitJobsDone(pr int, sha string) {
	e.waitFor(2*time.Minute, fmt.Sprintf("jobs of #%d to finish", pr), func() bool {
		pending, err := e.srv.Store().PendingJob(e.tb.Context(), store.JobPR, e.repo.FullName(), pr, sha)
		return err == nil && !pending
	})
}

const benchAlphaDir = "microservices/alpha/dev"

// benchSeedAlpha puts one project on main.
func benchSeedAlpha(tb testing.TB, repo *githubtest.Repo) {
	repo.Commit(tb, "main", map[string]string{benchAlphaDir + "/main.tf": benchAlphaMain("v1")}, "seed alpha")
}

func benchAlphaMain(rev string) string {
	return backend + `
resource "terraform_data" "queue" {
  input = "alpha-queue-` + rev + `"
}
`
}

// benchSeedCallers puts a shared module and n projects calling it on main.
func benchSeedCallers(tb testing.TB, repo *githubtest.Repo, n int) {
	files := map[string]string{"modules/shared/main.tf": benchSharedModule("v1")}
	for i := range n {
		files[benchCallerDir(i)+"/main.tf"] = backend + fmt.Sprintf(`
module "shared" {
  source = "../../../modules/shared"
  name   = "svc%03d"
}

resource "terraform_data" "app" {
  input = module.shared.id
}
`, i)
	}
	repo.Commit(tb, "main", files, fmt.Sprintf("seed %d projects calling modules/shared", n))
}

func benchCallerDir(i int) string { return fmt.Sprintf("microservices/svc%03d/dev", i) }

func benchSharedModule(rev string) string {
	return `variable "name" {
  type = string
}

resource "terraform_data" "shared" {
  input = "${var.name}-` + rev + `"
}

output "id" {
  value = terraform_data.shared.output
}
`
}

// benchModulePR opens PR number changing the shared module.
func benchModulePR(tb testing.TB, repo *githubtest.Repo, number int) string {
	branch := fmt.Sprintf("shared-%d", number)
	head := repo.Commit(tb, branch, map[string]string{"modules/shared/main.tf": benchSharedModule(branch)}, "shared: "+branch)
	repo.OpenPR(tb, number, branch, "dev-alice")
	return head
}

// warmUp runs one PR that touches no project through the runner, so the
// git mirror and the installation token exist before anything is timed,
// as on a server that has been up for a while.
func (e *benchEnv) warmUp(number int) {
	e.tb.Helper()
	branch := fmt.Sprintf("docs-%d", number)
	head := e.repo.Commit(e.tb, branch, map[string]string{"README.md": "# " + branch + "\n"}, "docs")
	e.repo.OpenPR(e.tb, number, branch, "dev-alice")
	e.deliver("pull_request", e.repo.PullRequestPayload(e.tb, number, "opened"))
	e.waitJobsDone(number, head)
}

// BenchmarkWebhookAck measures the time to acknowledge a delivery over
// loopback HTTP with 8 concurrent senders against the full server: the
// real SQLite store and runner behind the webhook handler. Every delivery
// is a signed pull_request "opened" for the same PR head with a new
// delivery id; the PR's plan job is held in terraform, so the runner finds
// it pending and enqueues nothing: verify + parse + dedupe + store lookup.
// The senders write pre-built requests (see sender), so their garbage is
// not the server's.
func BenchmarkWebhookAck(b *testing.B) {
	const senders = 8
	e := newBenchEnv(b, nil)
	benchSeedAlpha(b, e.repo)
	head := e.repo.Commit(b, "alpha-more", map[string]string{benchAlphaDir + "/main.tf": benchAlphaMain("v2")}, "alpha: v2")
	e.repo.OpenPR(b, 1, "alpha-more", "dev-alice")
	if err := e.tf.Hold(); err != nil {
		b.Fatal(err)
	}
	e.serve()
	body := e.repo.PullRequestPayload(b, 1, "opened")
	signature := []byte(githubtest.Sign(e.secret, body))
	e.deliver("pull_request", body)
	e.waitFor(time.Minute, "the PR's plan to reach terraform", e.tf.Held)

	b.Run(fmt.Sprintf("senders=%d", senders), func(b *testing.B) {
		procs := runtime.GOMAXPROCS(0)
		parallelism := max(1, (senders+procs-1)/procs) // RunParallel starts parallelism*GOMAXPROCS goroutines
		b.SetParallelism(parallelism)
		var (
			mu   sync.Mutex
			took []time.Duration
			seq  atomic.Int64
			bad  atomic.Value
		)
		prefix := rand.Text()
		b.SetBytes(int64(len(body)))
		// Both ends of the loopback connection: the sender's share is the
		// same before and after any change to the server.
		b.ReportAllocs()
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
				start := time.Now()
				code, err := snd.post("pull_request", id, body, signature)
				local = append(local, time.Since(start))
				if err != nil || code != http.StatusAccepted {
					bad.Store(fmt.Sprintf("status %d, %v", code, err))
				}
			}
			mu.Lock()
			took = append(took, local...)
			mu.Unlock()
		})
		b.StopTimer()
		if v := bad.Load(); v != nil {
			b.Fatalf("delivery not accepted: %v (want 202)", v)
		}
		b.ReportMetric(bench.Ms(bench.Quantile(took, 0.50)), "p50-ms")
		b.ReportMetric(bench.Ms(bench.Quantile(took, 0.99)), "p99-ms")
		b.ReportMetric(float64(parallelism*procs), "senders")
	})
	if pending, err := e.srv.Store().PendingJob(b.Context(), store.JobPR, e.repo.FullName(), 1, head); err != nil || !pending {
		b.Fatalf("the held plan job of #1 is no longer pending (%v): the deliveries did not all take the pending-job path", err)
	}
}

// BenchmarkPlanOverhead measures what tfpr adds to terraform between a PR
// "opened" delivery and the plan comment for a one-project change: total
// time, minus the wall time of the serial terraform invocations for that
// project (as the wrapper logged them). Medians over b.N PRs.
func BenchmarkPlanOverhead(b *testing.B) {
	e := newBenchEnv(b, nil)
	benchSeedAlpha(b, e.repo)
	e.serve()
	e.warmUp(1)
	const project = benchAlphaDir
	cost, err := bench.WrapperCost(b.Context(), b.TempDir(), 50)
	if err != nil {
		b.Fatal(err)
	}
	var totals, tfs, overheads, befores, afters, wrappers []time.Duration
	var perPlan int
	phasesBefore := e.phaseTotals()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		pr := 100 + i
		branch := fmt.Sprintf("alpha-%d", pr)
		e.repo.Commit(b, branch, map[string]string{project + "/main.tf": benchAlphaMain(branch)}, "alpha: "+branch)
		e.repo.OpenPR(b, pr, branch, "dev-alice")
		body := e.repo.PullRequestPayload(b, pr, "opened")
		b.StartTimer()
		start := e.deliver("pull_request", body)
		comment, done := e.waitComment(pr, "tfpr plan", 3*time.Minute)
		b.StopTimer()
		if !strings.Contains(comment, project) || !strings.Contains(comment, "Plan: 1 to add") {
			b.Fatalf("plan comment on #%d does not show the planned change:\n%s", pr, comment)
		}
		var tf time.Duration
		var cmds []string
		var first, last time.Time
		// Every terraform process since the delivery counts, also those
		// outside the project (a `version` runs in a temporary directory).
		for _, inv := range e.invocations(start) {
			tf += inv.Duration()
			cmds = append(cmds, inv.Command())
			if first.IsZero() || inv.Start.Before(first) {
				first = inv.Start
			}
			if inv.End.After(last) {
				last = inv.End
			}
		}
		if !slices.Contains(cmds, "plan") {
			b.Fatalf("no terraform plan logged for #%d; got %v", pr, cmds)
		}
		total := done.Sub(start)
		totals, tfs, overheads = append(totals, total), append(tfs, tf), append(overheads, total-tf)
		befores, afters = append(befores, first.Sub(start)), append(afters, done.Sub(last))
		wrappers, perPlan = append(wrappers, time.Duration(len(cmds))*cost), len(cmds)
		b.StartTimer()
	}
	b.ReportMetric(bench.Ms(bench.Quantile(totals, 0.5)), "total-ms")
	b.ReportMetric(bench.Ms(bench.Quantile(tfs, 0.5)), "terraform-ms")
	b.ReportMetric(bench.Ms(bench.Quantile(overheads, 0.5)), "overhead-ms")
	// Where the overhead goes: before the first terraform command (fetch,
	// checkout, scan, lint) and after the last (plan policies, saving the
	// plan, check run and comment); the rest is between commands.
	b.ReportMetric(bench.Ms(bench.Quantile(befores, 0.5)), "before-tf-ms")
	b.ReportMetric(bench.Ms(bench.Quantile(afters, 0.5)), "after-tf-ms")
	// The timing wrapper's own cost is inside the overhead, not tfpr's.
	b.ReportMetric(bench.Ms(bench.Quantile(wrappers, 0.5)), "wrapper-ms")
	b.ReportMetric(float64(perPlan), "tf-invocations")
	// tfpr's own account of the same runs, phase by phase.
	reportPhases(b, phasesBefore, e.phaseTotals())
}

// BenchmarkParallelPlan20 plans a PR that changes a local module called by
// 20 projects, and reports the wall time from delivery to plan comment, the
// sum of every project's terraform time, and their ratio: how many
// terraform processes ran at once on average.
func BenchmarkParallelPlan20(b *testing.B) {
	const projects = 20
	e := newBenchEnv(b, nil)
	benchSeedCallers(b, e.repo, projects)
	e.serve()
	e.warmUp(1)
	var walls, sums []time.Duration
	phasesBefore := e.phaseTotals()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		pr := 100 + i
		benchModulePR(b, e.repo, pr)
		body := e.repo.PullRequestPayload(b, pr, "opened")
		b.StartTimer()
		start := e.deliver("pull_request", body)
		comment, done := e.waitComment(pr, "tfpr plan", 10*time.Minute)
		b.StopTimer()
		for p := range projects {
			if !strings.Contains(comment, benchCallerDir(p)) {
				b.Fatalf("plan comment on #%d lacks %s:\n%s", pr, benchCallerDir(p), comment)
			}
		}
		var sum time.Duration
		planned := map[string]bool{}
		for _, inv := range e.invocations(start) {
			sum += inv.Duration()
			if inv.Command() == "plan" {
				planned[inv.Dir] = true
			}
		}
		if len(planned) != projects {
			b.Fatalf("terraform planned %d project dirs for #%d, want %d", len(planned), pr, projects)
		}
		walls, sums = append(walls, done.Sub(start)), append(sums, sum)
		b.StartTimer()
	}
	wall, sum := bench.Quantile(walls, 0.5), bench.Quantile(sums, 0.5)
	b.ReportMetric(bench.Ms(wall), "wall-ms")
	b.ReportMetric(bench.Ms(sum), "terraform-sum-ms")
	b.ReportMetric(float64(sum)/float64(wall), "parallelism")
	b.ReportMetric(float64(runtime.NumCPU()), "cores")
	b.ReportMetric(float64(e.cfg.Parallelism), "tfpr-parallelism")
	reportPhases(b, phasesBefore, e.phaseTotals())
}

// BenchmarkMergeQueue50 merges a reviewed PR that changes a module called
// by 50 projects and reports, from the merge delivery, the time until the
// first `terraform apply` started and the p50 and p99 across projects.
func BenchmarkMergeQueue50(b *testing.B) {
	const projects = 50
	e := newBenchEnv(b, nil)
	benchSeedCallers(b, e.repo, projects)
	e.serve()
	e.warmUp(1)
	var firsts, p50s, p99s []time.Duration
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		pr := 100 + i
		benchModulePR(b, e.repo, pr)
		e.deliver("pull_request", e.repo.PullRequestPayload(b, pr, "opened"))
		e.waitComment(pr, "tfpr plan", 10*time.Minute)
		e.repo.Merge(b, pr, "lead-carol")
		body := e.repo.PullRequestPayload(b, pr, "closed")
		b.StartTimer()
		start := e.deliver("pull_request", body)
		var applies []bench.Invocation
		e.waitFor(15*time.Minute, fmt.Sprintf("%d applies", projects), func() bool {
			applies = slices.DeleteFunc(e.invocations(start), func(i bench.Invocation) bool { return i.Command() != "apply" })
			return len(applies) >= projects
		})
		b.StopTimer()
		var lat []time.Duration
		for _, a := range applies {
			if a.Exit != 0 {
				b.Fatalf("terraform apply in %s exited %d", a.Dir, a.Exit)
			}
			lat = append(lat, a.Start.Sub(start))
		}
		firsts = append(firsts, bench.Quantile(lat, 0))
		p50s, p99s = append(p50s, bench.Quantile(lat, 0.5)), append(p99s, bench.Quantile(lat, 0.99))
		b.StartTimer()
	}
	b.ReportMetric(bench.Ms(bench.Quantile(firsts, 0.5)), "first-apply-ms")
	b.ReportMetric(bench.Ms(bench.Quantile(p50s, 0.5)), "p50-ms")
	b.ReportMetric(bench.Ms(bench.Quantile(p99s, 0.5)), "p99-ms")
	b.ReportMetric(float64(e.cfg.Parallelism), "tfpr-parallelism")
}

// BenchmarkQueuedRSS runs the tfpr binary with TFPR_PARALLELISM=1 and
// reads its resident memory idle, then with 100 applies queued behind one
// held in terraform (one merge of a module called by 100 projects).
func BenchmarkQueuedRSS(b *testing.B) {
	const projects = 100
	const settle = 2 * time.Second
	bin := benchBinary(b)
	for b.Loop() {
		e := newBenchEnv(b, map[string]string{"TFPR_PARALLELISM": "1"})
		benchSeedCallers(b, e.repo, projects)
		benchModulePR(b, e.repo, 1)
		e.repo.Merge(b, 1, "lead-carol")
		if err := e.tf.Hold(); err != nil {
			b.Fatal(err)
		}
		srv := e.startBinary(bin)
		time.Sleep(settle)
		idle, err := bench.ReadMemory(b.Context(), srv.Pid())
		if err != nil {
			b.Fatal(err)
		}
		e.deliver("pull_request", e.repo.PullRequestPayload(b, 1, "closed"))
		e.waitFor(2*time.Minute, "the first apply to reach terraform", e.tf.Held)
		st, err := store.OpenSQLite(b.Context(), filepath.Join(e.env["TFPR_DATA_DIR"], "tfpr.db"))
		if err != nil {
			b.Fatal(err)
		}
		var pending int
		e.waitFor(time.Minute, fmt.Sprintf("%d pending applies", projects), func() bool {
			pending = 0
			for _, status := range []store.Status{store.StatusQueued, store.StatusRunning} {
				n, err := st.CountRuns(b.Context(), "apply", "", "", status)
				if err != nil {
					b.Fatal(err)
				}
				pending += n
			}
			return pending == projects
		})
		st.Close()
		time.Sleep(settle)
		queued, err := bench.ReadMemory(b.Context(), srv.Pid())
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(idle.RSS)/bench.MiB, "idle-MiB")
		b.ReportMetric(float64(queued.RSS)/bench.MiB, "queued-MiB")
		b.ReportMetric(float64(queued.Anon)/bench.MiB, "queued-anon-MiB")
		b.ReportMetric(float64(pending), "queued-runs")
	}
}
