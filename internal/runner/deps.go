package runner

import (
	"context"
	"time"

	"github.com/tfpr/tfpr/internal/gcs"
	"github.com/tfpr/tfpr/internal/githubapp"
	"github.com/tfpr/tfpr/internal/policy"
	"github.com/tfpr/tfpr/internal/terraform"
	"github.com/tfpr/tfpr/internal/workspace"
)

// The runner declares what it needs from the parts it drives, so each can
// be replaced: by an in-memory fake in unit tests, by a sandboxed worker
// for terraform.

// GitHub opens the client of one repository of an installation.
type GitHub interface {
	Repo(installation int64, fullName string) (RepoClient, error)
}

// RepoClient is the GitHub API of one repository, as far as the runner
// uses it.
type RepoClient interface {
	Token(ctx context.Context) (string, error)
	Comment(ctx context.Context, number int, body string) (int64, error)
	RecentComments(ctx context.Context, number int, since time.Time) ([]githubapp.UserComment, error)
	CreateCheckRun(ctx context.Context, cr githubapp.CheckRun) (int64, error)
	UpdateCheckRun(ctx context.Context, id int64, cr githubapp.CheckRun) error
	// OwnComments, EditComment and DeleteComment keep living comments:
	// EditComment and DeleteComment wrap githubapp.ErrNotFound for a
	// comment a person deleted.
	OwnComments(ctx context.Context, number int, prefix string) ([]githubapp.OwnComment, error)
	EditComment(ctx context.Context, id int64, body string) error
	DeleteComment(ctx context.Context, id int64) error
	React(ctx context.Context, commentID int64, r githubapp.Reaction) error
	// SyncLabels makes number's labels among managed exactly want,
	// creating missing repository labels with their colours.
	SyncLabels(ctx context.Context, number int, want, managed []githubapp.Label) error
	PullRequest(ctx context.Context, number int) (githubapp.PR, error)
	OpenPullRequests(ctx context.Context, base string) ([]githubapp.PR, error)
	MergedPullRequest(ctx context.Context, sha string) (githubapp.PR, bool, error)
	Permission(ctx context.Context, user string) (string, error)
	TeamMember(ctx context.Context, orgTeam, user string) (bool, error)
	EnsureIssue(ctx context.Context, title, label, body string) (int, error)
	CloseIssue(ctx context.Context, number int, body string) error
	FindIssue(ctx context.Context, label, marker string) (githubapp.Issue, bool, error)
	OpenIssue(ctx context.Context, title, label, body string) (githubapp.Issue, error)
	EditIssue(ctx context.Context, number int, title, body string) (githubapp.Issue, error)
}

// GitHubApp adapts a GitHub App to GitHub.
func GitHubApp(a *githubapp.App) GitHub { return appClients{a} }

type appClients struct{ app *githubapp.App }

func (a appClients) Repo(installation int64, fullName string) (RepoClient, error) {
	return a.app.Repo(installation, fullName)
}

// Workspace holds the git mirrors and the checkouts runs work in.
type Workspace interface {
	Fetch(ctx context.Context, repo workspace.Repo, token string, refspecs ...string) error
	Has(ctx context.Context, repo workspace.Repo, sha string) bool
	ChangedFiles(ctx context.Context, repo workspace.Repo, base, head string) ([]string, error)
	CommitFiles(ctx context.Context, repo workspace.Repo, sha string) ([]string, error)
	FirstParents(ctx context.Context, repo workspace.Repo, from, to string) ([]string, error)
	OnBranch(ctx context.Context, repo workspace.Repo, sha, branch string) (bool, error)
	TreeID(ctx context.Context, repo workspace.Repo, sha string, dirs []string) (string, error)
	ReadFile(ctx context.Context, repo workspace.Repo, rev, file string) ([]byte, error)
	Checkout(ctx context.Context, repo workspace.Repo, sha string) (*workspace.Checkout, error)
	RemoveCheckouts() (int, error)
}

// Linter judges a project's code and its plans against the policies.
type Linter interface {
	LintProject(ctx context.Context, root, dir string, modules []string) ([]policy.Finding, error)
	CheckPlan(ctx context.Context, root, dir string, planJSON []byte, approved []string) ([]policy.Finding, error)
}

var _ Linter = (*policy.Engine)(nil)

// Mode is what a terraform run may do to a project's infrastructure.
type Mode int

const (
	// ModePlan only reads: PR plans, with a read-only identity where one
	// is configured and without the state lock.
	ModePlan Mode = iota
	// ModeApply changes infrastructure: merge plans and applies, with the
	// project's full identity, holding the state lock.
	ModeApply
)

func (m Mode) String() string {
	if m == ModeApply {
		return "apply"
	}
	return "plan"
}

// Terraform runs terraform for one project.
type Terraform interface {
	Plan(ctx context.Context, dir string, be terraform.Backend, planFile string) (*terraform.Plan, error)
	Apply(ctx context.Context, dir string, be terraform.Backend, planFile string) (string, error)
	ForceUnlock(ctx context.Context, dir string, be terraform.Backend, lockID string) error
}

// Executor gives the terraform of a repository's project in a mode: the
// identity it runs as depends on all three.
type Executor interface {
	// Terraform is the terraform of project in mode. inputs are what the
	// run reads (project.Graph.Inputs) by the scan the policy gate used, so
	// a run gets exactly the files that were checked.
	Terraform(repo, project string, mode Mode, inputs []string) (Terraform, error)
}

// StateLocks reads the state lock objects a crash may have left.
type StateLocks interface {
	Read(ctx context.Context, bucket, name string, key gcs.Key) (*gcs.Object, error)
}

var _ StateLocks = (*gcs.Client)(nil)
