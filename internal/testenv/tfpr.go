package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var tfprBinary struct {
	once sync.Once
	dir  string
	err  error
}

// buildTfpr builds cmd/tfpr and cmd/tfpr-worker once per test process into
// one directory, the layout `make build` and the image have, so a tfpr
// started from there finds its lean worker beside it.
func buildTfpr(t testing.TB) string {
	t.Helper()
	tfprBinary.once.Do(func() {
		dir, err := os.MkdirTemp("", "tfpr-bin-")
		if err != nil {
			tfprBinary.err = err
			return
		}
		tfprBinary.dir = dir
		out, err := exec.Command("go", "build", "-o", dir+string(filepath.Separator),
			"github.com/tfpr/tfpr/cmd/tfpr", "github.com/tfpr/tfpr/cmd/tfpr-worker").CombinedOutput()
		if err != nil {
			tfprBinary.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if tfprBinary.err != nil {
		t.Fatal(tfprBinary.err)
	}
	return tfprBinary.dir
}

// TfprBinary returns the path of a fresh build of cmd/tfpr, for tests that
// run a whole server as a process or `tfpr worker` itself.
func TfprBinary(t testing.TB) string {
	t.Helper()
	return filepath.Join(buildTfpr(t), "tfpr")
}

// WorkerBinary returns the path of a fresh build of cmd/tfpr-worker, the
// executable tfpr's executors start for every run.
func WorkerBinary(t testing.TB) string {
	t.Helper()
	return filepath.Join(buildTfpr(t), "tfpr-worker")
}

// WriteScript writes an executable script at path. The file is written by
// a child process: a descriptor this process held open for writing could
// leak into a concurrent fork from another test, and exec of the script
// would then fail with "text file busy".
func WriteScript(t testing.TB, path, script string) {
	t.Helper()
	cmd := exec.Command("sh", "-c", `cat > "$1" && chmod 755 "$1"`, "sh", path)
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("write script %s: %v\n%s", path, err, out)
	}
}
