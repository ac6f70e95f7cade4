package runapi

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/oauth2"

	"github.com/tfpr/tfpr/internal/executor"
	"github.com/tfpr/tfpr/internal/iamcreds"
	"github.com/tfpr/tfpr/internal/metrics"
	"github.com/tfpr/tfpr/internal/runlog"
	"github.com/tfpr/tfpr/internal/store"
	"github.com/tfpr/tfpr/internal/testenv"
)

// rig is a server's worth of dispatcher: a real store, fake GCS, real
// terraform, the real tfpr-worker binary as worker, and the IAM Credentials API
// faked at its HTTP boundary.
type rig struct {
	t      *testing.T
	store  *store.SQLite
	gcs    *testenv.GCS
	d      *Dispatcher
	exec   executor.Executor
	url    string
	data   string
	root   string
	addr   string
	minted *mintLog
	opts   executor.LocalOptions
	srv    *http.Server
	// kube makes the kubernetes executor when the rig runs Jobs.
	kube func() executor.Executor
	// reg holds this boot's metrics; logs is the run-log store the
	// endpoint feeds, as the runs page reads it.
	reg  *prometheus.Registry
	logs *runlog.Broadcaster
}

type mintLog struct {
	mu  sync.Mutex
	sas []string
}

// fakeIAM answers generateAccessToken with a token naming the account.
func fakeIAM(t *testing.T, log *mintLog) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, "/v1/projects/-/serviceAccounts/")
		sa, ok2 := strings.CutSuffix(rest, ":generateAccessToken")
		if !ok || !ok2 || r.Header.Get("Authorization") != "Bearer server-own-token" {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		log.mu.Lock()
		log.sas = append(log.sas, sa)
		log.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{"accessToken": "ya29.minted-for-" + sa, "expireTime": time.Now().Add(time.Hour)})
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func newRig(t *testing.T, tfBin string, binds []executor.Bind) *rig {
	t.Helper()
	r := &rig{t: t, data: t.TempDir(), root: t.TempDir(), minted: &mintLog{}}
	st, err := store.OpenSQLite(context.Background(), filepath.Join(r.data, "tfpr.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r.store = st
	r.gcs = testenv.FakeGCS(t, "state")
	if tfBin == "" {
		tfBin = testenv.Terraform(t)
	}
	r.opts = executor.LocalOptions{Sandbox: true, WorkerBin: testenv.WorkerBinary(t), TerraformBin: tfBin, Binds: binds}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	r.url = "http://" + r.addr
	r.boot(ln)
	writeProject(t, r.root, "microservices/alpha/dev", "alpha")
	writeProject(t, r.root, "microservices/beta/dev", "beta")
	return r
}

// boot starts (or restarts) the dispatcher and its endpoint on ln.
func (r *rig) boot(ln net.Listener) {
	t := r.t
	ex, err := executor.NewLocal(context.Background(), r.opts)
	if err != nil {
		t.Fatalf("sandbox unavailable here, so this test cannot show isolation: %v", err)
	}
	m, err := iamcreds.New(fakeIAM(t, r.minted), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "server-own-token"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for k, v := range r.gcs.TerraformEnv() {
		if k != "HOME" && k != "GOOGLE_OAUTH_ACCESS_TOKEN" {
			env[k] = v
		}
	}
	r.reg, r.logs = prometheus.NewRegistry(), runlog.New(runlog.Limits{})
	met, err := metrics.New(r.reg)
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(Options{Store: r.store, Executor: ex, RunsDir: filepath.Join(r.data, "runs"), URL: r.url, Env: env, Minter: m,
		Poll: 50 * time.Millisecond, Metrics: met, Logs: r.logs})
	if err != nil {
		t.Fatal(err)
	}
	r.d, r.exec = d, ex
	r.srv = &http.Server{Handler: d.Handler()}
	go r.srv.Serve(ln)
	t.Cleanup(func() { r.srv.Close() })
}

// restart stops the endpoint and starts a new dispatcher on the same
// store and address, as a restarted server would.
func (r *rig) restart() {
	r.srv.Close()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", r.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		r.t.Fatal(err)
	}
	r.boot(ln)
}

func writeProject(t *testing.T, root, dir, value string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(dir))
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	tf := `terraform {
  backend "gcs" {}
}

resource "terraform_data" "x" {
  input = "` + value + `"
}
`
	if err := os.WriteFile(filepath.Join(p, "main.tf"), []byte(tf), 0o644); err != nil {
		t.Fatal(err)
	}
}

// counter reads one series of this boot's metrics: name with labels
// (label=value pairs), 0 when absent.
func (r *rig) counter(name string, labels ...string) float64 {
	r.t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		r.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if got[labels[i]] != labels[i+1] {
					continue series
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
