package webhook

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

type parseWant int

const (
	accepted       parseWant = iota // parses as is
	ignored                         // ErrIgnored
	noInstallation                  // a repository-hook sample without installation.id: rejected
)

// TestParseFixtures runs Parse over every example payload of the events tfpr
// acts on and compares the result with the JSON, read independently.
func TestParseFixtures(t *testing.T) {
	want := map[string]parseWant{
		"pull_request/assigned.payload.json":                             ignored,
		"pull_request/assigned.with-organization.payload.json":           ignored,
		"pull_request/closed.payload.json":                               accepted,
		"pull_request/closed.with-organization.payload.json":             accepted,
		"pull_request/converted_to_draft.payload.json":                   ignored,
		"pull_request/converted_to_draft.with-installation.payload.json": ignored,
		"pull_request/converted_to_draft.with-organization.payload.json": ignored,
		"pull_request/labeled.payload.json":                              ignored,
		"pull_request/labeled.with-organization.payload.json":            ignored,
		"pull_request/locked.payload.json":                               ignored,
		"pull_request/locked.with-organization.payload.json":             ignored,
		"pull_request/opened.payload.json":                               accepted,
		"pull_request/opened.with-null-body.json":                        accepted,
		"pull_request/opened.with-organization.payload.json":             accepted,
		"pull_request/ready_for_review.payload.json":                     noInstallation,
		"pull_request/ready_for_review.with-installation.payload.json":   accepted,
		"pull_request/ready_for_review.with-organization.payload.json":   noInstallation,
		"pull_request/reopened.payload.json":                             accepted,
		"pull_request/reopened.with-organization.payload.json":           accepted,
		"pull_request/review_request_removed.payload.json":               ignored,
		"pull_request/review_requested.payload.json":                     ignored,
		"pull_request/synchronize.payload.json":                          accepted,
		"pull_request/unassigned.payload.json":                           ignored,
		"pull_request/unassigned.with-organization.payload.json":         ignored,
		"pull_request/unlabeled.payload.json":                            ignored,
		"pull_request/unlabeled.with-organization.payload.json":          ignored,
		"pull_request/unlocked.payload.json":                             ignored,
		"pull_request/unlocked.with-organization.payload.json":           ignored,

		"push/1.payload.json":                          noInstallation,
		"push/payload.json":                            noInstallation,
		"push/with-installation.payload.json":          accepted,
		"push/with-new-branch.payload.json":            accepted,
		"push/with-no-username-committer.payload.json": accepted,
		"push/with-organization.payload.json":          noInstallation,

		"issue_comment/created.1.payload.json":                 noInstallation,
		"issue_comment/created.payload.json":                   noInstallation,
		"issue_comment/created.with-installation.payload.json": accepted,
		"issue_comment/created.with-organization.payload.json": noInstallation,
		"issue_comment/deleted.payload.json":                   ignored,
		"issue_comment/deleted.with-organization.payload.json": ignored,
		"issue_comment/edited.payload.json":                    ignored,
		"issue_comment/edited.with-organization.payload.json":  ignored,

		"ping/payload.json":                   accepted,
		"ping/with-app_id.payload.json":       accepted,
		"ping/with-organization.payload.json": accepted,
	}
	// A new sample in the fixture set must get an expectation here.
	for _, event := range []string{"pull_request", "push", "issue_comment", "ping"} {
		for _, rel := range fixtureFiles(t, event) {
			if _, ok := want[rel]; !ok {
				t.Errorf("fixture %s has no expectation in TestParseFixtures", rel)
			}
		}
	}

	for rel, w := range want {
		t.Run(rel, func(t *testing.T) {
			event, _, _ := strings.Cut(rel, "/")
			const delivery = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
			body := fixture(t, rel)
			ev, err := Parse(event, delivery, body)
			switch w {
			case ignored:
				if !errors.Is(err, ErrIgnored) || ev != nil {
					t.Fatalf("Parse() = %v, %v; want nil, ErrIgnored", ev, err)
				}
				return
			case noInstallation:
				if err == nil || errors.Is(err, ErrIgnored) || !strings.Contains(err.Error(), "installation.id") || !strings.Contains(err.Error(), delivery) {
					t.Fatalf("Parse() error = %v; want one naming installation.id and the delivery", err)
				}
				// The same sample as a GitHub App would send it.
				body = patch(t, body, map[string]any{"installation.id": 90001})
			}
			before := time.Now()
			ev, err = Parse(event, delivery, body)
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			got := zeroReceived(t, ev, before)
			if wantEv := eventFromJSON(t, event, delivery, body); got != wantEv {
				t.Errorf("Parse() =\n%+v\nwant (from the JSON)\n%+v", got, wantEv)
			}
		})
	}
}

func TestParseIgnoresOtherEvents(t *testing.T) {
	for _, event := range []string{"check_run", "check_suite", "installation", "installation_repositories", "pull_request_review"} {
		for _, rel := range fixtureFiles(t, event) {
			if strings.HasPrefix(rel, "check_run/rerequested") {
				continue // the Re-run button: TestParseCheckRunRerequested
			}
			t.Run(rel, func(t *testing.T) {
				ev, err := Parse(event, "d-1", fixture(t, rel))
				if !errors.Is(err, ErrIgnored) || ev != nil {
					t.Fatalf("Parse() = %v, %v; want nil, ErrIgnored", ev, err)
				}
			})
		}
	}
}

func TestParseCheckRunRerequested(t *testing.T) {
	body := patch(t, fixture(t, "check_run/rerequested.payload.json"), map[string]any{
		"check_run.external_id": "plan:microservices/alpha/dev",
		"check_run.pull_requests": []any{map[string]any{
			"number": 7,
			"head":   map[string]any{"sha": "abc", "ref": "feature", "repo": map[string]any{"id": 526, "full_name": "github/hello-world"}},
			"base":   map[string]any{"sha": "def", "ref": "master", "repo": map[string]any{"id": 526, "full_name": "github/hello-world"}},
		}},
	})
	ev, err := Parse("check_run", "d-7", body)
	if err != nil {
		t.Fatal(err)
	}
	cr, ok := ev.(CheckRunEvent)
	if !ok || cr.Action != "rerequested" || cr.ExternalID != "plan:microservices/alpha/dev" || cr.HeadSHA != "d6fde92930d4715a2b49857d24b940956b26d2d3" ||
		len(cr.PRs) != 1 || cr.PRs[0].Number != 7 || cr.PRs[0].BaseRef != "master" || cr.PRs[0].Fork || cr.M.Installation != 1 {
		t.Fatalf("Parse() = %+v", ev)
	}
	if ev, err := Parse("check_run", "d-8", fixture(t, "check_run/completed.payload.json")); !errors.Is(err, ErrIgnored) || ev != nil {
		t.Fatalf("completed check run: %v %v, want ErrIgnored", ev, err)
	}
}

// TestParseFields pins fields a user of each event relies on, including
// shapes the samples lack (merged, forks, comments on pull requests).
func TestParseFields(t *testing.T) {
	const sha = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
	tests := []struct {
		name  string
		event string
		file  string
		edits map[string]any
		check func(t *testing.T, ev Event)
	}{
		{
			name: "opened", event: "pull_request", file: "pull_request/opened.payload.json",
			check: func(t *testing.T, ev Event) {
				e := ev.(PullRequestEvent)
				wantPR := PullRequest{Number: 2, Title: "Update the README with new information.", HeadSHA: sha, HeadRef: "changes",
					HeadRepo: "Codertocat/Hello-World", BaseSHA: "f95f852bd8fca8fcc58a9a2d6c842781e32a215e", BaseRef: "master",
					Author: "Codertocat", State: "open"}
				if e.Action != "opened" || e.PR != wantPR {
					t.Errorf("got %s %+v, want opened %+v", e.Action, e.PR, wantPR)
				}
				m := e.Meta()
				if m.Installation != 1 || m.Repo.CloneURL != "https://github.com/Codertocat/Hello-World.git" || m.Repo.Owner != "Codertocat" ||
					m.Repo.Name != "Hello-World" || m.Repo.DefaultBranch != "master" || m.Sender.Login != "Codertocat" || m.Event != "pull_request" {
					t.Errorf("Meta() = %+v", m)
				}
			},
		},
		{
			name: "merged", event: "pull_request", file: "pull_request/closed.payload.json",
			edits: map[string]any{
				"pull_request.merged":           true,
				"pull_request.merge_commit_sha": "4f1e0a6b8c35b6e2e4b6a4f0e2a9c1d7b3e5f809",
				"pull_request.merged_by":        map[string]any{"login": "octo-merger", "id": 7},
			},
			check: func(t *testing.T, ev Event) {
				pr := ev.(PullRequestEvent).PR
				if !pr.Merged || pr.MergeCommitSHA != "4f1e0a6b8c35b6e2e4b6a4f0e2a9c1d7b3e5f809" || pr.MergedBy != "octo-merger" || pr.State != "closed" {
					t.Errorf("PR = %+v, want merged by octo-merger at 4f1e0a6", pr)
				}
			},
		},
		{
			name: "closed unmerged", event: "pull_request", file: "pull_request/closed.payload.json",
			check: func(t *testing.T, ev Event) {
				pr := ev.(PullRequestEvent).PR
				if pr.Merged || pr.MergedBy != "" || pr.State != "closed" {
					t.Errorf("PR = %+v, want closed without merge", pr)
				}
			},
		},
		{
			name: "fork", event: "pull_request", file: "pull_request/synchronize.payload.json",
			edits: map[string]any{"pull_request.head.repo.id": 99, "pull_request.head.repo.full_name": "mallory/Hello-World"},
			check: func(t *testing.T, ev Event) {
				pr := ev.(PullRequestEvent).PR
				if !pr.Fork || pr.HeadRepo != "mallory/Hello-World" {
					t.Errorf("PR = %+v, want a fork from mallory/Hello-World", pr)
				}
			},
		},
		{
			name: "deleted head repository counts as fork", event: "pull_request", file: "pull_request/synchronize.payload.json",
			edits: map[string]any{"pull_request.head.repo": nil},
			check: func(t *testing.T, ev Event) {
				if pr := ev.(PullRequestEvent).PR; !pr.Fork || pr.HeadRepo != "" {
					t.Errorf("PR = %+v, want Fork with no HeadRepo", pr)
				}
			},
		},
		{
			name: "same repository is no fork", event: "pull_request", file: "pull_request/synchronize.payload.json",
			check: func(t *testing.T, ev Event) {
				if pr := ev.(PullRequestEvent).PR; pr.Fork {
					t.Errorf("PR = %+v, want Fork false", pr)
				}
			},
		},
		{
			name: "push creating default branch", event: "push", file: "push/with-new-branch.payload.json",
			check: func(t *testing.T, ev Event) {
				e := ev.(PushEvent)
				if e.Branch() != "master" || !e.ToDefaultBranch() || !e.Created || e.After != "6113728f27ae82c7b1a177c8d03f9e96e0adf246" {
					t.Errorf("push = %+v branch %q, want new default branch master", e, e.Branch())
				}
			},
		},
		{
			name: "push to other branch", event: "push", file: "push/with-new-branch.payload.json",
			edits: map[string]any{"ref": "refs/heads/feature/x"},
			check: func(t *testing.T, ev Event) {
				if e := ev.(PushEvent); e.Branch() != "feature/x" || e.ToDefaultBranch() {
					t.Errorf("push to %s: Branch() = %q, ToDefaultBranch() = %v", e.Ref, e.Branch(), e.ToDefaultBranch())
				}
			},
		},
		{
			name: "tag deleted", event: "push", file: "push/with-installation.payload.json",
			check: func(t *testing.T, ev Event) {
				e := ev.(PushEvent)
				if e.Branch() != "" || e.ToDefaultBranch() || !e.Deleted || e.Ref != "refs/tags/simple-tag" {
					t.Errorf("push = %+v branch %q, want deleted tag", e, e.Branch())
				}
			},
		},
		{
			name: "tag named like default branch", event: "push", file: "push/with-installation.payload.json",
			edits: map[string]any{"ref": "refs/tags/master"},
			check: func(t *testing.T, ev Event) {
				if e := ev.(PushEvent); e.ToDefaultBranch() {
					t.Errorf("push to %s: ToDefaultBranch() = true", e.Ref)
				}
			},
		},
		{
			name: "comment on issue", event: "issue_comment", file: "issue_comment/created.with-installation.payload.json",
			check: func(t *testing.T, ev Event) {
				e := ev.(CommentEvent)
				if e.IsPR || e.Number != 1 || e.CommentID != 492700400 || e.Body != "You are totally right! I'll get this fixed right away." ||
					e.Author != "Codertocat" || e.AuthorAssociation != "OWNER" {
					t.Errorf("comment = %+v", e)
				}
			},
		},
		{
			name: "comment on pull request", event: "issue_comment", file: "issue_comment/created.with-installation.payload.json",
			edits: map[string]any{"issue.pull_request": map[string]any{"url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/1"}, "comment.body": "tfpr apply"},
			check: func(t *testing.T, ev Event) {
				if e := ev.(CommentEvent); !e.IsPR || e.Body != "tfpr apply" {
					t.Errorf("comment = %+v, want IsPR with body %q", e, "tfpr apply")
				}
			},
		},
		{
			name: "app ping", event: "ping", file: "ping/with-app_id.payload.json",
			check: func(t *testing.T, ev Event) {
				e := ev.(PingEvent)
				if e.HookID != 109948940 || e.Zen != "Anything added dilutes everything else." || e.M.Installation != 0 {
					t.Errorf("ping = %+v", e)
				}
			},
		},
		{
			name: "organization ping has no repository", event: "ping", file: "ping/with-organization.payload.json",
			check: func(t *testing.T, ev Event) {
				if r := ev.Meta().Repo; r != (Repo{}) {
					t.Errorf("Repo = %+v, want zero", r)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := fixture(t, tt.file)
			if tt.edits != nil {
				body = patch(t, body, tt.edits)
			}
			ev, err := Parse(tt.event, "d-1", body)
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			tt.check(t, ev)
		})
	}
}

func TestParseErrors(t *testing.T) {
	opened := fixture(t, "pull_request/opened.payload.json")
	tests := []struct {
		name    string
		event   string
		body    []byte
		wantErr string // "" means ErrIgnored
	}{
		{name: "truncated JSON", event: "pull_request", body: opened[:len(opened)/2], wantErr: "invalid JSON"},
		{name: "syntax error position", event: "pull_request", body: []byte("{\n  \"action\": \"opened\",\n  \"number\": 2,,\n}"), wantErr: "line 3, column"},
		{name: "empty body", event: "push", body: nil, wantErr: "body is empty"},
		{name: "trailing data", event: "pull_request", body: append(bytes.Clone(opened), " x"...), wantErr: "invalid JSON at line"},
		{name: "invalid UTF-8", event: "pull_request", body: []byte("{\"action\": \"opened\",\n\"number\": \"\xff\"}"), wantErr: "line 2, column 12, in number: invalid UTF-8"},
		{name: "null body", event: "pull_request", body: []byte("null"), wantErr: "JSON object"},
		{name: "array body", event: "pull_request", body: []byte("[1]"), wantErr: "cannot be a"},
		{name: "wrong type", event: "pull_request", body: patch(t, opened, map[string]any{"pull_request.number": "two"}), wantErr: "pull_request.number"},
		{name: "no installation", event: "pull_request", body: patch(t, opened, map[string]any{"installation": removed{}}), wantErr: "payload has no installation.id"},
		{name: "no repository", event: "pull_request", body: patch(t, opened, map[string]any{"repository": removed{}}), wantErr: "payload has no repository"},
		{name: "no pull_request", event: "pull_request", body: patch(t, opened, map[string]any{"pull_request": removed{}}), wantErr: "payload has no pull_request"},
		{name: "no head sha", event: "pull_request", body: patch(t, opened, map[string]any{"pull_request.head.sha": ""}), wantErr: "pull_request.head.sha"},
		{name: "push without ref", event: "push", body: patch(t, fixture(t, "push/with-new-branch.payload.json"), map[string]any{"ref": removed{}}), wantErr: "payload has no ref"},
		{name: "comment without comment", event: "issue_comment", body: patch(t, fixture(t, "issue_comment/created.with-installation.payload.json"), map[string]any{"comment": removed{}}), wantErr: "comment.id"},
		{name: "unknown event", event: "made_up", body: []byte("{}")},
		{name: "ignored event is not decoded", event: "check_suite", body: []byte("not json")},
		{name: "ignored action before installation check", event: "pull_request", body: patch(t, opened, map[string]any{"action": "labeled", "installation": removed{}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Parse(tt.event, "delivery-42", tt.body)
			if ev != nil {
				t.Fatalf("Parse() event = %+v, want nil", ev)
			}
			if tt.wantErr == "" {
				if !errors.Is(err, ErrIgnored) {
					t.Fatalf("Parse() error = %v, want ErrIgnored", err)
				}
				return
			}
			if err == nil || errors.Is(err, ErrIgnored) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Parse() error = %v, want one containing %q", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), "delivery-42") || !strings.Contains(err.Error(), tt.event) {
				t.Errorf("Parse() error = %q, want it to name the event and delivery", err)
			}
		})
	}
}

// zeroReceived checks Meta.Received was set during the call and clears it so
// the event compares equal to one built from JSON.
func zeroReceived(t *testing.T, ev Event, before time.Time) Event {
	t.Helper()
	if r := ev.Meta().Received; r.Before(before) || r.After(time.Now()) {
		t.Errorf("Meta().Received = %v, want the time of parsing", r)
	}
	switch e := ev.(type) {
	case PullRequestEvent:
		e.M.Received = time.Time{}
		return e
	case PushEvent:
		e.M.Received = time.Time{}
		return e
	case CommentEvent:
		e.M.Received = time.Time{}
		return e
	case PingEvent:
		e.M.Received = time.Time{}
		return e
	}
	t.Fatalf("unexpected event type %T", ev)
	return nil
}

// eventFromJSON builds the event Parse should return from the payload's JSON.
// The samples are all same-repository pull requests, so Fork is false.
func eventFromJSON(t *testing.T, event, delivery string, body []byte) Event {
	d := jsonDoc{tb: t, doc: decode(t, body)}
	m := Meta{
		Delivery:     delivery,
		Event:        event,
		Installation: d.num("installation.id"),
		Repo: Repo{
			ID:            d.num("repository.id"),
			Owner:         d.str("repository.owner.login"),
			Name:          d.str("repository.name"),
			FullName:      d.str("repository.full_name"),
			CloneURL:      d.str("repository.clone_url"),
			DefaultBranch: d.str("repository.default_branch"),
			Private:       d.boolean("repository.private"),
		},
		Sender: User{Login: d.str("sender.login"), ID: d.num("sender.id")},
	}
	switch event {
	case "pull_request":
		return PullRequestEvent{M: m, Action: d.str("action"), PR: PullRequest{
			Number:         int(d.num("number")),
			Title:          d.str("pull_request.title"),
			HeadSHA:        d.str("pull_request.head.sha"),
			HeadRef:        d.str("pull_request.head.ref"),
			HeadRepo:       d.str("pull_request.head.repo.full_name"),
			BaseSHA:        d.str("pull_request.base.sha"),
			BaseRef:        d.str("pull_request.base.ref"),
			Draft:          d.boolean("pull_request.draft"),
			Merged:         d.boolean("pull_request.merged"),
			MergeCommitSHA: d.str("pull_request.merge_commit_sha"),
			Author:         d.str("pull_request.user.login"),
			MergedBy:       d.str("pull_request.merged_by.login"),
			State:          d.str("pull_request.state"),
		}}
	case "push":
		return PushEvent{M: m, Ref: d.str("ref"), Before: d.str("before"), After: d.str("after"),
			Created: d.boolean("created"), Deleted: d.boolean("deleted"), Forced: d.boolean("forced")}
	case "issue_comment":
		return CommentEvent{M: m, Action: d.str("action"), Number: int(d.num("issue.number")), IsPR: d.get("issue.pull_request") != nil,
			CommentID: d.num("comment.id"), Body: d.str("comment.body"), Author: d.str("comment.user.login"),
			AuthorAssociation: d.str("comment.author_association")}
	case "ping":
		return PingEvent{M: m, HookID: d.num("hook_id"), Zen: d.str("zen")}
	}
	t.Fatalf("no JSON expectation for event %s", event)
	return nil
}

// Parsing a delivery, on the ack path, allocates little more than the
// strings of the event it returns: the decoder skips what tfpr does not
// read without building it.
func TestParseAllocations(t *testing.T) {
	body := patch(t, fixture(t, "pull_request/synchronize.payload.json"), map[string]any{"installation.id": 4242})
	allocs := testing.AllocsPerRun(50, func() {
		if _, err := Parse("pull_request", "d-1", body); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 25 {
		t.Errorf("Parse of a %d-byte pull_request delivery made %.0f allocations, want at most 25", len(body), allocs)
	}
}
