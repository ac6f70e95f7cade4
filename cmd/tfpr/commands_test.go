package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/tfpr/tfpr/internal/store"
)

func TestVersion(t *testing.T) {
	vcs := func(settings ...debug.BuildSetting) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) {
			return &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}, Settings: settings}, true
		}
	}
	tests := []struct {
		name                   string
		stampV, stampC, stampD string
		read                   func() (*debug.BuildInfo, bool)
		want                   string
	}{
		{"make build stamps", "v2.0.0", "abc123", "2026-01-02T03:04:05Z", vcs(), "tfpr v2.0.0\ncommit: abc123\nbuilt:  2026-01-02T03:04:05Z\n"},
		{"go build records VCS", "", "", "", vcs(debug.BuildSetting{Key: "vcs.revision", Value: "def456"},
			debug.BuildSetting{Key: "vcs.time", Value: "2026-02-03T04:05:06Z"}, debug.BuildSetting{Key: "vcs.modified", Value: "true"}),
			"tfpr v1.2.3\ncommit: def456 (modified)\nbuilt:  2026-02-03T04:05:06Z\n"},
		{"nothing known", "", "", "", func() (*debug.BuildInfo, bool) { return nil, false }, "tfpr dev\ncommit: unknown\nbuilt:  unknown\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			version, commit, date = tc.stampV, tc.stampC, tc.stampD
			t.Cleanup(func() { version, commit, date = "", "", "" })
			if got := currentBuild(tc.read).String(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	if code, out, _ := runCLI("version"); code != 0 || !strings.Contains(out, "commit: ") || !strings.Contains(out, "built: ") {
		t.Errorf("tfpr version: %d %q", code, out)
	}
}

func TestHelpExitsZeroEverywhere(t *testing.T) {
	for _, args := range [][]string{
		{"-h"}, {"help"}, {"server", "-h"}, {"lint", "-h"}, {"lint", ".", "--help"}, {"audit", "-h"},
		{"policy", "-h"}, {"policy", "test", "-h"}, {"policy", "list", "-h"},
	} {
		code, out, errOut := runCLI(args...)
		if code != 0 {
			t.Errorf("tfpr %s exited %d", strings.Join(args, " "), code)
		}
		if strings.Contains(out+errOut, " value\n") {
			t.Errorf("tfpr %s help shows a bare \"value\" argument name:\n%s%s", strings.Join(args, " "), out, errOut)
		}
	}
}

func TestPolicyList(t *testing.T) {
	code, out, errOut := runCLI("policy", "list")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	flat := strings.Join(lines, "\n")
	for _, want := range []string{"ID STAGE SEVERITY TITLE\n", "\nTFPR001 hcl deny data \"external\" is not allowed\n",
		"\nTFPR012 hcl,plan deny SSH or RDP open to the internet\n", "\nTFPR102 plan deny too many resources destroyed\n",
		"\nunsafe-path hcl deny ", "\nfile-read hcl deny ", "\ncredential-config hcl deny setting picks credentials or an endpoint (built in)\n"} {
		if !strings.Contains(flat, want) {
			t.Errorf("policy list lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCLI("policy", "list", "--format", "json")
	var rules []struct{ ID, Stage, Severity, Title string }
	if code != 0 || json.Unmarshal([]byte(out), &rules) != nil || len(rules) < 14 || rules[0].ID != "TFPR001" {
		t.Errorf("policy list --format json: %d %s", code, out)
	}
	if code, _, errOut := runCLI("policy", "list", t.TempDir()); code != 2 || !strings.Contains(errOut, "no .rego files") {
		t.Errorf("empty policy dir: %d %s", code, errOut)
	}
}

func TestAuditJSONAndMissingStore(t *testing.T) {
	dir := t.TempDir()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(dir, "tfpr.db"))
	if err != nil {
		t.Fatal(err)
	}
	id, _, _ := st.CreateRun(context.Background(), store.Run{Kind: "apply", Repo: "acme/infra", Project: "microservices/alpha/dev", PR: 12,
		SHA: "0123456789abcdef0123456789abcdef01234567", MergedBy: "carol", ApprovedBy: "dave"})
	run, _ := st.GetRun(context.Background(), id)
	run.Status, run.PlanHash, run.Summary = store.StatusSucceeded, "feedbeef00112233", "applied"
	st.FinishApply(context.Background(), run, nil)
	st.Close()
	code, out, errOut := runCLI("audit", "--data-dir", dir, "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 1 {
		t.Fatalf("not one JSON apply: %v\n%s", err, out)
	}
	want := map[string]any{"repo": "acme/infra", "project": "microservices/alpha/dev", "commit": "0123456789abcdef0123456789abcdef01234567",
		"pr": float64(12), "merged_by": "carol", "approved_by": "dave", "plan_sha256": "feedbeef00112233", "outcome": "succeeded"}
	for k, v := range want {
		if got[0][k] != v {
			t.Errorf("%s = %v, want %v", k, got[0][k], v)
		}
	}
	if _, ok := got[0]["finished"].(string); !ok {
		t.Errorf("no finished time: %v", got[0])
	}
	empty := t.TempDir()
	code, _, errOut = runCLI("audit", "--data-dir", empty)
	if code != 1 || !strings.Contains(errOut, "no store in data dir "+empty) || !strings.Contains(errOut, "--data-dir (or TFPR_DATA_DIR)") {
		t.Errorf("missing store: %d %s", code, errOut)
	}
}
