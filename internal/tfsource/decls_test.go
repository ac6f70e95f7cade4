package tfsource

import (
	"slices"
	"strings"
	"testing"
)

func TestScanDecls(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		backend bool
		sources []string
		ok      bool
	}{
		{"module calls and a backend",
			"terraform {\n  required_version = \">= 1.5\"\n  backend \"gcs\" {\n    bucket = \"b\"\n  }\n}\n\nmodule \"a\" {\n  source = \"./a\" # local\n  x      = { source = \"./not-a-call\" }\n}\nmodule \"b\" {\n  for_each = var.m\n  source   = \"../b\"\n}\n",
			true, []string{"./a", "../b"}, true},
		{"registry module, CRLF line ends", "module \"r\" {\r\n  source  = \"acme/x/google\"\r\n  version = \"1.0\"\r\n}\r\n", false, []string{"acme/x/google"}, true},
		{"module text in a heredoc, a string and a comment",
			"locals {\n  doc = <<-EOT\nmodule \"x\" {\n  source = \"./heredoc\"\n}\nEOT\n  s = \"module \\\"y\\\" {\"\n}\n# module \"z\" {\n/* terraform {\n  backend \"s3\" {}\n} */\n",
			false, nil, true},
		{"backend with two labels is none", "terraform {\n  backend \"gcs\" \"extra\" {}\n}\n", false, nil, true},
		{"nested block named module", "resource \"x\" \"y\" {\n  module \"m\" {\n    source = \"./nested\"\n  }\n}\n", false, nil, true},
		{"templated source is no call", "module \"d\" {\n  source = \"${path.module}/d\"\n}\n", false, nil, true},
		{"JSON-like spacing", "module \"a\"{\n  source=\"./a\"\n}\n", false, []string{"./a"}, true},
		{"one-line module block", "module \"a\" { source = \"./a\" }\n", false, nil, false},
		{"one-line terraform block", "terraform { backend \"gcs\" {} }\n", false, nil, false},
		{"escaped source", "module \"a\" {\n  source = \"\\u002e/a\"\n}\n", false, nil, false},
		{"source from an expression", "module \"a\" {\n  source = local.s\n}\n", false, nil, false},
		{"source with more after it", "module \"a\" {\n  source = \"./a\" + \"b\"\n}\n", false, nil, false},
	}
	for _, tt := range tests {
		d, ok := ScanDecls([]byte(tt.src))
		if ok != tt.ok {
			t.Errorf("%s: ok = %v, want %v", tt.name, ok, tt.ok)
			continue
		}
		if ok && (d.Backend != tt.backend || !slices.Equal(d.Sources, tt.sources)) {
			t.Errorf("%s: got backend %v, sources %q; want %v, %q", tt.name, d.Backend, d.Sources, tt.backend, tt.sources)
		}
	}
}

func TestScanJSONDecls(t *testing.T) {
	d, ok := ScanJSONDecls([]byte(`{"terraform": [{"backend": {"gcs": {}}}], "module": {"b": {"source": "../b"}, "a": [{"source": "./a"}]}}`))
	if !ok || !d.Backend || !slices.Equal(d.Sources, []string{"./a", "../b"}) {
		t.Errorf("got %+v, %v; want a backend and ./a, ../b", d, ok)
	}
	if _, ok := ScanJSONDecls([]byte(`[1, 2]`)); ok {
		t.Error("a JSON array was scanned as a configuration")
	}
}

func TestScanDeclsRefusesDeepNesting(t *testing.T) {
	src := "locals {\n  x = " + strings.Repeat("[", MaxNesting+1) + "\n}\n"
	if _, ok := ScanDecls([]byte(src)); ok {
		t.Error("nesting past MaxNesting was scanned")
	}
}
