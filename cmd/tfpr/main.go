// Command tfpr automates Terraform through GitHub pull requests.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/tfpr/tfpr/internal/config"
	"github.com/tfpr/tfpr/internal/redact"
	"github.com/tfpr/tfpr/internal/server"
	"github.com/tfpr/tfpr/internal/store"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `tfpr automates Terraform through GitHub pull requests.

Usage:
  tfpr server [flags]          run the GitHub App webhook server (tfpr server -h lists settings)
  tfpr lint [flags] [DIR...]   check Terraform HCL against the policies, locally
  tfpr policy test [DIR]       run the Rego unit tests of a policy directory
  tfpr audit [flags]           list applies: who merged, who approved, commit, plan, outcome
  tfpr new-service NAME --owners @org/team [flags]
                               add a service's directories and CODEOWNERS lines
  tfpr version                 print the version
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "server":
		return runServer(ctx, args[1:], stderr)
	case "lint":
		return runLint(ctx, args[1:], stdout, stderr)
	case "policy":
		if len(args) < 2 || args[1] != "test" {
			fmt.Fprintln(stderr, "usage: tfpr policy test [DIR]")
			return 2
		}
		return runPolicyTest(ctx, args[2:], stdout, stderr)
	case "audit":
		return runAudit(ctx, args[1:], stdout, stderr)
	case "new-service":
		return runNewService(ctx, args[1:], stdout, stderr)
	case "version", "-v", "--version":
		fmt.Fprintln(stdout, "tfpr", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "tfpr: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func runServer(ctx context.Context, args []string, stderr io.Writer) int {
	cfg, fs, err := config.FromEnv("tfpr server", args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "tfpr server: %v\n", err)
		if fs != nil {
			fs.SetOutput(stderr)
		}
		return 2
	}
	log := redact.Logger(slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level(cfg.LogLevel)})))
	srv, err := server.New(ctx, cfg, server.Options{Log: log})
	if err != nil {
		fmt.Fprintf(stderr, "tfpr server: %v\n", err)
		return 1
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		fmt.Fprintf(stderr, "tfpr server: listen on %s: %v\n", cfg.Addr, err)
		return 1
	}
	if err := srv.Serve(ctx, ln); err != nil {
		log.Error("server stopped", "err", err)
		return 1
	}
	return 0
}

func level(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return slog.LevelInfo
	}
	return l
}

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tfpr audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", envOr("TFPR_DATA_DIR", "./.tfpr"), "tfpr data directory (env TFPR_DATA_DIR)")
	limit := fs.Int("limit", 100, "how many applies, newest first")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	path := filepath.Join(*dataDir, "tfpr.db")
	if _, err := os.Stat(path); err != nil {
		fmt.Fprintf(stderr, "tfpr audit: no store at %s: %v\n", path, err)
		return 1
	}
	st, err := store.OpenSQLite(ctx, path)
	if err != nil {
		fmt.Fprintf(stderr, "tfpr audit: %v\n", err)
		return 1
	}
	defer st.Close()
	runs, err := st.ListRuns(ctx, "apply", *limit)
	if err != nil {
		fmt.Fprintf(stderr, "tfpr audit: %v\n", err)
		return 1
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FINISHED\tREPO\tPROJECT\tCOMMIT\tPR\tMERGED BY\tAPPROVED BY\tRETRIED BY\tPLAN\tOUTCOME\tSUMMARY")
	for _, r := range runs {
		finished := "-"
		if !r.Finished.IsZero() {
			finished = r.Finished.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t#%d\t%s\t%s\t%s\t%s\t%s\t%s\n", finished, r.Repo, r.Project, shortSHA(r.SHA), r.PR,
			dash(r.MergedBy), dash(r.ApprovedBy), dash(r.RetriedBy), dash(shortSHA(r.PlanHash)), r.Status, dash(r.Summary))
	}
	tw.Flush()
	return 0
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
