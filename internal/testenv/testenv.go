// Package testenv provides fixtures shared by tfpr's tests: a real
// terraform-compatible binary and an in-process GCS server that terraform's
// gcs backend and cloud.google.com/go/storage can both talk to.
package testenv

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"
)

// Terraform returns the terraform-compatible binary tests run: the
// TFPR_TERRAFORM_BIN environment variable, else terraform on PATH, else tofu
// on PATH, else the OpenTofu build cached by scripts/tools.sh. It fails the
// test when there is none.
func Terraform(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv("TFPR_TERRAFORM_BIN"); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("TFPR_TERRAFORM_BIN=%s: %v", bin, err)
		}
		return bin
	}
	for _, name := range []string{"terraform", "tofu"} {
		if bin, err := exec.LookPath(name); err == nil {
			return bin
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		bin := filepath.Join(home, ".cache", "tfpr", "bin", "tofu")
		if fi, err := os.Stat(bin); err == nil && !fi.IsDir() {
			return bin
		}
	}
	t.Fatal("no terraform: run `make tools`")
	return ""
}

// GCS is an in-process fake GCS server listening on 127.0.0.1.
type GCS struct {
	Server *fakestorage.Server
	// URL is the server's base URL, e.g. http://127.0.0.1:41234.
	URL string
	// Bucket exists from the start.
	Bucket string

	home string
}

// FakeGCS starts a fake GCS server with bucket created. It stops when the
// test ends.
func FakeGCS(t testing.TB, bucket string) *GCS {
	t.Helper()
	// The listener is opened first because the server must know its own
	// host:port up front: the storage client downloads objects from
	// <endpoint host>/<bucket>/<object>, a route fakestorage only serves
	// for PublicHost. With the default PublicHost (storage.googleapis.com)
	// terraform gets 404 for its state and silently starts from empty.
	// fakestorage's own listener cannot do this for a random port, so it
	// runs without one and the handler is served here.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("fake gcs: listen: %v", err)
	}
	host := l.Addr().String()
	url := "http://" + host
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		Scheme:     "http",
		Host:       "127.0.0.1",
		NoListener: true,
		PublicHost: host,
		// Used for selfLink, mediaLink and resumable upload locations.
		ExternalURL: url,
		Writer:      io.Discard,
	})
	if err != nil {
		l.Close()
		t.Fatalf("fake gcs: start: %v", err)
	}
	hs := &http.Server{Handler: srv.HTTPHandler(), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("fake gcs: serve: %v", err)
		}
		srv.Stop()
	})
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: bucket})
	return &GCS{Server: srv, URL: url, Bucket: bucket, home: t.TempDir()}
}

// TerraformEnv is a complete environment for terraform that points its gcs
// backend at the server. HOME is a fresh directory, so no user CLI config or
// credentials leak in.
func (g *GCS) TerraformEnv() map[string]string {
	return map[string]string{
		// The gcs backend hands this to option.WithEndpoint; the storage
		// client wants the JSON API base, path and trailing slash included.
		"GOOGLE_BACKEND_STORAGE_CUSTOM_ENDPOINT": g.URL + "/storage/v1/",
		// Any non-empty token satisfies the backend; the fake server does
		// not check it.
		"GOOGLE_OAUTH_ACCESS_TOKEN": "fake",
		"HOME":                      g.home,
		"PATH":                      "/usr/local/bin:/usr/bin:/bin",
		"CHECKPOINT_DISABLE":        "1",
	}
}

// ClientEnv is the environment cloud.google.com/go/storage needs to use the
// server instead of Google.
func (g *GCS) ClientEnv() map[string]string {
	return map[string]string{"STORAGE_EMULATOR_HOST": strings.TrimPrefix(g.URL, "http://")}
}

// Object returns the content of object name in the bucket, or nil when it
// does not exist.
func (g *GCS) Object(t testing.TB, name string) []byte {
	t.Helper()
	obj, err := g.Server.GetObject(g.Bucket, name)
	if err != nil {
		// fakestorage reports a missing object as an error without a
		// typed sentinel; a missing bucket would be a broken fixture.
		if _, berr := g.Server.Backend().GetBucket(g.Bucket); berr != nil {
			t.Fatalf("fake gcs: bucket %s: %v", g.Bucket, berr)
		}
		return nil
	}
	if obj.Content == nil {
		return []byte{}
	}
	return obj.Content
}
