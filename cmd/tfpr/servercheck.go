package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/tfpr/tfpr/internal/config"
	"github.com/tfpr/tfpr/internal/executor"
	"github.com/tfpr/tfpr/internal/githubapp"
	"github.com/tfpr/tfpr/internal/server"
)

// checkMode says how far the server's configuration is checked.
type checkMode int

const (
	// checkStart is what `tfpr server` checks before it starts: every
	// setting, without calling GitHub or running terraform.
	checkStart checkMode = iota
	// checkFull (`tfpr server --check`) also authenticates as the App,
	// lists its installations and runs terraform once.
	checkFull
)

// maxKeyFile bounds the private key read: a PEM key is a few KiB.
const maxKeyFile = 64 << 10

// checkServer returns one error per problem with cfg, and the warnings
// that do not stop the server.
func checkServer(ctx context.Context, cfg *config.Config, environ []string, mode checkMode) (problems, warnings []error) {
	if err := cfg.ValidateServer(); err != nil {
		problems = append(problems, splitJoined(err)...)
	}
	if unknown := config.UnknownEnv(environ); mode == checkFull {
		problems = append(problems, unknown...)
	} else {
		warnings = append(warnings, unknown...)
	}
	var key []byte
	if cfg.PrivateKeyFile != "" {
		var err error
		if key, err = readBounded(cfg.PrivateKeyFile, maxKeyFile); err != nil {
			problems = append(problems, fmt.Errorf("TFPR_GITHUB_PRIVATE_KEY_FILE: %w", err))
		} else if err := githubapp.CheckPrivateKey(key); err != nil {
			problems = append(problems, fmt.Errorf("TFPR_GITHUB_PRIVATE_KEY_FILE %s: %w", cfg.PrivateKeyFile, err))
			key = nil
		}
	}
	if _, err := server.LoadPolicies(ctx, cfg.PolicyDir, cfg.PolicyParamsFile, cfg.LintTimeout); err != nil {
		problems = append(problems, splitJoined(err)...)
	}
	if err := checkTerraform(ctx, cfg.TerraformBin, mode); err != nil {
		problems = append(problems, err)
	}
	// The server itself warns when it falls back to `tfpr worker`; only
	// --check, which starts no server, says so here.
	self, _ := os.Executable()
	if _, src, err := executor.FindWorker(cfg.WorkerBin, self); err != nil {
		problems = append(problems, err)
	} else if src == executor.WorkerSelf && mode == checkFull {
		warnings = append(warnings, fmt.Errorf("no %s beside %s: every run starts `tfpr worker`, which is slower to start", executor.LeanWorkerName, self))
	}
	if mode == checkFull && key != nil && cfg.AppID != 0 {
		app, err := githubapp.New(githubapp.Options{AppID: cfg.AppID, PrivateKey: key, APIURL: cfg.APIURL})
		if err == nil {
			_, err = app.CheckAuth(ctx)
		}
		if err != nil {
			problems = append(problems, err)
		}
	}
	return problems, warnings
}

// checkTerraform finds the terraform binary and, for a full check, runs
// `terraform version` once.
func checkTerraform(ctx context.Context, bin string, mode checkMode) error {
	path, err := exec.LookPath(bin)
	if err != nil {
		return fmt.Errorf("TFPR_TERRAFORM_BIN %q: %v; install terraform or OpenTofu, or point TFPR_TERRAFORM_BIN at it", bin, errors.Unwrap(err))
	}
	if mode != checkFull {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "version")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "CHECKPOINT_DISABLE=1"}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), " v") {
		return fmt.Errorf("TFPR_TERRAFORM_BIN %s: `%s version` did not print a version (%v): %.200q", bin, path, err, out)
	}
	return nil
}

func splitJoined(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func readBounded(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is over %d bytes; a PEM key is a few KiB", name, limit)
	}
	return b, nil
}

// stripCheck removes --check from the server's arguments, which are
// otherwise all settings.
func stripCheck(args []string) ([]string, bool) {
	var out []string
	check := false
	for _, a := range args {
		switch a {
		case "-check", "--check", "-check=true", "--check=true":
			check = true
		default:
			out = append(out, a)
		}
	}
	return out, check
}

// reportCheck prints problems one per line; it returns the exit status.
func reportCheck(stdout, stderr io.Writer, problems, warnings []error, full bool) int {
	for _, w := range warnings {
		fmt.Fprintf(stderr, "tfpr server: warning: %v\n", w)
	}
	for _, p := range problems {
		fmt.Fprintf(stderr, "tfpr server: %v\n", p)
	}
	if len(problems) > 0 {
		return 2
	}
	if full {
		fmt.Fprintln(stdout, "tfpr server: configuration OK (settings, policies, App key and authentication, terraform)")
	}
	return 0
}
