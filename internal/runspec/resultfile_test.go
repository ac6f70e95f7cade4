package runspec

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestResultFileIsSealedAndBounded(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ResultFile)
	body := []byte(`{"run_id":7}`)
	sealed, err := SealResult(TokenHash("tfprrun_a"), body)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, sealed, 0o600)
	if got, err := ReadResultFile(dir, TokenHash("tfprrun_a")); err != nil || string(got) != string(body) {
		t.Fatalf("sealed file: %q, %v", got, err)
	}
	if _, err := ReadResultFile(dir, TokenHash("tfprrun_b")); !errors.Is(err, ErrUnsealed) {
		t.Fatalf("another run's token: %v, want ErrUnsealed", err)
	}
	tampered := []byte(string(sealed[:len(`{"result":{"run_id":`)]) + "8" + string(sealed[len(`{"result":{"run_id":7`):]))
	os.WriteFile(path, tampered, 0o600)
	if _, err := ReadResultFile(dir, TokenHash("tfprrun_a")); !errors.Is(err, ErrUnsealed) {
		t.Fatalf("tampered result: %v, want ErrUnsealed", err)
	}

	// A FIFO would block a plain open forever; /dev/zero would never end.
	os.Remove(path)
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadResultFile(dir, TokenHash("tfprrun_a")); err == nil {
		t.Fatal("a FIFO was read as a result file")
	}
	os.Remove(path)
	os.Symlink("/dev/zero", path)
	if _, err := ReadResultFile(dir, TokenHash("tfprrun_a")); err == nil {
		t.Fatal("a symlink to /dev/zero was read as a result file")
	}
}
