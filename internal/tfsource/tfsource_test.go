package tfsource

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestKindOf(t *testing.T) {
	for name, want := range map[string]Kind{
		"main.tf": Native, "x.tf.json": JSON, "override.tf": Override, "zz_override.tf": Override,
		"a_override.tf.json": Override, "main.tofu": Tofu, "main.tofu.json": Tofu,
		".hidden.tf": Ignored, "main.tf~": Ignored, "#main.tf#": Ignored, "t.tpl": Ignored, "my-override.tf": Native,
	} {
		if got := KindOf(name); got != want {
			t.Errorf("KindOf(%q) = %d, want %d", name, got, want)
		}
	}
}

func TestReadFileRefusesWhatIsNotARegularFileInTheRoot(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ok.tf"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "big.tf"), make([]byte, 11), 0o644)
	syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o644)
	os.Symlink("pipe", filepath.Join(dir, "pipe.tf"))
	os.Symlink("/dev/zero", filepath.Join(dir, "zero.tf"))
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if b, err := ReadFile(root, "ok.tf", 10); err != nil || string(b) != "x" {
		t.Errorf("ok.tf: %q, %v", b, err)
	}
	if _, err := ReadFile(root, "big.tf", 10); !errors.Is(err, ErrTooLarge) {
		t.Errorf("big.tf: %v, want ErrTooLarge", err)
	}
	if _, err := ReadFile(root, "pipe.tf", 10); !errors.Is(err, ErrNotRegular) {
		t.Errorf("symlink to a FIFO: %v, want ErrNotRegular (and no wait for a writer)", err)
	}
	if _, err := ReadFile(root, "zero.tf", 10); err == nil {
		t.Error("a symlink out of the root was read")
	}
}

func TestCheckNesting(t *testing.T) {
	deep := strings.Repeat("[", MaxNesting+1)
	tests := []struct {
		name   string
		src    string
		syntax Syntax
		line   int // 0: accepted
	}{
		{"ordinary config", "resource \"a\" \"b\" {\n  x = [for v in var.l : { k = v }]\n  y = \"${upper(\"a\")}\"\n}\n", Config, 0},
		{"brackets in a string", "x = \"" + deep + "\"\n", Config, 0},
		{"brackets in comments", "# " + deep + "\n// " + deep + "\n/* " + deep + " */\n", Config, 0},
		{"brackets in a heredoc", "x = <<-EOT\n  " + deep + "\n  EOT\ny = 1\n", Config, 0},
		{"escaped interpolation", "x = \"$${" + deep + "\"\n", Config, 0},
		{"many items, each shallow", "x = [" + strings.Repeat("-1, !true, a ? b : c,\n", 1000) + "]\n", Config, 0},
		{"many attributes", strings.Repeat("x = -1\n", 1000), Config, 0},
		{"deep brackets", "x = 1\ny = " + deep + "\n", Config, 2},
		{"deep in an interpolation", "x = \"${" + deep + "}\"\n", Config, 1},
		{"deep in a heredoc's interpolation", "x = <<EOT\nok\n${" + deep + "}\nEOT\n", Config, 3},
		{"chained negation", "x = " + strings.Repeat("!", MaxNesting+1) + "true\n", Config, 1},
		{"chained conditionals", "x = (\n" + strings.Repeat("a ? b :\n", MaxNesting+1) + "c)\n", Config, MaxNesting},
		{"template", "a\n%{ if x }${" + deep, Template, 2},
		{"brackets in template text", "a\n" + deep, Template, 0},
		{"nested directives", strings.Repeat("%{ if x }", MaxNesting+1), Template, 1},
		{"closed directives", strings.Repeat("%{ if x }y%{ endif }", 1000), Template, 0},
		{"JSON", "{\"a\":\n" + deep, JSONSyntax, 2},
		{"JSON brackets in strings", "{\"a\": \"" + deep + "\"}", JSONSyntax, 0},
	}
	for _, tt := range tests {
		ne := CheckNesting([]byte(tt.src), tt.syntax)
		switch {
		case tt.line == 0 && ne != nil:
			t.Errorf("%s: refused: %v", tt.name, ne)
		case tt.line != 0 && (ne == nil || ne.Line != tt.line):
			t.Errorf("%s: got %v, want refusal at line %d", tt.name, ne, tt.line)
		}
	}
}
