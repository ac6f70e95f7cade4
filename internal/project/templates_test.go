package project

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// templateLayout reads files from inside templates rendered by
// templatefile(), whose paths terraform resolves as in the calling module.
var templateLayout = map[string]string{
	"microservices/p/dev/main.tf": backendGCS + `
locals {
  x = templatefile("${path.module}/t.tpl", {})
}
`,
	"microservices/p/dev/t.tpl": `cfg = ${file("${path.module}/../../../shared/x.json")}`,
	// A module's template: ${path.module} inside it is the module dir, a
	// bare path the running project's dir; templates render templates.
	"microservices/q/dev/main.tf": backendGCS + `
module "m" {
  source = "../../../modules/m"
}
`,
	"modules/m/main.tf": `
locals {
  y = templatefile("${path.module}/outer.tpl", {})
}
`,
	"modules/m/outer.tpl": `%{ if true }${templatefile("${path.module}/inner.tpl", {})}%{ endif }
${file("files/local.txt")}`,
	"modules/m/inner.tpl": `${filemd5("${path.module}/../../shared/inner.txt")}
${templatefile("${path.module}/inner.tpl", {})}`,
	"shared/x.json": "{}",
}

func TestFilesReadByTemplatesAffectTheProjectRenderingThem(t *testing.T) {
	g, _ := scanLayout(t, templateLayout)
	tests := []struct {
		changed string
		want    []string
	}{
		{"shared/x.json", []string{"microservices/p/dev"}},
		{"microservices/p/dev/t.tpl", []string{"microservices/p/dev"}},
		{"shared/inner.txt", []string{"microservices/q/dev"}},
		{"microservices/q/dev/files/local.txt", []string{"microservices/q/dev"}},
		{"shared/unrelated.json", nil},
	}
	for _, tt := range tests {
		got := g.Affected([]string{tt.changed})
		if !slices.Equal(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
			t.Errorf("Affected(%s) = %v, want %v", tt.changed, got, tt.want)
		}
	}
}

// TestHostileTemplatesDoNotStopScan: templates that are a FIFO, /dev/zero,
// nested past the parser's stack or rendering themselves add no reads, and
// Scan returns.
func TestHostileTemplatesDoNotStopScan(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"p/main.tf": backendGCS + `
locals {
  a = templatefile("fifo.tpl", {})
  b = templatefile("zero.tpl", {})
  c = templatefile("deep.tpl", {})
  d = templatefile("self.tpl", {})
  e = templatefile("missing.tpl", {})
}
`,
		"p/deep.tpl": "${" + strings.Repeat("[", 800_000) + "}",
		"p/self.tpl": `${templatefile("self.tpl", {})}${file("../shared/s.txt")}`,
	})
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(root, "p", "fifo.tpl"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(root, "p", "zero.tpl")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	g, err := Scan(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Affected([]string{"shared/s.txt"}); !slices.Equal(got, []string{"p"}) {
		t.Errorf("a file read by a self-rendering template: Affected = %v, want [p]", got)
	}
	if got := g.Affected([]string{"elsewhere/x.txt"}); len(got) != 0 {
		t.Errorf("hostile templates must not make the project read everything: %v", got)
	}
}

func TestTooManyTemplatesCountAsReadingEverything(t *testing.T) {
	body := backendGCS + "locals {\n"
	for i := range maxTemplatesPerProject + 1 {
		body += "  t" + strconv.Itoa(i) + " = templatefile(\"t" + strconv.Itoa(i) + ".tpl\", {})\n"
	}
	body += "}\n"
	g, _ := scanLayout(t, map[string]string{"big/main.tf": body})
	if got := g.Affected([]string{"anything/at/all.txt"}); !slices.Equal(got, []string{"big"}) {
		t.Fatalf("a project over the template cap must be planned for any change: %v", got)
	}
}
