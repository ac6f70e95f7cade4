// Package store keeps what must survive a restart: deliveries seen, queued
// work, runs, saved plans, project blocks and approvals. Store is the
// interface the runner needs; SQLite is the embedded implementation, and a
// shared database can implement the same interface for several replicas.
package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned when a looked-up record does not exist.
var ErrNotFound = errors.New("not found")

// JobKind is the work a job asks for; the runner expands it into runs.
type JobKind string

// Job kinds.
const (
	JobPR      JobKind = "pr"      // plan a pull request's affected projects at its head
	JobMerge   JobKind = "merge"   // apply the default branch up to a commit
	JobClose   JobKind = "close"   // a PR closed without merge: drop its plans
	JobCommand JobKind = "command" // a `tfpr ...` comment
)

// RunKind is the terraform operation a run performs.
type RunKind string

// Run kinds.
const (
	RunPlan  RunKind = "plan"
	RunApply RunKind = "apply"
)

// Status is where a job or a run is in its life (doc.go in the runner
// draws the state machine).
type Status string

// Status values shared by jobs and runs.
const (
	StatusQueued    Status = "queued"
	StatusRunning   Status = "running"
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed"
	StatusWaiting   Status = "waiting"   // apply held: project blocked or approval needed
	StatusSkipped   Status = "skipped"   // superseded or nothing to do
	StatusDenied    Status = "denied"    // policy denied: terraform never ran
	StatusCancelled Status = "cancelled" // stopped on shutdown; requeued on start
)

// Statuses lists every status, in the order a run moves through them.
func Statuses() []Status {
	return []Status{StatusQueued, StatusRunning, StatusSucceeded, StatusFailed, StatusWaiting, StatusDenied, StatusSkipped, StatusCancelled}
}

// Repo identifies a repository and how to reach it.
type Repo struct {
	FullName      string `json:"full_name"`
	CloneURL      string `json:"clone_url"`
	DefaultBranch string `json:"default_branch"`
	Installation  int64  `json:"installation"`
}

// Job is a unit of work from a webhook, a comment or the resync loop.
type Job struct {
	ID       int64    `json:"-"`
	Kind     JobKind  `json:"-"`
	Repo     Repo     `json:"repo"`
	PR       int      `json:"pr,omitempty"`
	HeadSHA  string   `json:"head_sha,omitempty"`
	BaseSHA  string   `json:"base_sha,omitempty"`
	BaseRef  string   `json:"base_ref,omitempty"`
	SHA      string   `json:"sha,omitempty"`    // merge: default-branch commit to apply up to
	Before   string   `json:"before,omitempty"` // merge: push's before
	Author   string   `json:"author,omitempty"`
	Actor    string   `json:"actor,omitempty"` // merged_by or commenter
	Fork     bool     `json:"fork,omitempty"`
	Trigger  string   `json:"trigger,omitempty"`  // what asked: "webhook", "comment:<id>", "resync", "after-apply:<run>"
	Delivery string   `json:"delivery,omitempty"` // the webhook delivery that asked, to follow it in the logs
	Projects []string `json:"projects,omitempty"` // restrict to these projects (comment `tfpr plan -p`)
	Body     string   `json:"body,omitempty"`     // command: the comment text
	IsPR     bool     `json:"is_pr,omitempty"`    // command: the comment is on a PR, not an issue
	// CommentID is the command's comment: it keys the job, so the webhook
	// and the resync that finds the comment queue it once between them.
	CommentID int64     `json:"comment_id,omitempty"`
	Status    Status    `json:"-"`
	Attempts  int       `json:"-"`
	Error     string    `json:"-"`
	Created   time.Time `json:"-"`
}

// Run is one terraform operation on one project.
type Run struct {
	ID         int64
	Kind       RunKind
	Repo       string
	Project    string
	PR         int
	SHA        string
	Trigger    string
	Status     Status
	Summary    string
	MergedBy   string
	ApprovedBy string // approved a plan-stage override or a held plan
	RetriedBy  string // asked for the run again; approves nothing
	PlanHash   string
	HeldDigest string    // content digest of the plan a held apply showed
	Attempts   int       // failures before terraform ran, each retried
	NotBefore  time.Time // a retried apply waits until then
	CheckRunID int64
	JobID      int64
	// ReconciledBy asked, on drift issue Issue, for this apply of a commit
	// the project may have been applied at before; RequestKey (the asking
	// comment) makes the request one apply however often it is handled.
	ReconciledBy string
	Issue        int
	RequestKey   string
	Created      time.Time
	Started      time.Time
	Finished     time.Time
}

// Plan is a saved plan file and what it was made from.
type Plan struct {
	ID                   int64
	Repo                 string
	PR                   int
	Project              string
	HeadSHA              string
	Fingerprint          string // content of the project and its local modules
	File                 string // where the plan file is stored
	Hash                 string // sha256 of the plan file
	Add, Change, Destroy int
	Changes              string // JSON of the resource changes, to compare with a re-plan
	JSONHash             string // sha256 of the plan's JSON copy
	Digest               string // content digest of the plan's changes (see runner.planDigest)
	Created              time.Time
}

// Block stops applies of a project until someone clears it.
type Block struct {
	Repo    string
	Project string
	RunID   int64
	Issue   int
	Reason  string
	Created time.Time
}

// Merge records which PR produced a default-branch commit.
type Merge struct {
	Repo     string
	SHA      string
	PR       int
	HeadSHA  string
	MergedBy string
}

// Approval is an owner's override of a plan-stage rule for one PR head.
type Approval struct {
	Repo    string
	PR      int
	HeadSHA string
	Rule    string
	User    string
	// Plans maps each project to the digest of the plan the approver saw;
	// the override holds only for a plan with the same content.
	Plans   map[string]string
	Created time.Time
}

// ReleaseKind says in what capacity someone moved a run back to the queue.
type ReleaseKind int

const (
	// Retried: a failed apply is tried again; nothing is approved.
	Retried ReleaseKind = iota + 1
	// ApprovedPlan: a code owner approved the plan a held apply showed.
	ApprovedPlan
)

// Release is who moved a run back to the queue, and as what.
type Release struct {
	User string
	Kind ReleaseKind
}

// Store is everything the runner persists.
// Reported is one project's result as a living comment last showed it, so
// a round that re-runs some projects (a re-plan of one directory, each
// project's apply of a merge commit) renders the others as they were.
type Reported struct {
	Repo    string
	PR      int
	Family  string // the comment: "plan", or "apply <sha>"
	Project string
	SHA     string // the commit the result is for
	Result  string // the rendered result's data, JSON
}

type Store interface {
	FirstDelivery(ctx context.Context, id string) (bool, error)
	ForgetDelivery(ctx context.Context, id string) error
	AckDelivery(ctx context.Context, a Ack) (AckOutcome, error)

	EnqueueJob(ctx context.Context, j Job) (int64, error)
	EnqueueJobOnce(ctx context.Context, j Job) (bool, error)
	ClaimJobs(ctx context.Context, limit int) ([]Job, error)
	FinishJob(ctx context.Context, id int64, status Status, errText string) error
	RequeueInterrupted(ctx context.Context) (jobs int, err error)
	PendingJob(ctx context.Context, kind JobKind, repo string, pr int, sha string) (bool, error)

	CreateRun(ctx context.Context, r Run) (id int64, created bool, err error)
	StartRun(ctx context.Context, id int64) error
	RequeueRun(ctx context.Context, id int64, summary string) error
	RetryRun(ctx context.Context, id int64, attempt int, notBefore time.Time, summary string) error
	FinishApply(ctx context.Context, r Run, block *Block) error
	SetRunStatus(ctx context.Context, id int64, from []Status, to Status, by Release) (bool, error)
	FinishRun(ctx context.Context, id int64, status Status, summary string) error
	UpdateRun(ctx context.Context, r Run) error
	GetRun(ctx context.Context, id int64) (Run, error)
	NextApplies(ctx context.Context) ([]Run, error)
	RunningApplies(ctx context.Context) ([]Run, error)
	ListRuns(ctx context.Context, kind RunKind, limit int) ([]Run, error)
	FindRuns(ctx context.Context, repo string, pr int, kind RunKind, status Status) ([]Run, error)
	CountRuns(ctx context.Context, kind RunKind, repo, project string, status Status) (int, error)

	SavePlan(ctx context.Context, p Plan) (int64, error)
	LatestPlan(ctx context.Context, repo string, pr int, project string) (Plan, error)
	PlansSeen(ctx context.Context, repo string, pr int, before time.Time) ([]Plan, error)
	DeletePlans(ctx context.Context, repo string, pr int, project string) ([]Plan, error)
	OpenPlansFor(ctx context.Context, repo, project string, exceptPR int) ([]Plan, error)

	BlockProject(ctx context.Context, b Block) error
	Unblock(ctx context.Context, repo, project string) error
	Blocked(ctx context.Context, repo, project string) (Block, error)
	BlockByIssue(ctx context.Context, repo string, issue int) (Block, error)

	RecordMerge(ctx context.Context, m Merge) error
	MergeFor(ctx context.Context, repo, sha string) (Merge, error)
	Cursor(ctx context.Context, repo string) (string, error)
	SetCursor(ctx context.Context, repo, sha string) error

	Approve(ctx context.Context, a Approval) error
	Approvals(ctx context.Context, repo string, pr int, headSHA string) ([]Approval, error)

	SaveReported(ctx context.Context, r Reported) error
	Reported(ctx context.Context, repo string, pr int, family string) ([]Reported, error)
	ForgetReported(ctx context.Context, repo string, pr int, family string) error

	Prune(ctx context.Context, before time.Time) (int, error)
	RememberRepo(ctx context.Context, r Repo) error
	Repos(ctx context.Context) ([]Repo, error)
	HasJob(ctx context.Context, kind JobKind, repo string, pr int, sha string) (bool, error)

	DriftSchedule

	Close() error
}

// DriftSchedule is the drift checks' part of the store.
type DriftSchedule interface {
	DriftChecks(ctx context.Context, repo string) ([]DriftCheck, error)
	ScheduleDriftChecks(ctx context.Context, checks []DriftCheck) error
	UnscheduleDriftCheck(ctx context.Context, repo, project string) error
	RequestDriftCheck(ctx context.Context, repo, project string, at time.Time) error
	FinishDriftCheck(ctx context.Context, d DriftCheck, started time.Time) error
	SetDriftIssue(ctx context.Context, repo, project string, issue int, result DriftResult) error
	DriftCheckByIssue(ctx context.Context, repo string, issue int) (DriftCheck, error)
	DriftCheckOf(ctx context.Context, repo, project string) (DriftCheck, error)
	PendingWork(ctx context.Context) (int, error)
}
