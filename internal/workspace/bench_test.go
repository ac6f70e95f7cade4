package workspace

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkCheckout checks out, then removes, a tree of n projects of 4
// files and 100 modules of 10 files: with 1,000 projects it is the size of
// the monorepo tfpr serves (1,000 states, about 5,000 files). Every plan
// and apply takes one checkout of the commit it runs.
func BenchmarkCheckout(b *testing.B) {
	for _, projects := range []int{20, 1000} {
		b.Run(fmt.Sprintf("projects=%d", projects), func(b *testing.B) {
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
			m, _ := newManager(b)
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
