package config

import (
	"fmt"
	"net"
	"strings"

	"github.com/tfpr/tfpr/internal/executor"
)

// DefaultInternalAddr is where the internal endpoint listens unless told
// otherwise: loopback, and fixed, so a worker that outlives the server
// reaches its successor at the same address.
const DefaultInternalAddr = "127.0.0.1:8081"

// runFields are the settings of where and how terraform runs.
func (c *Config) runFields() []field {
	str := func(p *string) func(string) error { return func(v string) error { *p = v; return nil } }
	return []field{
		{"executor", "TFPR_EXECUTOR", "where terraform runs: local (a bubblewrap sandbox per run), kubernetes (a Job per run), or unsandboxed (a plain child process that sees everything tfpr sees; only when asked for by name)", "local", func(v string) error {
			k, err := executor.ParseKind(v)
			c.Executor = k
			return err
		}},
		{"internal-addr", "TFPR_INTERNAL_ADDR", "listen address of the internal endpoint workers fetch bundles from and post results to; never the webhook port", DefaultInternalAddr, func(v string) error {
			if _, _, err := net.SplitHostPort(v); err != nil {
				return fmt.Errorf("not host:port: %q", v)
			}
			c.InternalAddr = v
			return nil
		}},
		{"internal-url", "TFPR_INTERNAL_URL", "the internal endpoint's URL as workers reach it (default: http:// + TFPR_INTERNAL_ADDR)", "", func(v string) error {
			if v != "" && !strings.HasPrefix(v, "http://") && !strings.HasPrefix(v, "https://") {
				return fmt.Errorf("not an http(s) URL: %q", v)
			}
			c.InternalURL = strings.TrimRight(v, "/")
			return nil
		}},
		{"sandbox-bind", "TFPR_SANDBOX_BIND", "comma-separated absolute paths made visible in the local sandbox, read-only, or read-write with a :rw suffix (a provider mirror, CA bundles)", "", func(v string) error {
			b, err := executor.ParseBinds(v)
			c.SandboxBinds = b
			return err
		}},
		{"worker-bin", "TFPR_WORKER_BIN", "tfpr executable the local executor runs as `tfpr worker` (default: this executable)", "", str(&c.WorkerBin)},
		{"run-budget", "TFPR_RUN_BUDGET", "time budget of one terraform run (plan or apply); also bounds the lifetime of its minted token", "1h", duration(&c.RunBudget)},
		{"iam-credentials-endpoint", "TFPR_IAM_CREDENTIALS_ENDPOINT", "IAM Credentials API base URL, for minting each run's token", "https://iamcredentials.googleapis.com/", str(&c.IAMCredentials)},
	}
}
