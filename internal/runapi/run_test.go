package runapi

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tfpr/tfpr/internal/executor"
	"github.com/tfpr/tfpr/internal/runspec"
	"github.com/tfpr/tfpr/internal/testenv"
)

const alphaSA = "tf-alpha-dev@platform.iam.gserviceaccount.com"

func planReq(project, sa string) Request {
	return Request{RunID: 7, Stage: runspec.Plan, Project: project, Paths: []string{project}, Bucket: "state",
		Prefix: "acme/infra/" + project, Budget: 5 * time.Minute, ServiceAccount: sa}
}

func TestPlanThenApplyThroughSandbox(t *testing.T) {
	r := newRig(t, "", nil)
	ctx := context.Background()
	req := planReq("microservices/alpha/dev", alphaSA)
	req.Root = r.root
	res, err := r.d.Run(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != runspec.Succeeded || res.Plan == nil || res.Plan.Add != 1 {
		t.Fatalf("plan result: %+v", res)
	}
	if !strings.Contains(res.Plan.Text, "terraform_data.x will be created") {
		t.Fatalf("plan text:\n%s", res.Plan.Text)
	}
	apply := req
	apply.Stage, apply.Plan = runspec.Apply, res.Plan.File
	out, err := r.d.Run(ctx, apply)
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != runspec.Succeeded || !strings.Contains(out.Output, "Apply complete! Resources: 1 added") {
		t.Fatalf("apply result: %+v", out)
	}
	if st := r.gcs.Object(t, "acme/infra/microservices/alpha/dev/default.tfstate"); !strings.Contains(string(st), `"alpha"`) {
		t.Fatalf("state after apply:\n%s", st)
	}
	if open, _ := r.d.Open(ctx); len(open) != 0 {
		t.Fatalf("runs left open after their results were taken: %+v", open)
	}
	if ents, _ := os.ReadDir(filepath.Join(r.data, "runs")); len(ents) != 0 {
		t.Fatalf("run files left behind: %v", ents)
	}
}

// TestSandboxProbe runs a plan whose terraform is a probe: it tries to read
// what a hostile provider would want, and records its environment.
func TestSandboxProbe(t *testing.T) {
	probe := t.TempDir()
	secrets := t.TempDir()
	appKey := filepath.Join(secrets, "app.pem")
	os.WriteFile(appKey, []byte("-----BEGIN RSA PRIVATE KEY-----\nsecret\n"), 0o600)
	script := filepath.Join(t.TempDir(), "terraform")
	os.WriteFile(script, []byte(`#!/bin/sh
out=`+probe+`
while read -r f; do
  [ -z "$f" ] && continue
  if cat "$f" >/dev/null 2>&1; then echo "read $f"; else echo "denied $f"; fi
done < $out/targets >> $out/probe
ls /proc | grep -E '^[0-9]+$' | tr '\n' ' ' >> $out/pids; echo >> $out/pids
env | sort > $out/env
exec `+testenv.Terraform(t)+` "$@"
`), 0o755)
	r := newRig(t, script, []executor.Bind{{Path: probe, RW: true}})
	otherPlan := filepath.Join(r.data, "plans", "beta.tfplan")
	os.MkdirAll(filepath.Dir(otherPlan), 0o700)
	os.WriteFile(otherPlan, []byte("beta's plan"), 0o600)
	targets := []string{appKey, filepath.Join(r.data, "tfpr.db"), otherPlan,
		fmt.Sprintf("/proc/%d/environ", os.Getpid()), "/proc/1/environ"}
	os.WriteFile(filepath.Join(probe, "targets"), []byte(strings.Join(targets, "\n")+"\n"), 0o644)
	t.Setenv("TFPR_GITHUB_WEBHOOK_SECRET", "hush")

	req := planReq("microservices/alpha/dev", alphaSA)
	req.Root = r.root
	res, err := r.d.Run(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != runspec.Succeeded {
		t.Fatalf("plan under the probe failed: %+v", res)
	}
	got, _ := os.ReadFile(filepath.Join(probe, "probe"))
	for _, f := range targets[:4] {
		if !strings.Contains(string(got), "denied "+f+"\n") {
			t.Errorf("terraform could read %s:\n%s", f, got)
		}
	}
	// Each terraform command sees only the sandbox's own processes: bwrap's
	// init, the worker and terraform's few.
	pids, _ := os.ReadFile(filepath.Join(probe, "pids"))
	for _, line := range strings.Split(strings.TrimSpace(string(pids)), "\n") {
		if n := len(strings.Fields(line)); n == 0 || n > 8 {
			t.Errorf("terraform sees %d processes: /proc shows more than the sandbox (%s)", n, line)
		}
	}
	env, _ := os.ReadFile(filepath.Join(probe, "env"))
	want := "GOOGLE_OAUTH_ACCESS_TOKEN=ya29.minted-for-" + alphaSA + "\n"
	if !strings.Contains(string(env), want) {
		t.Errorf("terraform's environment lacks its project's token %q:\n%s", want, env)
	}
	for _, line := range strings.Split(string(env), "\n") {
		k, v, _ := strings.Cut(line, "=")
		if strings.HasPrefix(k, "TFPR_") || strings.Contains(v, "hush") || strings.Contains(v, "tfprrun_") ||
			(strings.Contains(v, "ya29.") && k != "GOOGLE_OAUTH_ACCESS_TOKEN") || strings.Contains(k, "IMPERSONATE") {
			t.Errorf("terraform's environment holds %s", k)
		}
	}
	r.minted.mu.Lock()
	defer r.minted.mu.Unlock()
	if len(r.minted.sas) != 1 || r.minted.sas[0] != alphaSA {
		t.Errorf("tokens minted for %v, want one for %s", r.minted.sas, alphaSA)
	}
}
