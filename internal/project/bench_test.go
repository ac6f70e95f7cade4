package project

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkScan scans a generated tree of 1,000 projects and 100 modules,
// about 5,000 files: the size of a large monorepo.
func BenchmarkScan(b *testing.B) {
	files := map[string]string{}
	for m := range 100 {
		dir := fmt.Sprintf("modules/m%03d", m)
		for f := range 10 {
			files[fmt.Sprintf("%s/f%d.tf", dir, f)] = fmt.Sprintf(`variable "v%d" {
  type    = string
  default = "x"
}

resource "terraform_data" "r%d" {
  input = { name = var.v%d, n = %d }
}
`, f, f, f, f)
		}
		if m > 0 {
			files[dir+"/calls.tf"] = fmt.Sprintf("module \"prev\" {\n  source = \"../m%03d\"\n}\n", m-1)
		}
	}
	for p := range 1000 {
		dir := fmt.Sprintf("microservices/svc%03d/env%d", p/4, p%4)
		files[dir+"/backend.tf"] = backendGCS
		files[dir+"/main.tf"] = fmt.Sprintf("module \"m\" {\n  source = \"../../../modules/m%03d\"\n  name   = \"svc-%d\"\n}\n", p%100, p)
		files[dir+"/variables.tf"] = "variable \"region\" {\n  type = string\n}\n"
		files[dir+"/outputs.tf"] = "output \"id\" {\n  value = module.m\n}\n"
	}
	root := b.TempDir()
	writeTree(b, root, files)
	// cold parses every file, as the CLI does; remembered is the server's
	// steady state, another commit of a repository it scanned before.
	for _, bc := range []struct {
		name string
		s    *Scanner
	}{{"cold", nil}, {"remembered", NewScanner(10000, 64<<20)}} {
		b.Run(bc.name, func(b *testing.B) {
			if _, err := bc.s.Scan(context.Background(), root); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				g, err := bc.s.Scan(context.Background(), root)
				if err != nil {
					b.Fatal(err)
				}
				if len(g.Projects()) != 1000 {
					b.Fatalf("found %d projects", len(g.Projects()))
				}
			}
		})
	}
}
