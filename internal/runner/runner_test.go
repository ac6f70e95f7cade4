package runner

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tfpr/tfpr/internal/store"
	"github.com/tfpr/tfpr/webhook"
)

func testRunner(t *testing.T) (*Runner, *store.SQLite) {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "tfpr.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &Runner{store: st, log: slog.New(slog.DiscardHandler), wake: make(chan struct{}, 1)}, st
}

func TestDispatchTurnsEventsIntoJobs(t *testing.T) {
	repo := webhook.Repo{ID: 1, FullName: "acme/infra", CloneURL: "https://github.com/acme/infra.git", DefaultBranch: "main"}
	meta := webhook.Meta{Installation: 9, Repo: repo}
	pr := func(action string, mut func(*webhook.PullRequest)) webhook.Event {
		p := webhook.PullRequest{Number: 4, HeadSHA: "h", BaseRef: "main", BaseSHA: "b", Author: "alice"}
		if mut != nil {
			mut(&p)
		}
		return webhook.PullRequestEvent{M: meta, Action: action, PR: p}
	}
	tests := []struct {
		name string
		ev   webhook.Event
		kind store.JobKind // "" for no job
		sha  string
	}{
		{"opened", pr("opened", nil), store.JobPR, "h"},
		{"synchronize", pr("synchronize", nil), store.JobPR, "h"},
		{"PR into another branch", pr("opened", func(p *webhook.PullRequest) { p.BaseRef = "release" }), "", ""},
		{"merged", pr("closed", func(p *webhook.PullRequest) { p.Merged, p.MergeCommitSHA, p.MergedBy = true, "m", "carol" }), store.JobMerge, "m"},
		{"closed unmerged", pr("closed", nil), store.JobClose, "h"},
		{"push to main", webhook.PushEvent{M: meta, Ref: "refs/heads/main", Before: "a", After: "m2"}, store.JobMerge, "m2"},
		{"push to a branch", webhook.PushEvent{M: meta, Ref: "refs/heads/feature", After: "x"}, "", ""},
		{"branch deleted", webhook.PushEvent{M: meta, Ref: "refs/heads/main", Deleted: true}, "", ""},
		{"command", webhook.CommentEvent{M: meta, Action: "created", Number: 4, IsPR: true, Body: "looks good\ntfpr plan", Author: "bob"}, store.JobCommand, ""},
		{"chatter", webhook.CommentEvent{M: meta, Action: "created", Number: 4, Body: "the tfpr plan looks fine", Author: "bob"}, "", ""},
		{"tfpr's own comment", webhook.CommentEvent{M: meta, Action: "created", Number: 4, Body: "tfpr plan", Author: "tfpr[bot]"}, "", ""},
		{"ping", webhook.PingEvent{M: meta}, "", ""},
		{"re-run of a plan check", webhook.CheckRunEvent{M: meta, Action: "rerequested", ExternalID: "plan:microservices/a/dev", HeadSHA: "h2",
			PRs: []webhook.CheckRunPR{{Number: 4, BaseRef: "main", HeadSHA: "h2"}}}, store.JobPR, "h2"},
		{"re-run of an apply check", webhook.CheckRunEvent{M: meta, Action: "rerequested", ExternalID: "apply:microservices/a/dev", HeadSHA: "m",
			PRs: []webhook.CheckRunPR{{Number: 4, BaseRef: "main"}}}, "", ""},
		{"re-run of someone else's check", webhook.CheckRunEvent{M: meta, Action: "rerequested", ExternalID: "", HeadSHA: "h2",
			PRs: []webhook.CheckRunPR{{Number: 4, BaseRef: "main"}}}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, st := testRunner(t)
			if err := r.Dispatch(context.Background(), tt.ev); err != nil {
				t.Fatal(err)
			}
			jobs, err := st.ClaimJobs(context.Background(), 10)
			if err != nil {
				t.Fatal(err)
			}
			if tt.kind == "" {
				if len(jobs) != 0 {
					t.Fatalf("want no job, got %+v", jobs)
				}
				return
			}
			if len(jobs) != 1 || jobs[0].Kind != tt.kind || jobs[0].Repo.Installation != 9 || jobs[0].Repo.CloneURL != repo.CloneURL {
				t.Fatalf("jobs = %+v, want one %s job", jobs, tt.kind)
			}
			if got := jobs[0].SHA + jobs[0].HeadSHA; tt.sha != "" && !strings.Contains(got, tt.sha) {
				t.Fatalf("job commit = %q, want %q", got, tt.sha)
			}
			if tt.kind == store.JobMerge && jobs[0].PR == 4 {
				if m, err := st.MergeFor(context.Background(), "acme/infra", "m"); err != nil || m.PR != 4 || m.MergedBy != "carol" {
					t.Fatalf("merge not recorded for the apply to report to: %+v %v", m, err)
				}
			}
		})
	}
}

func TestDispatchSkipsAPendingPlanOfTheSameHead(t *testing.T) {
	r, st := testRunner(t)
	ev := webhook.PullRequestEvent{M: webhook.Meta{Installation: 1, Repo: webhook.Repo{FullName: "a/b", DefaultBranch: "main"}}, Action: "opened",
		PR: webhook.PullRequest{Number: 1, HeadSHA: "h", BaseRef: "main"}}
	for i := 0; i < 3; i++ {
		if err := r.Dispatch(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	if jobs, _ := st.ClaimJobs(context.Background(), 10); len(jobs) != 1 {
		t.Fatalf("%d jobs for one head, want 1", len(jobs))
	}
}

func TestCommandParsing(t *testing.T) {
	tests := []struct {
		body    string
		args    []string
		targets []string
		bad     bool
	}{
		{"tfpr plan", []string{"plan"}, nil, false},
		{"LGTM\ntfpr plan -p microservices/a/dev/ -p microservices/b/dev", []string{"plan", "-p", "microservices/a/dev/", "-p", "microservices/b/dev"}, []string{"microservices/a/dev", "microservices/b/dev"}, false},
		{"tfpr plan -x", []string{"plan", "-x"}, nil, true},
		{"tfpr plan -p", []string{"plan", "-p"}, nil, true},
		{"  tfpr   help  ", []string{"help"}, nil, false},
	}
	for _, tt := range tests {
		args := commandArgs(tt.body)
		if strings.Join(args, " ") != strings.Join(tt.args, " ") {
			t.Errorf("commandArgs(%q) = %q, want %q", tt.body, args, tt.args)
			continue
		}
		got, err := planTargets(args[1:])
		if (err != nil) != tt.bad || strings.Join(got, ",") != strings.Join(tt.targets, ",") {
			t.Errorf("planTargets(%q) = %q, %v", args[1:], got, err)
		}
	}
}

func TestImpersonator(t *testing.T) {
	imp := Impersonator("tf-{service}-{env}@{platform_project}.iam.gserviceaccount.com", "ro-{service}-{env}@{platform_project}.iam.gserviceaccount.com", "plat")
	if sa, err := imp("acme/infra", "microservices/alpha/prod", ModeApply); err != nil || sa != "tf-alpha-prod@plat.iam.gserviceaccount.com" {
		t.Errorf("apply: %q %v", sa, err)
	}
	if sa, err := imp("acme/infra", "microservices/alpha/prod", ModePlan); err != nil || sa != "ro-alpha-prod@plat.iam.gserviceaccount.com" {
		t.Errorf("plan: %q %v", sa, err)
	}
	// A directory placed deeper cannot borrow another team's account.
	for _, p := range []string{"microservices/beta/alpha/prod", "platform/net", "microservices/alpha"} {
		if sa, err := imp("acme/infra", p, ModeApply); err == nil {
			t.Errorf("%s outside the layout got service account %q", p, sa)
		}
	}
	if sa, err := Impersonator("", "", "")("acme/infra", "anything/at/all", ModeApply); err != nil || sa != "" {
		t.Errorf("without a template no impersonation is expected: %q %v", sa, err)
	}
}

func TestTerraformEnvIsAnAllowlist(t *testing.T) {
	env := map[string]string{"PATH": "/bin", "HOME": "/home/tfpr", "GOOGLE_OAUTH_ACCESS_TOKEN": "ya29", "TFPR_GITHUB_WEBHOOK_SECRET": "s",
		"GITHUB_TOKEN": "ghs_x", "AWS_SECRET_ACCESS_KEY": "k", "EXTRA": "1"}
	got, err := TerraformEnv(func(k string) string { return env[k] }, []string{"EXTRA"})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"PATH", "HOME", "GOOGLE_OAUTH_ACCESS_TOKEN", "EXTRA"} {
		if got[k] != env[k] {
			t.Errorf("%s not passed through", k)
		}
	}
	for _, k := range []string{"TFPR_GITHUB_WEBHOOK_SECRET", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY"} {
		if _, ok := got[k]; ok {
			t.Errorf("%s reached terraform", k)
		}
	}
	if _, err := TerraformEnv(func(string) string { return "" }, []string{"TFPR_GITHUB_WEBHOOK_SECRET"}); err == nil {
		t.Error("opting a TFPR_ setting into terraform's environment must be refused")
	}
}

func TestPathKeysDoNotCollide(t *testing.T) {
	if pathKey("a/b__c") == pathKey("a__b/c") || pathKey("a/b.c") == pathKey("a/b_c") {
		t.Fatal("distinct projects share a plan key")
	}
	if strings.ContainsAny(pathKey("../../etc"), "/") {
		t.Fatal("plan key contains a path separator")
	}
}

func TestRepositoryIsPartOfStateAndIdentity(t *testing.T) {
	if a, b := StatePrefix("", "acme/infra", "microservices/beta/prod"), StatePrefix("", "Other/Infra", "microservices/beta/prod"); a != "acme/infra/microservices/beta/prod" || b != "other/infra/microservices/beta/prod" {
		t.Errorf("default prefixes = %q, %q", a, b)
	}
	if p := StatePrefix("{dir}", "acme/infra", "microservices/beta/prod"); p != "microservices/beta/prod" {
		t.Errorf("operator's dir-only prefix = %q", p)
	}
	imp := Impersonator("tf-{repo}-{service}-{env}@{owner}.iam.gserviceaccount.com", "", "")
	a, _ := imp("acme/infra", "microservices/beta/prod", ModeApply)
	b, _ := imp("acme/infra-two", "microservices/beta/prod", ModeApply)
	if a != "tf-infra-beta-prod@acme.iam.gserviceaccount.com" || a == b {
		t.Errorf("accounts for beta/prod in two repositories = %q, %q", a, b)
	}
}

func TestCapProjectsListsTheOverflow(t *testing.T) {
	var ps []string
	for i := range 120 {
		ps = append(ps, fmt.Sprintf("microservices/s%03d/dev", i))
	}
	run, skipped := capProjects(ps, 10)
	if len(run) != 10 || run[9] != "microservices/s009/dev" || len(skipped) != 110 {
		t.Fatalf("cap 10 ran %d, skipped %d", len(run), len(skipped))
	}
	note := overflowNote(len(run), skipped)
	for _, want := range []string{"affects 120 projects", "TFPR_MAX_PROJECTS_PER_PR", "`microservices/s010/dev`", "and 60 more"} {
		if !strings.Contains(note, want) {
			t.Errorf("note lacks %q: %s", want, note)
		}
	}
	if strings.Contains(note, "s060") {
		t.Errorf("note names more than %d projects", overflowListed)
	}
	if run, skipped := capProjects(ps[:3], 10); len(run) != 3 || skipped != nil {
		t.Errorf("under the cap: ran %d, skipped %v", len(run), skipped)
	}
}
