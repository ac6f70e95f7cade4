package server

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/tfpr/tfpr/internal/runapi"
	"github.com/tfpr/tfpr/internal/runspec"
	"github.com/tfpr/tfpr/internal/store"
)

func kubeEnv(t *testing.T) map[string]string {
	env := baseEnv(t)
	env["TFPR_EXECUTOR"] = "kubernetes"
	env["TFPR_RUN_NAMESPACE"] = "tfpr-runs"
	env["TFPR_RUN_IMAGE"] = "ghcr.io/acme/tfpr:1"
	env["TFPR_INTERNAL_ADDR"] = ":0"
	env["TFPR_INTERNAL_URL"] = "http://tfpr-internal.tfpr.svc:8081"
	env["TFPR_TERRAFORM_BIN"] = "/bin/true" // never run here: the Jobs are not scheduled
	return env
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// A server stopping with the kubernetes executor leaves its running Jobs
// to the next server instead of waiting for them, and records nothing for
// their runs, which the next server adopts.
func TestKubernetesShutdownDoesNotWaitForJobs(t *testing.T) {
	cs := fake.NewClientset(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "tf-alpha-dev", Namespace: "tfpr-runs"}})
	var logs syncBuf
	s, err := New(context.Background(), load(t, kubeEnv(t)), Options{Kubernetes: cs, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()

	root := t.TempDir()
	dir := filepath.Join(root, "microservices", "alpha", "dev")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "main.tf"), []byte(`resource "terraform_data" "x" {}`+"\n"), 0o644)
	// An apply waits the way the runner's do: its context never ends.
	running := make(chan error, 1)
	go func() {
		_, err := s.dispatcher.Run(context.WithoutCancel(ctx), runapi.Request{RunID: 1, Stage: runspec.Apply, Project: "microservices/alpha/dev",
			Root: root, Paths: []string{"microservices/alpha/dev"}, Bucket: "state", Prefix: "p", Budget: time.Hour, Plan: []byte("plan")})
		running <- err
	}()
	waitFor(t, "the run's Job and its recorded handle", func() bool {
		_, err := cs.BatchV1().Jobs("tfpr-runs").Get(ctx, "tfpr-run-1", metav1.GetOptions{})
		open, _ := s.dispatcher.Open(ctx)
		return err == nil && len(open) == 1 && open[0].Handle != ""
	})
	began := time.Now()
	stop()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the server waited for its running Job")
	}
	t.Logf("stopped in %s with a Job running", time.Since(began))
	select {
	case err := <-running:
		t.Fatalf("the run ended with %v; it must stay open for the next server", err)
	default:
	}
	waitFor(t, "the log to say the Job was left to the next server", func() bool {
		return strings.Contains(logs.String(), "the next server adopts")
	})
	st, err := store.OpenSQLite(context.Background(), filepath.Join(s.cfg.DataDir, "tfpr.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	open, err := st.OpenWorkerRuns(context.Background())
	if err != nil || len(open) != 1 || open[0].Result != "" || !strings.Contains(open[0].Handle, `"job":"tfpr-run-1"`) {
		t.Fatalf("open worker runs after shutdown: %v %+v", err, open)
	}
}

// On start the server lists its run Jobs by label and says which an
// earlier server left running.
func TestKubernetesStartListsActiveJobs(t *testing.T) {
	cs := fake.NewClientset(&batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "tfpr-run-7", Namespace: "tfpr-runs",
		Labels: map[string]string{"app.kubernetes.io/managed-by": "tfpr", "app.kubernetes.io/component": "worker", "tfpr.dev/run-id": "7"}}},
		&batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: "tfpr-runs"}})
	var logs syncBuf
	s, err := New(context.Background(), load(t, kubeEnv(t)), Options{Kubernetes: cs, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	out := logs.String()
	if !strings.Contains(out, "job=tfpr-run-7") || strings.Contains(out, "job=other") {
		t.Fatalf("start-up log:\n%s", out)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
