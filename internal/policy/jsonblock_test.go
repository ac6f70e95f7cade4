package policy_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tfpr/tfpr/internal/policy"
)

// In .tf.json a nested block may be one object instead of a list of
// objects; HCL reads it as one block, and so must the policies, while a
// map attribute such as labels stays an attribute.
func TestJSONSingleObjectBlocks(t *testing.T) {
	const dir = "microservices/alpha/dev"
	root := t.TempDir()
	proj := filepath.Join(root, dir)
	os.MkdirAll(proj, 0o755)
	os.WriteFile(filepath.Join(proj, "main.tf"), []byte("terraform {\n  backend \"gcs\" {}\n}\n"), 0o644)
	os.WriteFile(filepath.Join(proj, "fw.tf.json"), []byte(`{
  "resource": {
    "google_compute_firewall": {
      "ssh": {
        "name": "ssh",
        "network": "default",
        "source_ranges": ["0.0.0.0/0"],
        "allow": {"protocol": "tcp", "ports": ["22"]}
      },
      "web": {
        "name": "web",
        "network": "default",
        "source_ranges": ["0.0.0.0/0"],
        "allow": {"protocol": "tcp", "ports": ["443"]}
      }
    },
    "google_storage_bucket": {
      "b": {
        "name": "b",
        "uniform_bucket_level_access": true,
        "labels": {"service": "alpha", "env": "dev", "owner": "team"}
      }
    }
  }
}
`), 0o644)
	got, err := newEngine(t).LintProject(context.Background(), root, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var fw []policy.Finding
	for _, f := range got {
		switch f.Rule {
		case "TFPR012":
			fw = append(fw, f)
		case "TFPR006", "TFPR008":
			t.Errorf("bucket with labels as a JSON object misread: %+v", f)
		}
	}
	if len(fw) != 1 || fw[0].Address != "google_compute_firewall.ssh" || fw[0].Message != "google_compute_firewall.ssh allows port 22 from the internet; restrict source_ranges or use IAP" {
		t.Errorf("want one TFPR012 finding for port 22 of ssh, got %+v", fw)
	}
}
