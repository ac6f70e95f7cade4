// Command tfpr-lint is `tfpr lint` in an executable that links only what
// lint needs. tfpr's own executable links the server (Kubernetes, cloud
// storage, metrics), whose code pages a lint would touch for nothing:
// on a large tree they are a third of its memory. `tfpr lint` runs this
// executable when it finds it beside itself, built from the same commit;
// CI can also run it directly. The command line is tfpr's: an optional
// leading "lint", then the flags and dirs.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/tfpr/tfpr/internal/lintcmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "lint" {
		args = args[1:]
	}
	code := lintcmd.Run(ctx, args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
