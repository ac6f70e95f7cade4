package executor

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/tfpr/tfpr/internal/testenv"
)

func TestParseBinds(t *testing.T) {
	got, err := ParseBinds("/opt/mirror, /etc/pki/ca.pem:ro,/var/cache/x:rw")
	if err != nil {
		t.Fatal(err)
	}
	want := []Bind{{Path: "/opt/mirror"}, {Path: "/etc/pki/ca.pem"}, {Path: "/var/cache/x", RW: true}}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("entry %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"relative/path", "/", "/a/../b", "/x:rx"} {
		if _, err := ParseBinds(bad); err == nil {
			t.Errorf("ParseBinds(%q) accepted it", bad)
		}
	}
}

func TestLocalRefusesWithoutBubblewrap(t *testing.T) {
	_, err := NewLocal(context.Background(), LocalOptions{Sandbox: true, WorkerBin: "/bin/true", Bwrap: "/nonexistent/bwrap"})
	if !errors.Is(err, ErrNoSandbox) {
		t.Fatalf("NewLocal without bwrap: %v, want ErrNoSandbox", err)
	}
}

// BenchmarkSandboxStart measures what the sandbox adds to starting a run:
// bubblewrap creating its namespaces and mounts and exec'ing a no-op.
func BenchmarkSandboxStart(b *testing.B) {
	e, err := NewLocal(context.Background(), LocalOptions{Sandbox: true, WorkerBin: "/bin/true", TerraformBin: "/bin/true"})
	if err != nil {
		b.Fatalf("no sandbox here, nothing to measure: %v", err)
	}
	dir := b.TempDir()
	for b.Loop() {
		cmd := exec.Command(e.bwrap, append(e.sandboxArgs(1, dir), "--", "/bin/true")...)
		cmd.Env = []string{"PATH=/usr/bin:/bin"}
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
	}
}

// BenchmarkSandboxedWorkerStart starts each worker executable in the
// sandbox a run gets, as far as its command line (-h): the start every
// run pays before it fetches its bundle. (Its CPU and RSS are not the
// sandbox's rusage, which misses the reaped worker; scripts/bench.sh
// measures them outside the sandbox.)
func BenchmarkSandboxedWorkerStart(b *testing.B) {
	for _, bin := range []string{testenv.TfprBinary(b), testenv.WorkerBinary(b)} {
		b.Run("bin="+filepath.Base(bin), func(b *testing.B) {
			e, err := NewLocal(context.Background(), LocalOptions{Sandbox: true, WorkerBin: bin, TerraformBin: "/bin/true"})
			if err != nil {
				b.Fatalf("no sandbox here, nothing to measure: %v", err)
			}
			dir := b.TempDir()
			for b.Loop() {
				cmd := exec.Command(e.bwrap, append(e.sandboxArgs(1, dir), "--", bin, "worker", "-h")...)
				cmd.Env = []string{"PATH=/usr/bin:/bin"}
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("%v: %s", err, out)
				}
			}
		})
	}
}

// BenchmarkPlainStart is the same no-op without the sandbox, to subtract.
func BenchmarkPlainStart(b *testing.B) {
	for b.Loop() {
		if err := exec.Command("/bin/true").Run(); err != nil {
			b.Fatal(err)
		}
	}
	_ = os.Getpid()
}
