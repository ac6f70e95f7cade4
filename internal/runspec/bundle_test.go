package runspec

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tfpr/tfpr/internal/terraform"
)

func writeFile(t *testing.T, root, rel, body string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func applySpec(plan []byte) Spec {
	return Spec{RunID: 3, Stage: Apply, Project: "microservices/alpha/dev", Bucket: "b", Budget: time.Minute, PlanSHA256: SHA256(plan)}
}

func withTerraform(s Spec, b terraform.Binary) Spec {
	s.Terraform = &b
	return s
}

func TestBundleRoundTrip(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "microservices/alpha/dev/main.tf", "# alpha")
	writeFile(t, root, "modules/net/main.tf", "# net")
	writeFile(t, root, "microservices/beta/dev/main.tf", "# beta: not carried")
	writeFile(t, root, "microservices/alpha/dev/.terraform/junk", "never carried")
	plan := []byte("saved plan")
	tf := terraform.Binary{Path: "/usr/local/bin/terraform", Size: 90 << 20, ModTime: 1764979200123456789, Version: "1.9.8"}
	var buf bytes.Buffer
	if err := WriteBundle(&buf, withTerraform(applySpec(plan), tf), root, []string{"microservices/alpha/dev", "modules/net"}, plan); err != nil {
		t.Fatal(err)
	}
	u, err := ReadBundle(&buf, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if u.Spec.Terraform == nil || *u.Spec.Terraform != tf {
		t.Errorf("terraform executable in the spec: %+v, want %+v", u.Spec.Terraform, tf)
	}
	if b, _ := os.ReadFile(filepath.Join(u.ProjectDir(), "main.tf")); string(b) != "# alpha" {
		t.Fatalf("project file: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(u.Tree, "modules/net/main.tf")); string(b) != "# net" {
		t.Fatalf("module file: %q", b)
	}
	for _, absent := range []string{"microservices/beta", "microservices/alpha/dev/.terraform"} {
		if _, err := os.Stat(filepath.Join(u.Tree, absent)); err == nil {
			t.Errorf("%s was carried", absent)
		}
	}
	if b, _ := os.ReadFile(u.PlanFile); string(b) != "saved plan" {
		t.Fatalf("plan file: %q", b)
	}
}

// rawBundle builds a tar by hand, as a hostile or broken peer could.
func rawBundle(t *testing.T, spec Spec, entries map[string]string, plan []byte) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, data []byte) {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data))})
		tw.Write(data)
	}
	sj, _ := jsonMarshal(spec)
	add(specName, sj)
	add("tree/microservices/alpha/dev/main.tf", []byte("#"))
	for n, d := range entries {
		add(n, []byte(d))
	}
	if plan != nil {
		add(planName, plan)
	}
	tw.Close()
	return &buf
}

func TestReadBundleRefuses(t *testing.T) {
	plan := []byte("saved plan")
	for name, c := range map[string]struct {
		spec    Spec
		entries map[string]string
		plan    []byte
		want    string
	}{
		"escape":          {applySpec(plan), map[string]string{"tree/../../etc/x": "x"}, plan, "leaves its root"},
		"absolute":        {applySpec(plan), map[string]string{"tree//etc/x": "x"}, plan, "is absolute"},
		"unknown entry":   {applySpec(plan), map[string]string{"other": "x"}, plan, "unexpected"},
		"plan hash":       {applySpec([]byte("the reviewed plan")), nil, plan, "hashes to"},
		"plan missing":    {applySpec(plan), nil, nil, "no plan file"},
		"plan for a plan": {Spec{RunID: 3, Stage: Plan, Project: "microservices/alpha/dev", Bucket: "b", Budget: time.Minute}, nil, plan, "not an apply"},
		"relative terraform": {withTerraform(applySpec(plan), terraform.Binary{Path: "bin/terraform", Version: "1.9.0"}), nil, plan,
			"want an absolute path and a version"},
		"terraform without version": {withTerraform(applySpec(plan), terraform.Binary{Path: "/usr/bin/terraform"}), nil, plan,
			"want an absolute path and a version"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ReadBundle(rawBundle(t, c.spec, c.entries, c.plan), t.TempDir())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("ReadBundle: %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func TestWriteBundleRefusesMismatchedPlan(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "microservices/alpha/dev/main.tf", "#")
	err := WriteBundle(&bytes.Buffer{}, applySpec([]byte("reviewed")), root, []string{"microservices/alpha/dev"}, []byte("other"))
	if err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("WriteBundle: %v", err)
	}
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
