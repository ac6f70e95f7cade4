package workspace

import (
	"context"
	"fmt"
	"os"
	"testing"
)

// BenchmarkCheckout checks out, then removes, a tree of n projects of 4
// files and 100 modules of 10 files: with 1,000 projects it is the size of
// the monorepo tfpr serves (1,000 states, about 5,000 files). Every plan
// and apply takes one checkout of the commit it runs. With fs=tmpfs the
// checkouts go to /dev/shm, as TFPR_CHECKOUT_DIR can put them.
func BenchmarkCheckout(b *testing.B) {
	type variant struct {
		projects int
		tmpfs    bool
	}
	for _, v := range []variant{{20, false}, {1000, false}, {1000, true}} {
		name := fmt.Sprintf("projects=%d", v.projects)
		if v.tmpfs {
			name += ",fs=tmpfs"
		}
		projects := v.projects
		b.Run(name, func(b *testing.B) {
			var opts []Option
			if v.tmpfs {
				base, err := os.MkdirTemp("/dev/shm", "tfpr-bench-")
				if err != nil {
					b.Skipf("no tmpfs at /dev/shm: %v", err)
				}
				b.Cleanup(func() { os.RemoveAll(base) })
				opts = append(opts, WithCheckoutDir(base))
			}
			up := newUpstream(b)
			files := map[string]string{}
			for m := range 100 {
				for f := range 10 {
					files[fmt.Sprintf("modules/m%03d/f%d.tf", m, f)] = fmt.Sprintf("variable \"v%d\" {\n  default = \"x\"\n}\n", f)
				}
			}
			for p := range projects {
				dir := fmt.Sprintf("microservices/svc%03d/env%d", p/4, p%4)
				files[dir+"/backend.tf"] = "terraform {\n  backend \"gcs\" {}\n}\n"
				files[dir+"/main.tf"] = fmt.Sprintf("module \"m\" {\n  source = \"../../../modules/m%03d\"\n}\n", p%100)
				files[dir+"/variables.tf"] = "variable \"region\" {}\n"
				files[dir+"/outputs.tf"] = "output \"id\" {\n  value = module.m\n}\n"
			}
			head := up.commit("tree", files)
			m, err := New(b.TempDir(), nil, opts...)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			if err := m.Fetch(ctx, up.repo(), "", head); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				co, err := m.Checkout(ctx, up.repo(), head)
				if err != nil {
					b.Fatal(err)
				}
				if err := co.Close(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(files)), "files")
		})
	}
}
