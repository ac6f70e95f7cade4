package terraform_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tfpr/tfpr/internal/metrics"
	"github.com/tfpr/tfpr/internal/runlog"
	"github.com/tfpr/tfpr/internal/terraform"
	"github.com/tfpr/tfpr/internal/testenv"
)

// A run's terraform output reaches its log as terraform prints it, init,
// plan and apply, and every terraform exit is counted by command and code.
func TestOutputGoesToTheRunsLogAndExitsAreCounted(t *testing.T) {
	gcs := testenv.FakeGCS(t, "state")
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := terraform.New(terraform.Options{Bin: testenv.Terraform(t), Env: gcs.TerraformEnv(), Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	be := terraform.Backend{Bucket: "state", Prefix: "p"}
	logs := runlog.New(runlog.Limits{})
	c := runlog.WithRun(ctx(t), logs, 41)
	dir := project(t, `resource "terraform_data" "x" { input = "a" }`)
	p, err := ex.Plan(c, dir, be, "tfpr.tfplan")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ex.Apply(c, dir, be, p.File); err != nil {
		t.Fatal(err)
	}
	lines, _ := logs.Lines(41)
	text := strings.Join(lines, "\n")
	for _, want := range []string{"Initializing the backend", "terraform_data.x will be created", "Plan: 1 to add", "Apply complete! Resources: 1 added"} {
		if !strings.Contains(text, want) {
			t.Errorf("the run's log lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, `"format_version"`) {
		t.Error("the plan's JSON went to the run's log")
	}

	bad := project(t, `resource "terraform_data" "x" { input = }`)
	if _, err := ex.Plan(runlog.WithRun(ctx(t), logs, 42), bad, be, "tfpr.tfplan"); err == nil {
		t.Fatal("a broken configuration planned")
	}
	if lines, _ := logs.Lines(42); !strings.Contains(strings.Join(lines, "\n"), "Error") {
		t.Errorf("the failed run's log lacks terraform's error:\n%s", strings.Join(lines, "\n"))
	}
	for cmd, code := range map[string]string{"init": "0", "plan": "0", "apply": "0", "show": "0"} {
		if n := exits(t, reg, cmd, code); n < 1 {
			t.Errorf("tfpr_terraform_exits_total{command=%q,code=%q} = %v, want at least 1", cmd, code, n)
		}
	}
	if n := exits(t, reg, "init", "1"); n != 1 {
		t.Errorf(`init of a broken configuration: tfpr_terraform_exits_total{command="init",code="1"} = %v, want 1`, n)
	}
}

// exits reads one tfpr_terraform_exits_total series.
func exits(t *testing.T, reg *prometheus.Registry, cmd, code string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	v := 0.0
	for _, mf := range mfs {
		if mf.GetName() != "tfpr_terraform_exits_total" {
			continue
		}
		for _, s := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range s.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			if l["command"] == cmd && l["code"] == code {
				v = s.GetCounter().GetValue()
			}
		}
	}
	return v
}
