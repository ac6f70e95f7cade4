package workspace

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"testing"
)

// A checkout of TerraformFiles holds the files terraform loads and nothing
// else until Complete adds what a run needs: a dir's files at every depth,
// single files, and the whole tree for ".". Names that merely start like a
// completed dir stay out, as do paths the commit lacks.
func TestCheckoutTerraformFilesThenComplete(t *testing.T) {
	ctx := context.Background()
	up := newUpstream(t)
	all := map[string]string{
		"README.md":                        "docs",
		"svc/prod/main.tf":                 "terraform {}",
		"svc/prod/prod.auto.tfvars":        "x = 1",
		"svc/prod/templates/user.tpl":      "${name}",
		"svc/prod-old/main.tf.json":        "{}",
		"svc/prod-old/notes.txt":           "old",
		"svc/prod.txt":                     "beside",
		"modules/m/variables.tf":           "variable \"v\" {}",
		"modules/m/versions.tofu":          "terraform {}",
		"modules/m/files/policy.json":      "{}",
		"modules/m/.terraform.lock.hcl":    "# lock",
		"data/[odd] name.yaml":             "k: v",
		"node_modules/pkg/vendored.tf":     "# vendored",
		"svc/prod/override.tf":             "locals {}",
		"svc/prod/.hidden.tf":              "# dotfile",
		"svc/prod/backup.tf~":              "# backup",
		"svc/prod/templates/deep/more.tpl": "more",
	}
	sha := up.commit("tree", all)
	m, _ := newManager(t)
	fetchAll(t, m, up.repo(), sha)
	co, err := m.Checkout(ctx, up.repo(), sha, TerraformFiles)
	if err != nil {
		t.Fatal(err)
	}
	defer co.Close(ctx)
	want := map[string]string{}
	pick := func(names ...string) {
		for _, n := range names {
			want[n] = all[n]
		}
	}
	pick("svc/prod/main.tf", "svc/prod-old/main.tf.json", "modules/m/variables.tf", "modules/m/versions.tofu",
		"node_modules/pkg/vendored.tf", "svc/prod/override.tf")
	check := func(step string) {
		t.Helper()
		if got := readTree(t, co.Dir); !maps.Equal(got, want) {
			t.Fatalf("%s: checkout holds %v\nwant %v", step, got, want)
		}
	}
	check("start")

	if err := co.Complete(ctx, []string{"svc/prod", "modules/m/files/policy.json", "missing/dir", "data/[odd] name.yaml"}); err != nil {
		t.Fatal(err)
	}
	pick("svc/prod/prod.auto.tfvars", "svc/prod/templates/user.tpl", "svc/prod/templates/deep/more.tpl",
		"svc/prod/.hidden.tf", "svc/prod/backup.tf~", "modules/m/files/policy.json", "data/[odd] name.yaml")
	check("after a project and two files")

	// Again, and overlapping: nothing is written twice, nothing fails.
	if err := os.WriteFile(filepath.Join(co.Dir, "svc/prod/main.tf"), []byte("changed by a run"), 0o644); err != nil {
		t.Fatal(err)
	}
	want["svc/prod/main.tf"] = "changed by a run"
	if err := co.Complete(ctx, []string{"svc/prod/", "./svc/prod/templates"}); err != nil {
		t.Fatal(err)
	}
	check("completing again")

	if err := co.Complete(ctx, []string{"."}); err != nil {
		t.Fatal(err)
	}
	maps.Copy(want, all)
	want["svc/prod/main.tf"] = "changed by a run"
	check("the whole tree")

	index := co.more.index
	if err := co.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{co.Dir, index} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s is left after Close: %v", p, err)
		}
	}
}

// A checkout of AllFiles has every file from the start; Complete is a no-op.
func TestCheckoutAllFilesNeedsNoCompleting(t *testing.T) {
	ctx := context.Background()
	up := newUpstream(t)
	all := map[string]string{"a/main.tf": "terraform {}", "a/data.json": "{}", "README.md": "docs"}
	sha := up.commit("tree", all)
	m, _ := newManager(t)
	fetchAll(t, m, up.repo(), sha)
	co, err := m.Checkout(ctx, up.repo(), sha, AllFiles)
	if err != nil {
		t.Fatal(err)
	}
	defer co.Close(ctx)
	if err := co.Complete(ctx, []string{"a"}); err != nil {
		t.Fatal(err)
	}
	if got := readTree(t, co.Dir); !maps.Equal(got, all) {
		t.Fatalf("checkout holds %v, want %v", got, all)
	}
	if _, err := os.Lstat(co.Dir + ".index"); !os.IsNotExist(err) {
		t.Errorf("the index of a full checkout is left beside it: %v", err)
	}
}

// A symlink brings what it points to inside the tree, as a full checkout
// has it: a Terraform file linking to a file of another name at the start,
// a linked dir when the link is completed, links to links. Links leaving
// the tree bring nothing.
func TestCheckoutTerraformFilesFollowsSymlinksInsideTheTree(t *testing.T) {
	ctx := context.Background()
	up := newUpstream(t)
	files := map[string]string{
		"shared/common.hcl":   "locals {}",
		"data/files/a.json":   "{}",
		"data/files/b/c.json": "{}",
		"data/other.json":     "{}",
		"svc/prod/main.tf":    "terraform {}",
	}
	for name, content := range files {
		p := filepath.Join(up.dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"svc/prod/shared.tf": "../../shared/common.hcl",
		"svc/prod/files":     "../../data/files",
		"svc/prod/chain":     "hop",
		"svc/prod/hop":       "../../data/other.json",
		"svc/prod/escape":    "/etc",
		"svc/prod/up":        "../../..",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(up.dir, filepath.FromSlash(name))); err != nil {
			t.Fatal(err)
		}
	}
	sha := up.commit("links", nil)
	m, _ := newManager(t)
	fetchAll(t, m, up.repo(), sha)
	co, err := m.Checkout(ctx, up.repo(), sha, TerraformFiles)
	if err != nil {
		t.Fatal(err)
	}
	defer co.Close(ctx)
	read := func(rel string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(co.Dir, filepath.FromSlash(rel)))
		if err != nil {
			return "missing"
		}
		return string(b)
	}
	if got := read("svc/prod/shared.tf"); got != "locals {}" {
		t.Errorf("a Terraform file linking to shared/common.hcl reads %q at the start", got)
	}
	if got := read("svc/prod/files/a.json"); got != "missing" {
		t.Errorf("a linked dir is there before it is asked for: %q", got)
	}
	if err := co.Complete(ctx, []string{"svc/prod"}); err != nil {
		t.Fatal(err)
	}
	for rel, want := range map[string]string{"svc/prod/files/a.json": "{}", "svc/prod/files/b/c.json": "{}", "svc/prod/chain": "{}"} {
		if got := read(rel); got != want {
			t.Errorf("%s reads %q after completing svc/prod, want %q", rel, got, want)
		}
	}
	for _, rel := range []string{"svc/prod/escape", "svc/prod/up"} {
		if _, err := os.Lstat(filepath.Join(co.Dir, rel)); err != nil {
			t.Errorf("the link %s itself is not checked out: %v", rel, err)
		}
	}
}
