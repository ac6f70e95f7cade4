package planfile

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/tfpr/tfpr/internal/gcs"

	"github.com/tfpr/tfpr/internal/testenv"
)

func roundTrip(t *testing.T, s Store) {
	t.Helper()
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "in.tfplan")
	content := []byte("plan bytes with a secret: hunter2")
	os.WriteFile(src, content, 0o600)
	hash, err := s.Put(ctx, "acme/repo/pr-1/alpha/abc.tfplan", src)
	if err != nil {
		t.Fatal(err)
	}
	if len(hash) != 64 {
		t.Fatalf("hash = %q", hash)
	}
	dst := filepath.Join(t.TempDir(), "out.tfplan")
	if err := s.Get(ctx, "acme/repo/pr-1/alpha/abc.tfplan", dst); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(dst)
	if !bytes.Equal(got, content) {
		t.Fatalf("round trip changed the plan: %q", got)
	}
	if fi, _ := os.Stat(dst); fi.Mode().Perm() != 0o600 {
		t.Fatalf("fetched plan mode %v, want 0600", fi.Mode().Perm())
	}
	if err := s.Delete(ctx, "acme/repo/pr-1/alpha/abc.tfplan"); err != nil {
		t.Fatal(err)
	}
	if err := s.Get(ctx, "acme/repo/pr-1/alpha/abc.tfplan", dst); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, "acme/repo/pr-1/alpha/abc.tfplan"); err != nil {
		t.Fatalf("deleting twice: %v", err)
	}
	for _, bad := range []string{"", "/etc/passwd", "../x", "a/../../x"} {
		if _, err := s.Put(ctx, bad, src); err == nil {
			t.Errorf("key %q accepted", bad)
		}
	}
}

func TestLocal(t *testing.T) {
	dir := t.TempDir()
	roundTrip(t, Local{Dir: dir})
	src := filepath.Join(t.TempDir(), "p")
	os.WriteFile(src, []byte("x"), 0o644)
	Local{Dir: dir}.Put(context.Background(), "k/p.tfplan", src)
	if fi, err := os.Stat(filepath.Join(dir, "k", "p.tfplan")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("stored plan: %v %v, want mode 0600", fi, err)
	}
}

func TestGCS(t *testing.T) {
	g := testenv.FakeGCS(t, "plans")
	// A customer-supplied key travels with every request.
	roundTrip(t, GCS{Client: mustClient(t, g), Bucket: "plans", Prefix: "enc", Key: make([]byte, 32)})
	client, err := gcs.New(context.Background(), func(k string) string { return g.ClientEnv()[k] })
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, GCS{Client: client, Bucket: "plans", Prefix: "tfpr"})
	src := filepath.Join(t.TempDir(), "p")
	os.WriteFile(src, []byte("x"), 0o600)
	if _, err := (GCS{Client: client, Bucket: "plans", Prefix: "tfpr"}).Put(context.Background(), "a/b.tfplan", src); err != nil {
		t.Fatal(err)
	}
	if g.Object(t, "tfpr/a/b.tfplan") == nil {
		t.Fatal("plan not stored under the prefix")
	}
}

func mustClient(t *testing.T, g *testenv.GCS) *gcs.Client {
	t.Helper()
	c, err := gcs.New(context.Background(), func(k string) string { return g.ClientEnv()[k] })
	if err != nil {
		t.Fatal(err)
	}
	return c
}
