package worker

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/tfpr/tfpr/internal/redact"
	"github.com/tfpr/tfpr/internal/runspec"
)

// Main is the worker's command line, shared by `tfpr worker` and the lean
// tfpr-worker executable so both behave the same: name prefixes messages,
// args are the flags. The run token comes in TFPR_RUN_TOKEN and is taken
// out of the environment before anything else runs; terraform gets the
// rest of the environment minus TFPR_* names. The exit code is 0 on
// success, 1 when terraform failed, 2 on bad usage and 3 otherwise.
func Main(ctx context.Context, name string, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", "", "the server's internal endpoint, e.g. http://127.0.0.1:8081")
	runID := fs.Int64("run", 0, "worker run id")
	dir := fs.String("dir", ".", "run directory: the bundle is unpacked and the result left here")
	tfBin := fs.String("terraform-bin", "terraform", "terraform or tofu executable")
	cache := fs.String("plugin-cache-dir", "", "provider plugin cache (read-only is fine)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	token := os.Getenv(runspec.TokenEnv)
	os.Unsetenv(runspec.TokenEnv)
	if *server == "" || *runID <= 0 || token == "" {
		fmt.Fprintf(stderr, "%s: --server, --run and %s are required\n", name, runspec.TokenEnv)
		return 2
	}
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(strings.ToUpper(k), "TFPR_") {
			env[k] = v
		}
	}
	log := redact.Logger(slog.New(slog.NewTextHandler(stderr, nil)))
	err := Run(ctx, Options{Server: *server, RunID: *runID, Token: token, Dir: *dir,
		TerraformBin: *tfBin, PluginCacheDir: *cache, Env: env, Log: log})
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrTerraform):
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	default:
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 3
	}
}
