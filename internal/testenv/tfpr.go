package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var tfprBinary struct {
	once sync.Once
	path string
	err  error
}

// TfprBinary builds cmd/tfpr once per test process and returns its path,
// for tests that run `tfpr worker` or a whole server as a process.
func TfprBinary(t testing.TB) string {
	t.Helper()
	tfprBinary.once.Do(func() {
		dir, err := os.MkdirTemp("", "tfpr-bin-")
		if err != nil {
			tfprBinary.err = err
			return
		}
		tfprBinary.path = filepath.Join(dir, "tfpr")
		out, err := exec.Command("go", "build", "-o", tfprBinary.path, "github.com/tfpr/tfpr/cmd/tfpr").CombinedOutput()
		if err != nil {
			tfprBinary.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if tfprBinary.err != nil {
		t.Fatal(tfprBinary.err)
	}
	return tfprBinary.path
}
