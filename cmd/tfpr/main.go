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
	"runtime/debug"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/tfpr/tfpr/internal/config"
	"github.com/tfpr/tfpr/internal/executor"
	"github.com/tfpr/tfpr/internal/lintcmd"
	"github.com/tfpr/tfpr/internal/redact"
	"github.com/tfpr/tfpr/internal/server"
	"github.com/tfpr/tfpr/internal/store"
)

const usage = `tfpr automates Terraform through GitHub pull requests.

Usage:
  tfpr server [--check] [flags]  run the GitHub App webhook server (tfpr server -h lists settings;
                               --check validates them all and exits)
  tfpr lint [flags] [DIR...]   check Terraform HCL against the policies, locally
  tfpr policy test [DIR]       run the Rego unit tests of a policy directory
  tfpr policy list [DIR]       list the rules of a policy directory
  tfpr audit [flags]           list applies: who merged, who approved, commit, plan, outcome
  tfpr drift status [flags]    list projects' drift checks: last check, result, issue
  tfpr new-service NAME --owners @org/team [flags]
                               add a service's directories and CODEOWNERS lines
  tfpr worker [flags]          run one terraform run for a server (what tfpr-worker runs; the
                               executors start tfpr-worker, or this when it is missing)
  tfpr version                 print the version, commit and build date
`

func main() {
	if len(os.Args) > 1 && os.Args[1] == "lint" {
		execLeanLint(os.Args[2:], executor.SameBuild)
		lintcmd.TuneMemory()
	}
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
		return runServer(ctx, args[1:], stdout, stderr)
	case "lint":
		return lintcmd.Run(ctx, args[1:], stdout, stderr)
	case "policy":
		return runPolicy(ctx, args[1:], stdout, stderr)
	case "audit":
		return runAudit(ctx, args[1:], stdout, stderr)
	case "drift":
		return runDrift(ctx, args[1:], stdout, stderr)
	case "new-service":
		return runNewService(ctx, args[1:], stdout, stderr)
	case "worker":
		return runWorker(ctx, args[1:], stderr)
	case "version", "-v", "--version":
		fmt.Fprint(stdout, currentBuild(debug.ReadBuildInfo))
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "tfpr: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func runServer(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	args, check := stripCheck(args)
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
	mode := checkStart
	if check {
		mode = checkFull
	}
	problems, warnings := checkServer(ctx, cfg, os.Environ(), mode)
	if code := reportCheck(stdout, stderr, problems, warnings, check); code != 0 || check {
		return code
	}
	lvl, _ := config.ParseLogLevel(cfg.LogLevel)
	log := redact.Logger(slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: lvl})))
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

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tfpr audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", envOr("TFPR_DATA_DIR", "./.tfpr"), "tfpr data `DIR` holding the store (env TFPR_DATA_DIR)")
	limit := fs.Int("limit", 100, "how many applies, newest first")
	format := fs.String("format", "text", "output `format`: text or json")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(stderr, "tfpr audit: unknown --format %q (want text or json)\n", *format)
		return 2
	}
	st, code := openStore(ctx, "tfpr audit", *dataDir, stderr)
	if st == nil {
		return code
	}
	defer st.Close()
	runs, err := st.ListRuns(ctx, "apply", *limit)
	if err != nil {
		fmt.Fprintf(stderr, "tfpr audit: %v\n", err)
		return 1
	}
	if *format == "json" {
		return writeAuditJSON(stdout, stderr, runs)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FINISHED\tREPO\tPROJECT\tCOMMIT\tPR\tMERGED BY\tAPPROVED BY\tRETRIED BY\tRECONCILED BY\tPLAN\tOUTCOME\tSUMMARY")
	for _, r := range runs {
		finished := "-"
		if !r.Finished.IsZero() {
			finished = r.Finished.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t#%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", finished, r.Repo, r.Project, shortSHA(r.SHA), r.PR,
			dash(r.MergedBy), dash(r.ApprovedBy), dash(r.RetriedBy), reconciledBy(r), dash(shortSHA(r.PlanHash)), r.Status, dash(r.Summary))
	}
	tw.Flush()
	return 0
}

// reconciledBy names who asked for a reconcile apply, and on which issue.
func reconciledBy(r store.Run) string {
	if r.ReconciledBy == "" {
		return "-"
	}
	return fmt.Sprintf("%s (#%d)", r.ReconciledBy, r.Issue)
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
