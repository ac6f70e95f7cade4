package policy_test

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tfpr/tfpr/internal/bench"
	"github.com/tfpr/tfpr/internal/policy"
	"github.com/tfpr/tfpr/policies"
)

type benchProject struct {
	dir     string
	modules []string
}

// writeCorpus writes the shared lint corpus (the one `make bench` also
// gives conftest): 300 projects calling 3 of 100 modules, 5,000 files.
func writeCorpus(b *testing.B, root string) ([]benchProject, int) {
	b.Helper()
	c, err := bench.WriteLintCorpus(context.Background(), root)
	if err != nil {
		b.Fatal(err)
	}
	var out []benchProject
	for _, p := range c.Projects {
		out = append(out, benchProject{dir: p.Dir, modules: p.Modules})
	}
	return out, c.Files
}

// BenchmarkLint lints every project of a generated 5,000-file corpus.
// "cold" starts each iteration with a new Engine (nothing parsed yet), as a
// fresh tfpr server sees a checkout; "warm" reuses one Engine, as a server
// does across pushes that share most files. Both lint one project per
// LintProject call. "tree" is tfpr lint's way: a fresh NoCache Engine, one
// Tree, projects linted on all CPUs.
func BenchmarkLint(b *testing.B) {
	root := b.TempDir()
	projects, files := writeCorpus(b, root)
	ctx := context.Background()
	lintAll := func(b *testing.B, e *policy.Engine) {
		for _, p := range projects {
			got, err := e.LintProject(ctx, root, p.dir, p.modules)
			if err != nil {
				b.Fatal(err)
			}
			if len(got) != 0 {
				b.Fatalf("clean corpus has findings in %s: %+v", p.dir, got[0])
			}
		}
	}
	b.Run("cold", func(b *testing.B) {
		b.ReportAllocs()
		var elapsed time.Duration
		for b.Loop() {
			b.StopTimer()
			e := newEngine(b)
			b.StartTimer()
			start := time.Now()
			lintAll(b, e)
			elapsed += time.Since(start)
		}
		b.ReportMetric(float64(files)*float64(b.N)/elapsed.Seconds(), "files/s")
	})
	b.Run("tree", func(b *testing.B) {
		b.ReportAllocs()
		var elapsed time.Duration
		for b.Loop() {
			b.StopTimer()
			e, err := policy.New(ctx, policies.FS(), policy.Options{NoCache: true})
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			start := time.Now()
			tree, err := e.OpenTree(ctx, root)
			if err != nil {
				b.Fatal(err)
			}
			var next atomic.Int64
			var wg sync.WaitGroup
			for range runtime.GOMAXPROCS(0) {
				wg.Go(func() {
					for i := int(next.Add(1) - 1); i < len(projects); i = int(next.Add(1) - 1) {
						p := projects[i]
						got, err := tree.LintProject(ctx, p.dir, p.modules)
						if err != nil || len(got) != 0 {
							b.Errorf("%s: %v %+v", p.dir, err, got)
						}
						tree.Forget(p.dir)
					}
				})
			}
			wg.Wait()
			tree.Close()
			elapsed += time.Since(start)
		}
		b.ReportMetric(float64(files)*float64(b.N)/elapsed.Seconds(), "files/s")
	})
	b.Run("warm", func(b *testing.B) {
		e := newEngine(b)
		lintAll(b, e)
		b.ReportAllocs()
		start := time.Now()
		for b.Loop() {
			lintAll(b, e)
		}
		b.ReportMetric(float64(files)*float64(b.N)/time.Since(start).Seconds(), "files/s")
	})
}
