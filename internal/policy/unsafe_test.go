package policy_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tfpr/tfpr/internal/policy"
)

func TestUnsafePathsDenyBeforeTerraform(t *testing.T) {
	const dir = "microservices/alpha/dev"
	tests := []struct {
		name  string
		setup func(t *testing.T, proj string)
		file  string
	}{
		{"plugin dir", func(t *testing.T, proj string) {
			p := filepath.Join(proj, "terraform.d/plugins/registry.terraform.io/hashicorp/google/9.9.9/linux_amd64")
			os.MkdirAll(p, 0o755)
			os.WriteFile(filepath.Join(p, "terraform-provider-google_v9.9.9"), []byte("#!/bin/sh\nenv\n"), 0o755)
		}, dir + "/terraform.d"},
		{"committed .terraform", func(t *testing.T, proj string) {
			os.MkdirAll(filepath.Join(proj, ".terraform/modules"), 0o755)
		}, dir + "/.terraform"},
		{"symlinked plan path", func(t *testing.T, proj string) {
			os.Symlink("/tmp/elsewhere", filepath.Join(proj, "tfpr.tfplan"))
		}, dir + "/tfpr.tfplan"},
		{"symlinked lock file", func(t *testing.T, proj string) {
			os.Symlink("../../../../x", filepath.Join(proj, ".terraform.lock.hcl"))
		}, dir + "/.terraform.lock.hcl"},
		{"lock file linked inside the repository", func(t *testing.T, proj string) {
			os.WriteFile(filepath.Join(proj, "lock"), nil, 0o644)
			os.Symlink("lock", filepath.Join(proj, ".terraform.lock.hcl"))
		}, dir + "/.terraform.lock.hcl"},
		{"tfvars leaving the repository", func(t *testing.T, proj string) {
			os.Symlink("/etc/hostname", filepath.Join(proj, "prod.tfvars"))
		}, dir + "/prod.tfvars"},
	}
	e := newEngine(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			proj := filepath.Join(root, dir)
			os.MkdirAll(proj, 0o755)
			os.WriteFile(filepath.Join(proj, "main.tf"), []byte("terraform {\n  backend \"gcs\" {}\n}\n"), 0o644)
			tt.setup(t, proj)
			got, err := e.LintProject(context.Background(), root, dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !policy.Blocking(got) {
				t.Fatalf("%s did not block: %+v", tt.name, got)
			}
			var found bool
			for _, f := range got {
				if f.Rule == policy.RuleUnsafePath && f.File == tt.file {
					found = true
				}
			}
			if !found {
				t.Fatalf("no %s finding for %s: %+v", policy.RuleUnsafePath, tt.file, got)
			}
		})
	}
}

// Symlinks to files of the checkout that terraform never writes through,
// as monorepos share tfvars between environments, are not denied.
func TestSymlinksInsideTheRepositoryPass(t *testing.T) {
	const dir = "microservices/alpha/dev"
	root := t.TempDir()
	proj := filepath.Join(root, dir)
	os.MkdirAll(filepath.Join(root, "shared"), 0o755)
	os.MkdirAll(proj, 0o755)
	os.WriteFile(filepath.Join(proj, "main.tf"), []byte("terraform {\n  backend \"gcs\" {}\n}\n"), 0o644)
	os.WriteFile(filepath.Join(root, "shared/common.tfvars"), []byte("x = 1\n"), 0o644)
	os.Symlink("../../../shared/common.tfvars", filepath.Join(proj, "common.tfvars"))
	os.Symlink("../../../shared", filepath.Join(proj, "shared"))
	got, err := newEngine(t).LintProject(context.Background(), root, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range got {
		if f.Rule == policy.RuleUnsafePath {
			t.Errorf("symlink inside the repository denied: %+v", f)
		}
	}
}

// An override file is denied at its first block, past a license header,
// where a reviewer sees what it overrides.
func TestOverrideFileDeniedAtItsFirstBlock(t *testing.T) {
	const dir = "microservices/alpha/dev"
	root := t.TempDir()
	proj := filepath.Join(root, dir)
	os.MkdirAll(proj, 0o755)
	os.WriteFile(filepath.Join(proj, "main.tf"), []byte("terraform {\n  backend \"gcs\" {}\n}\n"), 0o644)
	os.WriteFile(filepath.Join(proj, "providers_override.tf"), []byte("/**\n * Copyright\n */\n\n# why\n// more\nterraform {\n  required_providers {}\n}\n"), 0o644)
	got, err := newEngine(t).LintProject(context.Background(), root, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range got {
		if f.Rule == policy.RuleUnsafePath && f.File == dir+"/providers_override.tf" {
			if f.Line != 7 {
				t.Errorf("override denied at line %d, want 7 (its terraform block)", f.Line)
			}
			return
		}
	}
	t.Fatalf("override file not denied: %+v", got)
}
