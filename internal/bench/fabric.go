package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The fabric-shaped corpus mimics GoogleCloudPlatform/cloud-foundation-fabric
// copied 6 times with a backend in every directory, the shape where lint's
// cost used to grow with project x module closure: per copy 110 modules and
// 23 stages of 6 files each (4,788 files in all), modules calling modules
// three levels deep, stages calling many modules, for_each over maps, big
// locals, and an OpenTofu twin of each module's versions file. Each
// directory declares a backend, so every module is also a project.
const (
	fabricCopies     = 6
	fabricModules    = 110
	fabricLeaves     = 20 // modules calling nothing
	fabricMiddle     = 60 // modules below this call two leaves; above, two middle ones
	fabricStages     = 23
	fabricDirFiles   = 6
	fabricStageCalls = 12
	fabricLocals     = 40 // entries of each big locals map
)

// WriteFabricCorpus writes the fabric-shaped corpus under root, which must
// be empty or missing. Unlike the lint corpus it is not clean: the
// OpenTofu files are denied, as in the real repository.
func WriteFabricCorpus(ctx context.Context, root string) (*Corpus, error) {
	if entries, err := os.ReadDir(root); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("write fabric corpus: %s is not empty", root)
	}
	c := &Corpus{Root: root}
	write := func(rel, content string) error {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("write fabric corpus: %w", err)
		}
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("write fabric corpus: %w", err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return fmt.Errorf("write fabric corpus: %w", err)
		}
		if strings.HasSuffix(rel, ".tf") {
			c.Files++
		}
		return nil
	}
	for cp := range fabricCopies {
		base := fmt.Sprintf("c%d", cp)
		for m := range fabricModules {
			dir := fmt.Sprintf("%s/modules/m%03d", base, m)
			calls := fabricModuleCalls(m)
			p := CorpusProject{Dir: dir}
			for _, cm := range calls {
				p.Modules = append(p.Modules, fmt.Sprintf("%s/modules/m%03d", base, cm))
			}
			for f := range fabricDirFiles {
				if err := write(fmt.Sprintf("%s/f%d.tf", dir, f), fabricFile(m, f, "../", calls)); err != nil {
					return nil, err
				}
			}
			if err := write(dir+"/versions.tofu", fabricVersions); err != nil {
				return nil, err
			}
			c.Projects = append(c.Projects, p)
		}
		for s := range fabricStages {
			dir := fmt.Sprintf("%s/fast/stages/s%02d", base, s)
			var calls []int
			for i := range fabricStageCalls {
				calls = append(calls, fabricMiddle+(s*7+i*3)%(fabricModules-fabricMiddle))
			}
			p := CorpusProject{Dir: dir}
			for _, cm := range calls {
				p.Modules = append(p.Modules, fmt.Sprintf("%s/modules/m%03d", base, cm))
			}
			for f := range fabricDirFiles {
				if err := write(fmt.Sprintf("%s/f%d.tf", dir, f), fabricFile(1000+s, f, "../../../modules/", calls)); err != nil {
					return nil, err
				}
			}
			c.Projects = append(c.Projects, p)
		}
	}
	return c, nil
}

// fabricModuleCalls are the modules module m calls: leaves none, middle
// ones two leaves, top ones two middle ones (so three levels below a stage).
func fabricModuleCalls(m int) []int {
	switch {
	case m < fabricLeaves:
		return nil
	case m < fabricMiddle:
		return []int{m % fabricLeaves, (m*3 + 1) % fabricLeaves}
	}
	span := fabricMiddle - fabricLeaves
	return []int{fabricLeaves + m%span, fabricLeaves + (m*7+3)%span}
}

const fabricVersions = `terraform {
  required_version = ">= 1.7.4"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0.0, < 7.0.0"
    }
  }
}
`

// fabricFile is file f of module or stage n, calling the modules in calls
// (the first file) through prefix. Files grow from a few hundred bytes to
// several kilobytes, like fabric's main.tf and variables.tf.
func fabricFile(n, f int, prefix string, calls []int) string {
	var sb strings.Builder
	switch f {
	case 0:
		sb.WriteString("terraform {\n  backend \"gcs\" {}\n}\n")
		sb.WriteString(strings.Replace(fabricVersions, "terraform {\n", "terraform {\n  # pinned like fabric's versions.tf\n", 1))
		for i, cm := range calls {
			fmt.Fprintf(&sb, `
module "m%[1]d" {
  source     = "%[2]sm%03[3]d"
  project_id = var.project_id
  name       = "${var.prefix}-m%[1]d"
  labels     = local.labels
  iam = {
    for k, v in local.members_%[4]d : "roles/${k}" => [v]
  }
}
`, i, prefix, cm, n%2)
		}
	case 1:
		sb.WriteString(`variable "project_id" {
  description = "Project id."
  type        = string
}

variable "prefix" {
  description = "Prefix used for resource names."
  type        = string
  default     = "fab"
  validation {
    condition     = var.prefix != ""
    error_message = "Prefix cannot be empty."
  }
}

variable "labels" {
  description = "Resource labels."
  type        = map(string)
  default     = {}
}

variable "name" {
  type    = string
  default = "x"
}

variable "iam" {
  type    = map(list(string))
  default = {}
}

variable "buckets" {
  description = "Buckets keyed by name."
  type = map(object({
    location      = optional(string, "EU")
    storage_class = optional(string, "STANDARD")
    versioning    = optional(bool, true)
    labels        = optional(map(string), {})
  }))
  default = {
`)
		for i := range 8 {
			fmt.Fprintf(&sb, "    b%d = { location = \"EU\", labels = { idx = \"%d\" } }\n", i, i)
		}
		sb.WriteString("  }\n}\n")
	case 2:
		sb.WriteString("locals {\n  labels = merge(var.labels, { module = \"" + fmt.Sprint(n) + "\" })\n")
		for _, half := range []int{0, 1} {
			fmt.Fprintf(&sb, "  members_%d = {\n", half)
			for i := range fabricLocals {
				fmt.Fprintf(&sb, "    \"role%02d.user\" = \"serviceAccount:sa-%d-%d@${var.project_id}.iam.gserviceaccount.com\"\n", i, half, i)
			}
			sb.WriteString("  }\n")
		}
		sb.WriteString(`  subnets = {
    for k, v in var.buckets : k => {
      region = v.location == "EU" ? "europe-west1" : "us-central1"
      cidr   = cidrsubnet("10.0.0.0/8", 8, index(keys(var.buckets), k))
    }
  }
  flat_iam = flatten([
    for role, members in var.iam : [
      for m in members : { role = role, member = m }
    ]
  ])
}
`)
	case 3:
		sb.WriteString(`resource "google_storage_bucket" "default" {
  for_each                    = var.buckets
  project                     = var.project_id
  name                        = "${var.prefix}-${each.key}"
  location                    = each.value.location
  storage_class               = each.value.storage_class
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  labels                      = merge(local.labels, each.value.labels)
  versioning {
    enabled = each.value.versioning
  }
  dynamic "lifecycle_rule" {
    for_each = { for i, age in [30, 60, 90] : tostring(i) => age }
    content {
      condition {
        age = lifecycle_rule.value
      }
      action {
        type = "Delete"
      }
    }
  }
}

resource "google_project_iam_member" "default" {
  for_each = { for b in local.flat_iam : "${b.role}/${b.member}" => b }
  project  = var.project_id
  role     = each.value.role
  member   = each.value.member
}
`)
	case 4:
		for i := range 6 {
			fmt.Fprintf(&sb, `resource "google_compute_subnetwork" "s%[1]d" {
  for_each      = local.subnets
  project       = var.project_id
  name          = "${var.prefix}-${each.key}-%[1]d"
  region        = each.value.region
  network       = "default"
  ip_cidr_range = each.value.cidr
  secondary_ip_range {
    range_name    = "pods-%[1]d"
    ip_cidr_range = cidrsubnet(each.value.cidr, 4, %[1]d)
  }
}

`, i)
		}
	case 5:
		sb.WriteString(`output "buckets" {
  description = "Bucket names."
  value       = { for k, v in google_storage_bucket.default : k => v.name }
}

output "subnets" {
  value = local.subnets
}

output "id" {
  value = "projects/${var.project_id}"
}
`)
	}
	return sb.String()
}
