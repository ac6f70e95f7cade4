package runner

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tfpr/tfpr/internal/runspec"
	"github.com/tfpr/tfpr/internal/terraform"
)

// A worker run carries the files the gate's scan found, not a second
// reading of the checkout, and a run whose files are not known is refused.
func TestWorkerRunsGetTheGatesInputs(t *testing.T) {
	w := &Workers{}
	if _, err := w.Terraform("acme/infra", "svc/prod", ModePlan, nil); err == nil {
		t.Fatal("a run without its inputs was accepted")
	}
	root := t.TempDir()
	dir := filepath.Join(root, "svc", "prod")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Nothing on disk says what the project reads: a second scan would
	// find nothing but the gate's list is what counts.
	inputs := []string{"svc/prod", "modules/m", "shared/x.json"}
	tf, err := w.Terraform("acme/infra", "svc/prod", ModePlan, inputs)
	if err != nil {
		t.Fatal(err)
	}
	inputs[1] = "changed/after/the/call"
	req, err := tf.(*workerTerraform).request(context.Background(), dir, terraform.Backend{Bucket: "b", Prefix: "p"}, runspec.Plan)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"svc/prod", "modules/m", "shared/x.json"}; !slices.Equal(req.Paths, want) || req.Root != root {
		t.Errorf("request carries %v under %s, want %v under %s", req.Paths, req.Root, want, root)
	}
}
