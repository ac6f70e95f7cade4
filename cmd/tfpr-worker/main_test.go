package main

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/tfpr/tfpr/internal/testenv"
)

// tfpr-worker takes tfpr worker's command line, with or without the
// leading "worker", so either executable can be TFPR_WORKER_BIN.
func TestWorkerCommandLine(t *testing.T) {
	lean, tfpr := testenv.WorkerBinary(t), testenv.TfprBinary(t)
	for _, tc := range []struct {
		argv []string
		code int
		want string
	}{
		{[]string{lean, "worker", "-h"}, 0, "-terraform-bin"},
		{[]string{lean, "-h"}, 0, "-terraform-bin"},
		{[]string{tfpr, "worker", "-h"}, 0, "-terraform-bin"},
		{[]string{lean, "worker", "--run", "7"}, 2, "tfpr-worker: --server, --run and TFPR_RUN_TOKEN are required"},
		{[]string{tfpr, "worker", "--run", "7"}, 2, "tfpr worker: --server, --run and TFPR_RUN_TOKEN are required"},
		{[]string{lean, "worker", "--nope"}, 2, "flag provided but not defined: -nope"},
	} {
		cmd := exec.Command(tc.argv[0], tc.argv[1:]...)
		cmd.Env = []string{"PATH=/usr/bin:/bin"}
		out, err := cmd.CombinedOutput()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tc.code || !strings.Contains(string(out), tc.want) {
			t.Errorf("%s: exit %d, want %d, output lacks %q:\n%s", strings.Join(tc.argv[1:], " "), code, tc.code, tc.want, out)
		}
	}
}
