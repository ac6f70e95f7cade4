package main

import (
	"flag"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hmarr/codeowners"
	"github.com/tfpr/tfpr/internal/testenv"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files")

const testSettings = `{
  "repository": "Acme/microservices-terraform",
  "state_bucket": "acme-tfstate",
  "billing_account": "000000-000000-000000",
  "folders": {"dev": "111111111111", "prod": "222222222222", "staging": "333333333333"},
  "workload_identity_pool": "acme-platform.svc.id.goog",
  "tfpr_service_account": "tfpr@acme-platform.iam.gserviceaccount.com",
  "team_group": "gke-security-groups-{team}@acme.example",
  "module_source": "acme/platform/google//modules/microservice",
  "module_version": "1.4.2"
}
`

// serviceRepo is a monorepo with settings, a copy of modules/ and a
// CODEOWNERS file with other entries.
func serviceRepo(t *testing.T, settings string) string {
	t.Helper()
	repo := repoWithModules(t)
	writeFile(t, filepath.Join(repo, "new-service.json"), settings)
	writeFile(t, filepath.Join(repo, "CODEOWNERS"), "# platform\n* @acme/platform\n/modules/ @acme/platform\n")
	return repo
}

// snapshot reads every file under dir.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		if !d.IsDir() {
			raw, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			rel, _ := filepath.Rel(dir, p)
			out[filepath.ToSlash(rel)] = string(raw)
		}
		return nil
	})
	return out
}

func TestNewServiceRefusesBadInput(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"upper-case name", []string{"Orders", "--owners", "@acme/orders"}, 2, `service name "Orders" is not a valid service id`},
		{"digit first", []string{"1orders", "--owners", "@acme/orders"}, 2, "not a valid service id"},
		{"trailing hyphen", []string{"orders-", "--owners", "@acme/orders"}, 2, "not a valid service id"},
		{"double hyphen", []string{"ord--ers", "--owners", "@acme/orders"}, 2, "not a valid service id"},
		{"underscore", []string{"ord_ers", "--owners", "@acme/orders"}, 2, "not a valid service id"},
		{"path", []string{"../orders", "--owners", "@acme/orders"}, 2, "not a valid service id"},
		{"too short for a project id", []string{"ab", "--owners", "@acme/orders", "--envs", "qa"}, 2, `project id "ab-qa" is shorter than 6 characters`},
		{"runner account too long", []string{"order-fulfilment-svc", "--owners", "@acme/orders"}, 2, "tf-ro-order-fulfilment-svc-prod would be 31 characters"},
		{"too short for an account id", []string{"a", "--owners", "@acme/orders", "--envs", "prod"}, 2, "application account id app-a is shorter than 6 characters"},
		{"no owners", []string{"orders"}, 2, "--owners is required"},
		{"owner without @", []string{"orders", "--owners", "acme/orders"}, 2, `"acme/orders" is not a GitHub user (@name) or team (@org/team)`},
		{"owner with empty team", []string{"orders", "--owners", "@acme/"}, 2, "is not a GitHub user"},
		{"owner twice", []string{"orders", "--owners", "@acme/orders,@acme/orders"}, 2, "@acme/orders is listed twice"},
		{"upper-case env", []string{"orders", "--owners", "@acme/orders", "--envs", "Dev"}, 2, `--envs: "Dev" is not a valid environment`},
		{"env twice", []string{"orders", "--owners", "@acme/orders", "--envs", "dev,dev"}, 2, "dev is listed twice"},
		{"no envs", []string{"orders", "--owners", "@acme/orders", "--envs", ","}, 2, "--envs is empty"},
		{"env without folder", []string{"orders", "--owners", "@acme/orders", "--envs", "dev,qa"}, 2, `folders has no folder for environment "qa"`},
		{"no name", []string{"--owners", "@acme/orders"}, 2, "missing NAME"},
		{"two names", []string{"orders", "--owners", "@acme/orders", "payments"}, 2, "unexpected arguments"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			repo := serviceRepo(t, testSettings)
			before := snapshot(t, repo)
			code, out, errOut := runCLI(append([]string{"new-service"}, append(tc.args, "--repo", repo)...)...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q (stdout %q)", code, errOut, tc.code, tc.want, out)
			}
			if after := snapshot(t, repo); !maps.Equal(before, after) {
				t.Errorf("a refused new-service changed the repository")
			}
		})
	}
}

func TestNewServiceSettingsErrors(t *testing.T) {
	tests := []struct {
		name, settings, want string
	}{
		{"unknown field", strings.Replace(testSettings, `"state_bucket"`, `"state_bukket"`, 1), `new-service.json:3: json: unknown field "state_bukket"`},
		{"syntax", "{\n  \"state_bucket\": \"b\",\n  oops\n}\n", "new-service.json:3: invalid character 'o'"},
		{"missing bucket", strings.Replace(testSettings, `"state_bucket": "acme-tfstate",`, "", 1), "state_bucket is required"},
		{"floating version", strings.Replace(testSettings, `"1.4.2"`, `"~> 1.4"`, 1), `module_version "~> 1.4" must pin an exact version`},
		{"bad executor", strings.Replace(testSettings, `"module_version"`, `"executor": "ssh", "module_version"`, 1), `executor "ssh" is neither`},
		{"repository needed", strings.Replace(testSettings, `"repository": "Acme/microservices-terraform",`, "", 1), "repository must be owner/name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			repo := serviceRepo(t, tc.settings)
			code, _, errOut := runCLI("new-service", "orders", "--owners", "@acme/orders", "--repo", repo)
			if code != 2 || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit 2 and %q", code, errOut, tc.want)
			}
		})
	}
	code, _, errOut := runCLI("new-service", "orders", "--owners", "@acme/orders", "--repo", t.TempDir())
	if code != 2 || !strings.Contains(errOut, "new-service.json") {
		t.Errorf("no settings file: exit %d, stderr %q", code, errOut)
	}
}

func TestNewServiceRefusesExistingService(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"hand-written service", map[string]string{"microservices/orders/dev/main.tf": "terraform {\n  backend \"gcs\" {}\n}\n"},
			"service orders already exists: microservices/orders/dev/main.tf differs"},
		{"other files in the service", map[string]string{"microservices/orders/staging/main.tf": "# staging\n"},
			"service orders already exists: microservices/orders/staging/main.tf is not a file new-service writes"},
		{"other owners in CODEOWNERS", map[string]string{"CODEOWNERS": "* @acme/platform\n/microservices/orders/ @acme/someone-else\n"},
			"CODEOWNERS:2 already assigns /microservices/orders/ to @acme/someone-else"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			repo := serviceRepo(t, testSettings)
			for p, body := range tc.files {
				writeFile(t, filepath.Join(repo, p), body)
			}
			before := snapshot(t, repo)
			code, _, errOut := runCLI("new-service", "orders", "--owners", "@acme/orders", "--repo", repo)
			if code != 1 || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit 1 and %q", code, errOut, tc.want)
			}
			if after := snapshot(t, repo); !maps.Equal(before, after) {
				t.Errorf("a refused new-service changed the repository")
			}
		})
	}
}

// TestNewServiceDryRun compares the diff with a golden file and checks
// that nothing was written.
func TestNewServiceDryRun(t *testing.T) {
	repo := serviceRepo(t, testSettings)
	writeFile(t, filepath.Join(repo, "CODEOWNERS"), "# platform\n* @acme/platform\n/modules/ @acme/platform") // no final newline
	before := snapshot(t, repo)
	code, out, errOut := runCLI("new-service", "orders", "--owners", "@acme/team-orders,@carol", "--envs", "dev,prod", "--repo", repo, "--dry-run")
	if code != 0 {
		t.Fatalf("dry run exited %d: %s", code, errOut)
	}
	if after := snapshot(t, repo); !maps.Equal(before, after) {
		t.Errorf("--dry-run changed the repository")
	}
	golden := filepath.Join("testdata", "newservice", "orders.diff")
	if *updateGolden {
		writeFile(t, golden, out)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/tfpr -run TestNewServiceDryRun -update)", err)
	}
	if out != string(want) {
		t.Errorf("dry-run diff differs from %s (-update rewrites it):\n%s", golden, out)
	}
	// What the diff shows is what a real run writes.
	if code, _, errOut := runCLI("new-service", "orders", "--owners", "@acme/team-orders,@carol", "--repo", repo); code != 0 {
		t.Fatalf("new-service exited %d: %s", code, errOut)
	}
	// git apply of the diff on the untouched repository gives what the run
	// wrote.
	applied := t.TempDir()
	for p, body := range before {
		writeFile(t, filepath.Join(applied, p), body)
	}
	patch := filepath.Join(t.TempDir(), "orders.diff")
	writeFile(t, patch, out)
	cmd := exec.CommandContext(t.Context(), "git", "apply", patch)
	cmd.Dir = applied
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git apply of the dry-run diff: %v\n%s", err, msg)
	}
	if got, want := snapshot(t, applied), snapshot(t, repo); !maps.Equal(got, want) {
		t.Errorf("the dry-run diff applied with git apply differs from what new-service wrote")
	}
}

// TestNewServiceIdempotent runs new-service twice: the second run changes
// nothing and says so; with an added environment it writes only that one.
func TestNewServiceIdempotent(t *testing.T) {
	repo := serviceRepo(t, testSettings)
	code, out, errOut := runCLI("new-service", "orders", "--owners", "@acme/orders", "--repo", repo)
	if code != 0 {
		t.Fatalf("first run exited %d: %s", code, errOut)
	}
	if !strings.Contains(out, "created microservices/orders/prod/main.tf") || !strings.Contains(out, "updated CODEOWNERS") {
		t.Errorf("first run output: %q", out)
	}
	first := snapshot(t, repo)
	code, out, errOut = runCLI("new-service", "orders", "--owners", "@acme/orders", "--repo", repo)
	if code != 0 || out != "microservices/orders is up to date\n" {
		t.Fatalf("second run: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if again := snapshot(t, repo); !maps.Equal(first, again) {
		t.Errorf("the second run changed the repository")
	}
	if code, out, _ = runCLI("new-service", "orders", "--owners", "@acme/orders", "--repo", repo, "--dry-run"); code != 0 || out != "microservices/orders is up to date\n" {
		t.Errorf("dry run after the service exists: exit %d, %q", code, out)
	}
	if n := strings.Count(first["CODEOWNERS"], "/microservices/orders/"); n != 1 {
		t.Errorf("CODEOWNERS names the service %d times:\n%s", n, first["CODEOWNERS"])
	}
}

// TestNewServiceCodeowners checks the edit keeps every other line in its
// order, and that GitHub's matching then gives the service to its owners
// and everything else to whom it belonged.
func TestNewServiceCodeowners(t *testing.T) {
	repo := serviceRepo(t, testSettings)
	os.Remove(filepath.Join(repo, "CODEOWNERS"))
	old := "# Owners\n\n*       @acme/platform\n/modules/   @acme/platform @acme/sre\n/microservices/payments/ @acme/payments\n*.md @acme/docs\n"
	writeFile(t, filepath.Join(repo, ".github", "CODEOWNERS"), old)
	if code, _, errOut := runCLI("new-service", "orders", "--owners", "@acme/orders,@dave", "--envs", "dev", "--repo", repo); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(repo, "CODEOWNERS")); err == nil {
		t.Errorf("new-service created a second CODEOWNERS next to .github/CODEOWNERS")
	}
	raw, _ := os.ReadFile(filepath.Join(repo, ".github", "CODEOWNERS"))
	if want := old + "/microservices/orders/ @acme/orders @dave\n"; string(raw) != want {
		t.Fatalf("CODEOWNERS =\n%s\nwant\n%s", raw, want)
	}
	rules, err := codeowners.ParseFile(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string][]string{
		"microservices/orders/dev/main.tf":    {"@acme/orders", "@dave"},
		"microservices/orders/README.md":      {"@acme/orders", "@dave"},
		"microservices/payments/dev/main.tf":  {"@acme/payments"},
		"modules/spanner/main.tf":             {"@acme/platform", "@acme/sre"},
		"microservices/ordersx/dev/main.tf":   {"@acme/platform"},
		"microservices/billing/prod/notes.md": {"@acme/docs"},
	} {
		rule, err := rules.Match(file)
		if err != nil || rule == nil {
			t.Errorf("%s has no owner (%v)", file, err)
			continue
		}
		var got []string
		for _, o := range rule.Owners {
			got = append(got, o.String())
		}
		if !slices.Equal(got, want) {
			t.Errorf("owners of %s = %v, want %v", file, got, want)
		}
	}
}

// TestNewServiceOutputPasses checks what new-service writes, with the
// platform module from the registry (pinned) and from the repository: fmt
// -check with the real terraform and no denial from tfpr lint.
func TestNewServiceOutputPasses(t *testing.T) {
	tf := testenv.Terraform(t)
	for _, tc := range []struct{ name, settings string }{
		{"registry module", testSettings},
		{"local module", strings.Replace(strings.Replace(testSettings, `"acme/platform/google//modules/microservice"`, `"../../../modules/microservice"`, 1), `"1.4.2"`, `""`, 1)},
		{"kubernetes-job executor", strings.Replace(testSettings, `"module_version"`, `"executor": "kubernetes-job", "module_version"`, 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := serviceRepo(t, tc.settings)
			for _, args := range [][]string{
				{"orders", "--owners", "@acme/team-orders"},
				{"payments", "--owners", "@acme/payments,@erin", "--envs", "dev,staging,prod"},
			} {
				if code, _, errOut := runCLI(append([]string{"new-service"}, append(args, "--repo", repo)...)...); code != 0 {
					t.Fatalf("new-service %v exited %d: %s", args, code, errOut)
				}
			}
			terraformFmtCheck(t, tf, filepath.Join(repo, "microservices"))
			assertNoDenials(t, repo)
			main, _ := os.ReadFile(filepath.Join(repo, "microservices/payments/staging/main.tf"))
			vars, _ := os.ReadFile(filepath.Join(repo, "microservices/payments/staging/variables.tf"))
			for _, want := range []string{`backend "gcs" {}`, `project = "payments-staging"`, `module "service"`} {
				if !strings.Contains(string(main), want) {
					t.Errorf("main.tf lacks %q:\n%s", want, main)
				}
			}
			for _, want := range []string{`"333333333333"`, `"acme/microservices-terraform/microservices/payments/staging"`, `"gke-security-groups-payments@acme.example"`} {
				if !strings.Contains(string(vars), want) {
					t.Errorf("variables.tf lacks %q:\n%s", want, vars)
				}
			}
		})
	}
}

// TestNewServiceSettingsStayLiteral checks a setting holding quotes or a
// template sequence is written as the literal it is.
func TestNewServiceSettingsStayLiteral(t *testing.T) {
	repo := serviceRepo(t, strings.Replace(testSettings, `"gke-security-groups-{team}@acme.example"`, `"g-${file(\"/etc/passwd\")}-{team}\"x"`, 1))
	if code, _, errOut := runCLI("new-service", "orders", "--owners", "@acme/orders", "--envs", "dev", "--repo", repo); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	raw, _ := os.ReadFile(filepath.Join(repo, "microservices/orders/dev/variables.tf"))
	if want := `default     = "g-$${file(\"/etc/passwd\")}-orders\"x"`; !strings.Contains(string(raw), want) {
		t.Errorf("variables.tf lacks %s:\n%s", want, raw)
	}
	assertNoDenials(t, repo)
}
