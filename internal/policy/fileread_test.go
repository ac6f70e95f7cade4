package policy_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tfpr/tfpr/internal/policy"
)

func TestFileReadsStayInTheRepository(t *testing.T) {
	const dir = "microservices/alpha/dev"
	tests := []struct {
		name, expr string
		deny       bool
	}{
		{"module file", `file("${path.module}/files/policy.json")`, false},
		{"relative literal", `file("files/policy.json")`, false},
		{"template in repo", `templatefile("${path.module}/files/t.tpl", { a = 1 })`, false},
		{"host environment", `file("/proc/self/environ")`, true},
		{"home dir", `file("~/.config/gcloud/credentials.db")`, true},
		{"escapes the repo", `file("../../../../etc/passwd")`, true},
		{"computed path", `file(var.key_path)`, true},
		{"computed in template", `file("${var.dir}/x")`, true},
		{"nested call", `base64encode(filebase64(join("", ["/pr", "oc/self/environ"])))`, true},
		{"symlinked file", `file("${path.module}/files/link")`, true},
		{"fileset in a module dir", `fileset("${path.module}/files", "*.json")`, false},
		{"fileset from bare path.module", `fileset(path.module, "files/*.json")`, false},
		{"fileset from bare path.root", `fileset(path.root, "files/*.json")`, false},
		{"fileset from bare path.module leaving", `fileset(path.module, "../../../../../*")`, true},
		{"fileset from another attribute", `fileset(path.other, "*.json")`, true},
	}
	e := newEngine(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			proj := filepath.Join(root, dir)
			os.MkdirAll(filepath.Join(proj, "files"), 0o755)
			os.WriteFile(filepath.Join(proj, "files", "policy.json"), []byte("{}"), 0o644)
			os.Symlink("/proc/self/environ", filepath.Join(proj, "files", "link"))
			src := "terraform {\n  backend \"gcs\" {}\n}\n\nvariable \"key_path\" {\n  type = string\n}\n\nvariable \"dir\" {\n  type = string\n}\n\noutput \"x\" {\n  value = " + tt.expr + "\n}\n"
			os.WriteFile(filepath.Join(proj, "main.tf"), []byte(src), 0o644)
			got, err := e.LintProject(context.Background(), root, dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			var f *policy.Finding
			for i := range got {
				if got[i].Rule == policy.RuleFileRead {
					f = &got[i]
				}
			}
			if tt.deny != (f != nil) {
				t.Fatalf("%s: file-read finding = %+v, want deny=%v (all: %+v)", tt.expr, f, tt.deny, got)
			}
			if f != nil && (f.Line != 14 || f.File != dir+"/main.tf" || f.Severity != policy.SeverityDeny) {
				t.Fatalf("finding at %s:%d (%s), want %s/main.tf:14 deny", f.File, f.Line, f.Severity, dir)
			}
		})
	}
	// An in-code ignore cannot lift it.
	root := t.TempDir()
	proj := filepath.Join(root, dir)
	os.MkdirAll(proj, 0o755)
	os.WriteFile(filepath.Join(proj, "main.tf"), []byte("terraform {\n  backend \"gcs\" {}\n}\n# tfpr:ignore file-read trust me\noutput \"x\" { value = file(\"/etc/hostname\") }\n"), 0o644)
	got, _ := e.LintProject(context.Background(), root, dir, nil)
	if !policy.Blocking(got) {
		t.Fatalf("tfpr:ignore lifted a file-read denial: %+v", got)
	}
	// JSON syntax: any file function in a template counts as not static.
	os.WriteFile(filepath.Join(proj, "main.tf"), []byte("terraform {\n  backend \"gcs\" {}\n}\n"), 0o644)
	os.WriteFile(filepath.Join(proj, "out.tf.json"), []byte(`{"output": {"x": {"value": "${file(\"/proc/self/environ\")}"}}}`), 0o644)
	got, _ = e.LintProject(context.Background(), root, dir, nil)
	found := false
	for _, f := range got {
		found = found || (f.Rule == policy.RuleFileRead && strings.HasSuffix(f.File, "out.tf.json"))
	}
	if !found {
		t.Fatalf("file() in a .tf.json template not caught: %+v", got)
	}
}

// The fix a finding suggests is itself a call that passes.
func TestFileReadHintIsAValidCall(t *testing.T) {
	const dir = "microservices/alpha/dev"
	root := t.TempDir()
	proj := filepath.Join(root, dir)
	os.MkdirAll(proj, 0o755)
	os.WriteFile(filepath.Join(proj, "main.tf"), []byte("terraform {\n  backend \"gcs\" {}\n}\n\nvariable \"d\" {\n  type = string\n}\n\noutput \"x\" {\n  value = fileset(var.d, \"*.json\")\n}\n"), 0o644)
	got, err := newEngine(t).LintProject(context.Background(), root, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var msg string
	for _, f := range got {
		if f.Rule == policy.RuleFileRead {
			msg = f.Message
		}
	}
	const hint = `fileset("${path.module}/files", "*.json")`
	if !strings.HasSuffix(msg, hint) {
		t.Fatalf("message %q does not end in %s", msg, hint)
	}
	os.WriteFile(filepath.Join(proj, "main.tf"), []byte("terraform {\n  backend \"gcs\" {}\n}\n\noutput \"x\" {\n  value = "+hint+"\n}\n"), 0o644)
	got, _ = newEngine(t).LintProject(context.Background(), root, dir, nil)
	for _, f := range got {
		if f.Rule == policy.RuleFileRead {
			t.Errorf("the suggested call is denied: %+v", f)
		}
	}
}
