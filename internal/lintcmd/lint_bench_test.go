package lintcmd

import (
	"context"
	"fmt"
	"testing"

	"github.com/tfpr/tfpr/internal/bench"
	"github.com/tfpr/tfpr/internal/policy"
)

// BenchmarkLintFabric lints the fabric-shaped corpus (internal/bench:
// cloud-foundation-fabric's shape copied 6 times, every dir a project) as
// `tfpr lint .` does, cold: a fresh Tree and no cache each time.
func BenchmarkLintFabric(b *testing.B) {
	ctx := context.Background()
	root := b.TempDir()
	c, err := bench.WriteFabricCorpus(ctx, root)
	if err != nil {
		b.Fatal(err)
	}
	engine := lintEngine(b)
	b.Chdir(root)
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				findings, counts, err := lintDirs(ctx, engine, []string{"."}, workers)
				if err != nil {
					b.Fatal(err)
				}
				if counts.projects != len(c.Projects) || !policy.Blocking(findings) {
					b.Fatalf("linted %d projects of %d, blocking %v", counts.projects, len(c.Projects), policy.Blocking(findings))
				}
			}
			b.ReportMetric(float64(c.Files)*float64(b.N)/b.Elapsed().Seconds(), "files/s")
		})
	}
}
