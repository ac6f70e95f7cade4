// Command tfpr-bench does the parts of `make bench` that are not Go
// benchmarks: it writes the lint corpus for `tfpr lint` and conftest, and
// measures the resident memory of an idle tfpr server.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tfpr/tfpr/internal/bench"
	"github.com/tfpr/tfpr/internal/executor"
)

const usage = `usage:
  tfpr-bench corpus DIR                       write the 5,000-file lint corpus to DIR
  tfpr-bench fabric DIR                       write the fabric-shaped lint corpus (4,788 files) to DIR
  tfpr-bench idle-rss -bin BIN [-settle DUR]  print "RSS ANON FILE" in bytes of an idle "BIN server"
  tfpr-bench same-build LEAN TFPR             exit 0 when tfpr lint would run LEAN (the same build), else 1
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
	case "corpus":
		if len(args) != 2 {
			fmt.Fprint(stderr, usage)
			return 2
		}
		c, err := bench.WriteLintCorpus(ctx, args[1])
		if err != nil {
			fmt.Fprintf(stderr, "tfpr-bench corpus: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "%d files, %d projects\n", c.Files, len(c.Projects))
		return 0
	case "fabric":
		if len(args) != 2 {
			fmt.Fprint(stderr, usage)
			return 2
		}
		c, err := bench.WriteFabricCorpus(ctx, args[1])
		if err != nil {
			fmt.Fprintf(stderr, "tfpr-bench fabric: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "%d files, %d projects\n", c.Files, len(c.Projects))
		return 0
	case "idle-rss":
		return idleRSS(ctx, args[1:], stdout, stderr)
	case "same-build":
		if len(args) != 3 {
			fmt.Fprint(stderr, usage)
			return 2
		}
		if executor.SameBuild(args[1], args[2]) {
			return 0
		}
		return 1
	}
	fmt.Fprintf(stderr, "tfpr-bench: unknown command %q\n%s", args[0], usage)
	return 2
}

func idleRSS(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tfpr-bench idle-rss", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bin := fs.String("bin", "bin/tfpr", "the tfpr `binary`")
	settle := fs.Duration("settle", 3*time.Second, "how long the server idles after /healthz answers")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	dir, err := os.MkdirTemp("", "tfpr-idle-")
	if err != nil {
		fmt.Fprintf(stderr, "tfpr-bench idle-rss: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	terraform := os.Getenv("TFPR_TERRAFORM_BIN")
	if terraform == "" {
		terraform = "terraform"
	}
	m, err := bench.IdleMemory(ctx, bench.IdleOptions{Bin: *bin, Terraform: terraform, Settle: *settle, Dir: dir})
	if err != nil {
		fmt.Fprintf(stderr, "tfpr-bench idle-rss: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, m.RSS, m.Anon, m.File)
	return 0
}
