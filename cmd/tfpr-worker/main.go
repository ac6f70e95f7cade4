// Command tfpr-worker runs one terraform run for a tfpr server: the same
// code as `tfpr worker`, in an executable that links only what a worker
// needs. Every run starts one, so it must start fast; tfpr's own
// executable pays for package initialisation (Kubernetes, OPA, metrics)
// a worker never uses. The command line is tfpr's: an optional leading
// "worker", then the flags, so either executable can start a run.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/tfpr/tfpr/internal/worker"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "worker" {
		args = args[1:]
	}
	os.Exit(worker.Main(ctx, "tfpr-worker", args, os.Stderr))
}
