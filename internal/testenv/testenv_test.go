package testenv_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"cloud.google.com/go/storage"

	"github.com/tfpr/tfpr/internal/testenv"
)

// TestFakeGCSWithStorageClient drives the server through the real GCS client
// configured only by ClientEnv, the way tfpr's own code will reach it. Not
// parallel: ClientEnv is applied to the process environment.
func TestFakeGCSWithStorageClient(t *testing.T) {
	g := testenv.FakeGCS(t, "tfpr-testenv")
	for k, v := range g.ClientEnv() {
		t.Setenv(k, v)
	}
	ctx := t.Context()
	client, err := storage.NewClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	if got := g.Object(t, "state/default.tfstate"); got != nil {
		t.Fatalf("Object of a missing object = %q, want nil", got)
	}
	w := client.Bucket(g.Bucket).Object("state/default.tfstate").NewWriter(ctx)
	if _, err := io.WriteString(w, `{"version":4}`); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("upload: %v", err)
	}
	if got := string(g.Object(t, "state/default.tfstate")); got != `{"version":4}` {
		t.Errorf("Object = %q after upload", got)
	}

	// Downloads go to <host>/<bucket>/<object>, which only works when the
	// server knows its own address.
	r, err := client.Bucket(g.Bucket).Object("state/default.tfstate").NewReader(ctx)
	if err != nil {
		t.Fatalf("download: %v", err)
	}
	body, err := io.ReadAll(r)
	r.Close()
	if err != nil || string(body) != `{"version":4}` {
		t.Errorf("download = %q, %v", body, err)
	}

	// Links in JSON API responses must lead back to this server.
	resp, err := http.Get(g.URL + "/storage/v1/b/" + g.Bucket + "/o/state%2Fdefault.tfstate")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var meta struct{ SelfLink, MediaLink string }
	if err := json.NewDecoder(resp.Body).Decode(&meta); err != nil {
		t.Fatal(err)
	}
	for name, link := range map[string]string{"selfLink": meta.SelfLink, "mediaLink": meta.MediaLink} {
		if !strings.HasPrefix(link, g.URL+"/") {
			t.Errorf("%s = %q, want it under %s", name, link, g.URL)
		}
	}
}

func TestTerraformEnvIsSelfContained(t *testing.T) {
	t.Parallel()
	g := testenv.FakeGCS(t, "tfpr-env")
	env := g.TerraformEnv()
	if got, want := env["GOOGLE_BACKEND_STORAGE_CUSTOM_ENDPOINT"], g.URL+"/storage/v1/"; got != want {
		t.Errorf("endpoint = %q, want %q", got, want)
	}
	home := env["HOME"]
	if home == "" || home == os.Getenv("HOME") {
		t.Errorf("HOME = %q, want a directory of the test's own", home)
	}
	if fi, err := os.Stat(home); err != nil || !fi.IsDir() {
		t.Errorf("HOME %s: %v", home, err)
	}
	// The environment alone must be enough to run terraform.
	cmd := exec.Command(testenv.Terraform(t), "version")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("terraform version with TerraformEnv: %v\n%s", err, out)
	}
}
