// Command tfpr-lint is `tfpr lint` in an executable that links only what
// lint needs. tfpr's own executable links the server (Kubernetes, cloud
// storage, metrics), whose code pages a lint would touch for nothing:
// about 25 MiB of a large lint's peak memory. `tfpr lint` runs this
// executable when it finds it beside itself, built from the same commit;
// CI can also run it directly. Its arguments are those of `tfpr lint`:
// the flags and dirs.
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
	lintcmd.TuneMemory()
	code := lintcmd.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
