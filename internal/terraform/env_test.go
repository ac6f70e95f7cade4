package terraform_test

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tfpr/tfpr/internal/terraform"
	"github.com/tfpr/tfpr/internal/testenv"
)

// TestTerraformGetsOnlyOptionsEnv runs terraform through a wrapper that
// records the environment each command starts with. Not parallel: it sets
// variables in the test process to prove they do not leak.
func TestTerraformGetsOnlyOptionsEnv(t *testing.T) {
	t.Setenv("TFPR_LEAK_PROBE", "server-secret")
	t.Setenv("CHECKPOINT_DISABLE", "from-server")

	real := testenv.Terraform(t)
	dumps := t.TempDir()
	wrapper := filepath.Join(t.TempDir(), "terraform")
	// /proc/$$/environ is the environment the shell was started with,
	// before the shell adds PWD and friends.
	script := fmt.Sprintf("#!/bin/sh\ncat /proc/$$/environ > %s/env.$$\nexec %s \"$@\"\n", dumps, real)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}

	gcs := testenv.FakeGCS(t, "tfpr-env")
	env := gcs.TerraformEnv()
	delete(env, "CHECKPOINT_DISABLE") // New must default it rather than inherit the server's
	cache := t.TempDir()
	ex, err := terraform.New(terraform.Options{Bin: wrapper, Env: maps.Clone(env), PluginCacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	dir := project(t, `resource "terraform_data" "x" {}`+"\n")
	if _, err := ex.Plan(ctx(t), dir, terraform.Backend{Bucket: "tfpr-env", Prefix: "p"}, "tfpr.tfplan"); err != nil {
		t.Fatalf("plan through wrapper: %v", err)
	}

	want := maps.Clone(env)
	want["CHECKPOINT_DISABLE"] = "1"
	want["TF_PLUGIN_CACHE_DIR"] = cache
	want["TF_IN_AUTOMATION"] = "1"
	// Always set by tfexec; their values are tfexec's business.
	tfexecOwned := []string{"TF_APPEND_USER_AGENT", "TF_LOG", "TF_LOG_CORE", "TF_LOG_PATH", "TF_LOG_PROVIDER"}

	files, err := filepath.Glob(filepath.Join(dumps, "env.*"))
	if err != nil || len(files) < 4 { // version, init, plan, show -json, show
		t.Fatalf("wrapper recorded %d runs (err %v), want at least 4", len(files), err)
	}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for kv := range bytes.SplitSeq(bytes.TrimRight(raw, "\x00"), []byte{0}) {
			k, v, _ := strings.Cut(string(kv), "=")
			got[k] = v
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s=%q, want %q", filepath.Base(file), k, got[k], v)
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok && !slices.Contains(tfexecOwned, k) {
				t.Errorf("%s: terraform got %s, which is not in Options.Env", filepath.Base(file), k)
			}
		}
		if _, ok := got["TFPR_LEAK_PROBE"]; ok {
			t.Errorf("%s: the server's environment leaked into terraform", filepath.Base(file))
		}
	}
}
