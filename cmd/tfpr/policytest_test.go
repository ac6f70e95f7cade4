package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPolicyTest(t *testing.T) {
	failing := t.TempDir()
	files := map[string]string{
		"p.rego": "# METADATA\n# title: p\n# custom:\n#   id: P1\n#   severity: deny\npackage tfpr.hcl.p\n\ndeny contains \"x\" if input.x\n",
		"p_test.rego": "package tfpr.hcl.p_test\n\nimport data.tfpr.hcl.p\n\n" +
			"test_denies if {\n  count(p.deny) == 1 with input as {\"x\": true}\n}\n\n" +
			"test_wrong if {\n  count(p.deny) == 1 with input as {\"x\": false}\n}\n",
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(failing, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{name: "built-in policies", code: 0, want: []string{"PASS  tfpr.hcl.external_data_test.test_external_data_denied", " passed, 0 failed"}},
		{name: "failing test", args: []string{failing}, code: 1, want: []string{"PASS  tfpr.hcl.p_test.test_denies", "FAIL  tfpr.hcl.p_test.test_wrong (p_test.rego:9)", "1 passed, 1 failed"}},
		{name: "run filter", args: []string{"--run", "test_denies", failing}, code: 0, want: []string{"1 passed, 0 failed"}},
		{name: "two dirs", args: []string{"a", "b"}, code: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := runPolicyTest(context.Background(), tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stdout:\n%s\nstderr:\n%s", code, tc.code, stdout.String(), stderr.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, stdout.String())
				}
			}
		})
	}
}
