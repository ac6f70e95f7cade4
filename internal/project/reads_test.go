package project

import (
	"slices"
	"strconv"
	"testing"
)

// readLayout reads files outside every project and module dir, the ways
// terraform configurations do.
var readLayout = map[string]string{
	"microservices/alpha/dev/main.tf": backendGCS + `
locals {
  data   = jsondecode(file("${path.module}/../../../shared/data.json"))
  core   = core::filebase64("../../../shared/core.bin")
  rooted = filesha256("${path.root}/../../../shared/rooted.txt")
}
module "m" {
  source = "../../../modules/m"
}
`,
	"microservices/beta/dev/main.tf": backendGCS + `
locals {
  env_file = file("${path.module}/../../../shared/envs/${terraform.workspace}.json")
  all      = fileset("${path.module}/../../../shared/policies", "*.json")
  dynamic  = file(var.somewhere)
  absolute = file("/etc/hostname")
  outside  = file("${path.module}/../../../../outside.txt")
}
`,
	"microservices/gamma/dev/main.tf.json": `{
  "terraform": {"backend": {"gcs": {}}},
  "locals": {"x": "${templatefile(\"${path.module}/../../../shared/tpl/g.tpl\", {})}"}
}`,
	"microservices/delta/dev/main.tf": backendGCS + `
module "m" {
  source = "../../../modules/m"
}
`,
	// A module's ${path.module} is its own dir; a bare relative path is
	// the running project's dir.
	"modules/m/main.tf": `
locals {
  mod  = file("${path.module}/../../shared/mod.txt")
  cwd  = file("files/local.txt")
}
`,
	"shared/data.json": "{}",
}

func TestFilesReadOutsideTheProjectAffectIt(t *testing.T) {
	g, _ := scanLayout(t, readLayout)
	tests := []struct {
		changed string
		want    []string
	}{
		{"shared/data.json", []string{"microservices/alpha/dev"}},
		{"shared/core.bin", []string{"microservices/alpha/dev"}},
		{"shared/rooted.txt", []string{"microservices/alpha/dev"}},
		{"shared/envs/prod.json", []string{"microservices/beta/dev"}},
		{"shared/policies/deny.json", []string{"microservices/beta/dev"}},
		{"shared/tpl/g.tpl", []string{"microservices/gamma/dev"}},
		{"shared/mod.txt", []string{"microservices/alpha/dev", "microservices/delta/dev"}},
		{"microservices/delta/dev/files/local.txt", []string{"microservices/delta/dev"}},
		{"shared/unrelated.txt", nil},
		{"etc/hostname", nil},
	}
	for _, tt := range tests {
		got := g.Affected([]string{tt.changed})
		if !slices.Equal(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
			t.Errorf("Affected(%s) = %v, want %v", tt.changed, got, tt.want)
		}
	}
}

func TestTooManyReadsCountAsReadingEverything(t *testing.T) {
	body := backendGCS + "locals {\n"
	for i := range maxReadsPerFile + 1 {
		body += "  f" + string(rune('a'+i%26)) + strconv.Itoa(i) + " = file(\"x/" + strconv.Itoa(i) + "\")\n"
	}
	body += "}\n"
	g, _ := scanLayout(t, map[string]string{"microservices/big/dev/main.tf": body})
	if got := g.Affected([]string{"anything/at/all.txt"}); !slices.Equal(got, []string{"microservices/big/dev"}) {
		t.Fatalf("a project over the read cap must be planned for any change: %v", got)
	}
}
