package main

import (
	"context"
	"io"

	"github.com/tfpr/tfpr/internal/worker"
)

// runWorker is `tfpr worker`, the same command line as the lean
// tfpr-worker executable the executors prefer (cmd/tfpr-worker).
func runWorker(ctx context.Context, args []string, stderr io.Writer) int {
	return worker.Main(ctx, "tfpr worker", args, stderr)
}
