package policy_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tfpr/tfpr/internal/policy"
)

// writeProject writes files into root/projectDir.
func writeProject(t *testing.T, root string, files map[string]string) {
	t.Helper()
	dir := filepath.Join(root, projectDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// lintValues returns the first instance of each resource of the project's
// input as lint evaluated it, by address.
func lintValues(t *testing.T, root string) map[string]map[string]any {
	t.Helper()
	doc, findings, err := policy.BuildInput(context.Background(), root, projectDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(findings) != 0 {
		t.Fatalf("reading the project: %+v", findings)
	}
	out := map[string]map[string]any{}
	for _, r := range doc["resources"].([]any) {
		r := r.(map[string]any)
		insts := r["instances"].([]any)
		if len(insts) == 0 {
			continue
		}
		out[r["address"].(string)] = insts[0].(map[string]any)
	}
	return out
}

const evalConfig = `terraform {
  backend "gcs" {}
}

variable "env" {
  type    = string
  default = "dev"
}

variable "reader" {
  type = string
}

variable "ranges" {
  type = list(string)
}

variable "ports" {
  type    = list(number)
  default = [22]
}

locals {
  name    = "${var.env}-${local.base}"
  base    = lower("ALPHA")
  members = concat([var.reader], ["group:${local.name}@acme.com"])
  byenv   = { dev = "roles/viewer", prod = "roles/browser" }
  role    = lookup(local.byenv, var.env, "roles/none")
  strict  = var.env == "prod" ? true : false
  merged  = merge({ a = 1 }, { b = [for p in var.ports : tostring(p)] })
  text    = format("%s:%d", upper(local.base), length(local.members))
  flat    = distinct(flatten([var.ranges, ["10.0.0.0/8"]]))
  parts   = split("/", element(var.ranges, 1))
  picked  = coalesce("", join(",", sort(keys(local.byenv))))
  trimmed = trimspace("  x  ")
}

resource "terraform_data" "v" {
  input = {
    name    = local.name
    members = local.members
    role    = local.role
    strict  = local.strict
    merged  = local.merged
    text    = local.text
    flat    = local.flat
    parts   = local.parts
    picked  = local.picked
    trimmed = local.trimmed
    ranges  = var.ranges
    path    = path.module
    ws      = terraform.workspace
  }
}
`

// TestLintValuesMatchTerraform evaluates the same expressions with lint
// and with real terraform (terraform_data needs no provider) and compares
// the values: lint evaluates locals, defaults, the vars files and
// functions as terraform does.
func TestLintValuesMatchTerraform(t *testing.T) {
	bin := terraformBin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	root := t.TempDir()
	writeProject(t, root, map[string]string{
		"main.tf":             evalConfig,
		"terraform.tfvars":    "reader = \"allUsers\"\nranges = [\"192.168.0.0/16\"]\n",
		"z.auto.tfvars.json":  `{"ranges": ["0.0.0.0/0", "10.0.0.0/8"]}`,
		"a.auto.tfvars":       "env = \"dev\"\n",
		".hidden.auto.tfvars": "env = \"prod\"\n",
		"ignored.tfvars":      "env = \"prod\"\n",
	})
	lint := lintValues(t, root)["terraform_data.v"]
	if u := lint["unknown"].(map[string]any); len(u) != 0 {
		t.Fatalf("lint left values unknown: %v", u)
	}
	got := lint["values"].(map[string]any)["input"]

	dir := filepath.Join(root, projectDir)
	// Terraform reads the same directory without the gcs backend.
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(strings.Replace(evalConfig, `backend "gcs" {}`, "", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	tf := terraformIn(ctx, t, bin, dir)
	tf("init", "-no-color")
	tf("plan", "-no-color", "-out", "v.tfplan")
	var plan struct {
		ResourceChanges []struct {
			Address string
			Change  struct{ After map[string]any }
		} `json:"resource_changes"`
	}
	if err := json.Unmarshal(tf("show", "-json", "v.tfplan"), &plan); err != nil {
		t.Fatal(err)
	}
	if len(plan.ResourceChanges) != 1 {
		t.Fatalf("plan has %d changes", len(plan.ResourceChanges))
	}
	want := plan.ResourceChanges[0].Change.After["input"]
	// Numbers: lint's JSON decoding keeps json.Number, terraform's float64.
	norm := func(v any) any {
		b, _ := json.Marshal(v)
		var out any
		json.Unmarshal(b, &out)
		return out
	}
	if !reflect.DeepEqual(norm(got), norm(want)) {
		gb, _ := json.MarshalIndent(got, "", " ")
		wb, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("lint evaluated\n%s\nterraform planned\n%s", gb, wb)
	}
}

// TestHostileValuesStayBounded feeds expressions built to be expensive or
// to crash an evaluator: they end as unknown values, quickly, and lint
// still works.
func TestHostileValuesStayBounded(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("terraform {\n  backend \"gcs\" {}\n}\n\nlocals {\n  s0 = \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"\n")
	// Each local doubles the last: 2^60 bytes if nothing stopped it.
	for i := 1; i <= 60; i++ {
		sb.WriteString("  s" + itoa(i) + " = \"${local.s" + itoa(i-1) + "}${local.s" + itoa(i-1) + "}\"\n")
	}
	sb.WriteString(`  cycle_a = local.cycle_b
  cycle_b = local.cycle_a
  big_range = range(1000000000)
  wide = format("%999999999d", 1)
  indented = indent(1000000000, "x\ny")
  spread = replace(local.s6, "", local.s6)
  nested = [for i in range(1000) : [for j in range(1000) : j]]
  file = file("${path.module}/main.tf")
  env = timestamp()
  product = setproduct(range(100), range(100), range(100))
  ok = upper("fine")
}

resource "terraform_data" "h" {
  input = {
    doubled = local.s60
    cycle   = local.cycle_a
    range   = local.big_range
    wide    = local.wide
    indent  = local.indented
    spread  = local.spread
    nested  = local.nested
    file    = local.file
    env     = local.env
    product = local.product
    ok      = local.ok
  }
}
`)
	root := t.TempDir()
	writeProject(t, root, map[string]string{
		"main.tf": sb.String(),
		// JSON templates are parsed only as they are evaluated.
		"j.tf.json": `{"resource": {"terraform_data": {"j": {"input": "${[for i in range(1000) : [for j in range(1000) : j]]}"}}}}`,
	})
	start := time.Now()
	all := lintValues(t, root)
	if u := all["terraform_data.j"]["unknown"].(map[string]any)["input"]; u != true {
		t.Errorf("nested for in JSON: want unknown, got %v", all["terraform_data.j"])
	}
	inst := all["terraform_data.h"]
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("hostile values took %s", d)
	}
	vals := inst["values"].(map[string]any)["input"].(map[string]any)
	unknown := inst["unknown"].(map[string]any)["input"].(map[string]any)
	if vals["ok"] != "FINE" {
		t.Errorf("ok = %v, want FINE", vals["ok"])
	}
	for _, k := range []string{"doubled", "cycle", "range", "wide", "indent", "spread", "nested", "file", "env", "product"} {
		if unknown[k] != true {
			t.Errorf("%s: want unknown, got value %.80v", k, vals[k])
		}
	}
	got, err := newEngine(t).LintProject(context.Background(), root, projectDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if policy.Blocking(got) {
		t.Errorf("hostile but harmless values are denied: %+v", got)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
