package policy_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tfpr/tfpr/internal/policy"
	"github.com/tfpr/tfpr/policies"
)

// corpus shape: 150 services x 2 envs = 300 projects of 10 files, and 100
// modules of 20 files: 5,000 files. Every project calls 3 modules.
const (
	benchServices     = 150
	benchProjectFiles = 10
	benchModules      = 100
	benchModuleFiles  = 20
	benchModuleCalls  = 3
)

type benchProject struct {
	dir     string
	modules []string
}

func writeCorpus(b *testing.B, root string) ([]benchProject, int) {
	b.Helper()
	write := func(rel, content string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	files := 0
	for m := range benchModules {
		dir := fmt.Sprintf("modules/m%03d", m)
		for f := range benchModuleFiles {
			write(fmt.Sprintf("%s/f%02d.tf", dir, f), moduleFile(m, f))
			files++
		}
	}
	var projects []benchProject
	for s := range benchServices {
		for _, env := range []string{"dev", "prod"} {
			svc := fmt.Sprintf("svc%03d", s)
			p := benchProject{dir: fmt.Sprintf("microservices/%s/%s", svc, env)}
			for c := range benchModuleCalls {
				p.modules = append(p.modules, fmt.Sprintf("modules/m%03d", (s+c*37)%benchModules))
			}
			for f := range benchProjectFiles {
				write(fmt.Sprintf("%s/f%02d.tf", p.dir, f), projectFile(svc, env, f, p.modules))
				files++
			}
			projects = append(projects, p)
		}
	}
	return projects, files
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
