package project

import (
	"context"
	"slices"
	"testing"
)

func TestInputs(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"microservices/alpha/dev/main.tf": `terraform {
  backend "gcs" {}
}
module "net" { source = "../../../modules/net" }
locals { cfg = file("${path.module}/../../../shared/alpha.json") }
`,
		"modules/net/main.tf":   `module "base" { source = "../base" }` + "\n" + `locals { t = templatefile("${path.module}/tpl/x.tpl", {}) }`,
		"modules/net/tpl/x.tpl": `hello`,
		"modules/base/main.tf":  `locals { b = 1 }`,
		"modules/other/main.tf": `locals { o = 1 }`,
		"shared/alpha.json":     `{}`,
		"shared/beta.json":      `{}`,
		"microservices/beta/dev/main.tf": `terraform {
  backend "gcs" {}
}
locals { cfg = file("${path.module}/../../../shared/beta.json") }
`,
	})
	g, err := Scan(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	got := g.Inputs("microservices/alpha/dev")
	want := []string{"microservices/alpha/dev", "modules/base", "modules/net", "modules/net/tpl/x.tpl", "shared/alpha.json"}
	if !slices.Equal(got, want) {
		t.Fatalf("Inputs(alpha) = %q, want %q", got, want)
	}
}
