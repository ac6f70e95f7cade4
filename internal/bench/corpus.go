// Package bench holds what tfpr's benchmarks share beyond a single package:
// the generated lint corpus (also written to disk for `tfpr lint` and
// conftest), a terraform stand-in that times every invocation, and probes of
// a running tfpr process (health, resident memory).
package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The lint corpus has the shape of BenchmarkLint's in internal/policy: 150
// services x 2 envs = 300 projects of 10 files, and 100 modules of 20 files,
// 5,000 files in all. Every project calls 3 modules. Both generators must
// stay in step so that `tfpr lint`, conftest and BenchmarkLint measure the
// same files.
const (
	corpusServices     = 150
	corpusProjectFiles = 10
	corpusModules      = 100
	corpusModuleFiles  = 20
	corpusModuleCalls  = 3
)

// CorpusProject is one project of the lint corpus.
type CorpusProject struct {
	Dir     string   // repo-relative, e.g. microservices/svc007/dev
	Modules []string // repo-relative dirs of the local modules it calls
}

// Corpus is a lint corpus written to disk.
type Corpus struct {
	Root     string
	Files    int
	Projects []CorpusProject
}

// WriteLintCorpus writes the lint corpus under root, which must be empty or
// missing. The corpus is clean: tfpr's default policies find nothing in it.
func WriteLintCorpus(ctx context.Context, root string) (*Corpus, error) {
	if entries, err := os.ReadDir(root); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("write lint corpus: %s is not empty", root)
	}
	c := &Corpus{Root: root}
	write := func(rel, content string) error {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("write lint corpus: %w", err)
		}
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("write lint corpus: %w", err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return fmt.Errorf("write lint corpus: %w", err)
		}
		c.Files++
		return nil
	}
	for m := range corpusModules {
		dir := fmt.Sprintf("modules/m%03d", m)
		for f := range corpusModuleFiles {
			if err := write(fmt.Sprintf("%s/f%02d.tf", dir, f), moduleFile(m, f)); err != nil {
				return nil, err
			}
		}
	}
	for s := range corpusServices {
		for _, env := range []string{"dev", "prod"} {
			svc := fmt.Sprintf("svc%03d", s)
			p := CorpusProject{Dir: fmt.Sprintf("microservices/%s/%s", svc, env)}
			for i := range corpusModuleCalls {
				p.Modules = append(p.Modules, fmt.Sprintf("modules/m%03d", (s+i*37)%corpusModules))
			}
			for f := range corpusProjectFiles {
				if err := write(fmt.Sprintf("%s/f%02d.tf", p.Dir, f), projectFile(svc, env, f, p.Modules)); err != nil {
					return nil, err
				}
			}
			c.Projects = append(c.Projects, p)
		}
	}
	return c, nil
}

func projectFile(svc, env string, f int, modules []string) string {
	var sb strings.Builder
	project := svc + "-" + env
	if f == 0 {
		sb.WriteString(`terraform {
  required_version = ">= 1.5"
  backend "gcs" {}
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.0"
    }
  }
}

provider "google" {
  project = "` + project + `"
  region  = var.region
}

variable "region" {
  type    = string
  default = "europe-west1"
}
`)
		for i, m := range modules {
			fmt.Fprintf(&sb, "\nmodule \"m%d\" {\n  source  = \"../../../%s\"\n  project = %q\n  name    = \"%s-%d\"\n}\n", i, m, project, svc, i)
		}
		return sb.String()
	}
	fmt.Fprintf(&sb, `locals {
  labels_%[1]d = {
    service = %[2]q
    env     = %[3]q
    owner   = "team-%[2]s"
  }
}

resource "google_storage_bucket" "b%[1]d" {
  name                        = "%[4]s-b%[1]d"
  project                     = %[4]q
  location                    = "EU"
  uniform_bucket_level_access = true
  labels                      = local.labels_%[1]d

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      age = 30
    }
    action {
      type = "Delete"
    }
  }
}

resource "google_pubsub_topic" "t%[1]d" {
  name    = "topic-%[1]d"
  project = %[4]q
  labels  = { service = %[2]q, env = %[3]q, owner = "team-%[2]s" }
}

resource "google_pubsub_subscription" "s%[1]d" {
  name  = "sub-%[1]d"
  topic = google_pubsub_topic.t%[1]d.id
  ack_deadline_seconds = 20
}

resource "google_storage_bucket_iam_member" "r%[1]d" {
  bucket = google_storage_bucket.b%[1]d.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${var.region}@%[4]s.iam.gserviceaccount.com"
}

output "bucket_%[1]d" {
  value = google_storage_bucket.b%[1]d.url
}
`, f, svc, env, project)
	return sb.String()
}

func moduleFile(m, f int) string {
	if f == 0 {
		return `variable "project" {
  type = string
}

variable "name" {
  type = string
}

variable "labels" {
  type    = map(string)
  default = {}
}
`
	}
	return fmt.Sprintf(`resource "google_service_account" "sa%[1]d" {
  account_id   = "${var.name}-%[1]d"
  display_name = "module %[2]d account %[1]d"
  project      = var.project
}

resource "google_project_iam_member" "sa%[1]d" {
  project = var.project
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${google_service_account.sa%[1]d.email}"
}

resource "google_compute_firewall" "fw%[1]d" {
  name          = "${var.name}-fw-%[1]d"
  network       = "default"
  project       = var.project
  source_ranges = ["10.0.0.0/8"]

  allow {
    protocol = "tcp"
    ports    = ["443", "8080-8090"]
  }
}

output "sa%[1]d" {
  value = google_service_account.sa%[1]d.email
}
`, f, m)
}
