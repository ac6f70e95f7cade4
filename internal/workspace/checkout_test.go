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

// A tree holding a symlink is checked out whole: what a link needs cannot
// be told from paths (a link can run through a linked dir, ".." after a
// link climbs from its target), and a full checkout reads links as the
// policies and terraform do.
func TestCheckoutTerraformFilesOfATreeWithASymlinkIsWhole(t *testing.T) {
	ctx := context.Background()
	up := newUpstream(t)
	files := map[string]string{
		"a/evil.hcl":       "module \"m\" {\n  source = \"../evil\"\n}\n",
		"evil/main.tf":     "resource \"terraform_data\" \"x\" {}",
		"p/backend.tf":     "terraform {}",
		"docs/README.md":   "docs",
		"data/config.json": "{}",
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
	// p/x.tf reaches a/evil.hcl only through the linked dir p/sub.
	for name, target := range map[string]string{"p/x.tf": "sub/evil.hcl", "p/sub": "../a"} {
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
	want := maps.Clone(files)
	want["p/x.tf"] = files["a/evil.hcl"] // read through both links
	for rel, content := range want {
		if b, err := os.ReadFile(filepath.Join(co.Dir, filepath.FromSlash(rel))); err != nil || string(b) != content {
			t.Errorf("%s reads %q, %v; want %q as in the whole tree", rel, b, err, content)
		}
	}
	if err := co.Complete(ctx, []string{"p"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(co.Dir + ".index"); !os.IsNotExist(err) {
		t.Errorf("the index of a whole checkout is left beside it: %v", err)
	}
}
