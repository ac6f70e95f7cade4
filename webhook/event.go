package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-github/v75/github"
)

// ErrIgnored is returned by Parse for deliveries tfpr does not act on.
var ErrIgnored = errors.New("event ignored")

// Repo is the repository a delivery is about.
type Repo struct {
	ID            int64
	Owner         string
	Name          string
	FullName      string
	CloneURL      string
	DefaultBranch string
	Private       bool
}

// User is a GitHub account.
type User struct {
	Login string
	ID    int64
}

// Meta is what every delivery carries.
type Meta struct {
	Delivery string // X-GitHub-Delivery, unique per delivery and kept on redelivery
	Event    string // X-GitHub-Event
	// Installation is the GitHub App installation to authenticate as when
	// acting on the event; 0 only for a ping sent when the App is created.
	Installation int64
	Repo         Repo // zero for a ping on an organization hook
	Sender       User
	Received     time.Time
}

// Event is one of PullRequestEvent, PushEvent, CommentEvent or PingEvent.
type Event interface {
	Meta() Meta
}

// PullRequest is the part of a pull request tfpr plans and applies from.
type PullRequest struct {
	Number   int
	Title    string
	HeadSHA  string
	HeadRef  string
	HeadRepo string // full name; "" when the head repository was deleted
	BaseSHA  string
	BaseRef  string
	Fork     bool // head repo differs from base repo, so its code is untrusted
	Draft    bool
	Merged   bool
	// MergeCommitSHA is GitHub's value as sent: the merge commit when Merged,
	// otherwise the test merge commit (or "").
	MergeCommitSHA string
	Author         string
	MergedBy       string
	State          string // "open" or "closed"
}

// PullRequestEvent is a pull_request delivery with action opened, reopened,
// synchronize, ready_for_review or closed.
type PullRequestEvent struct {
	M      Meta
	Action string
	PR     PullRequest
}

// PushEvent is a push delivery.
type PushEvent struct {
	M       Meta
	Ref     string // full ref, e.g. refs/heads/main or refs/tags/v1
	Before  string
	After   string
	Created bool
	Deleted bool
	Forced  bool
}

// CommentEvent is an issue_comment delivery with action created; IsPR tells
// a comment on a pull request from one on an issue.
type CommentEvent struct {
	M                 Meta
	Action            string
	Number            int
	IsPR              bool
	CommentID         int64
	Body              string
	Author            string
	AuthorAssociation string
}

// PingEvent is sent when a hook or App is created.
type PingEvent struct {
	M      Meta
	HookID int64
	Zen    string
}

func (e PullRequestEvent) Meta() Meta { return e.M }
func (e PushEvent) Meta() Meta        { return e.M }
func (e CommentEvent) Meta() Meta     { return e.M }
func (e PingEvent) Meta() Meta        { return e.M }

// Branch returns the branch a push updated ("main" for refs/heads/main), or
// "" when the push was to a tag or another kind of ref.
func (e PushEvent) Branch() string {
	branch, ok := strings.CutPrefix(e.Ref, "refs/heads/")
	if !ok {
		return ""
	}
	return branch
}

// ToDefaultBranch reports whether the push updated the repository's default
// branch.
func (e PushEvent) ToDefaultBranch() bool {
	b := e.Branch()
	return b != "" && b == e.M.Repo.DefaultBranch
}

// Parse turns a delivery's event name (X-GitHub-Event), delivery id
// (X-GitHub-Delivery) and JSON body into a typed Event. It returns ErrIgnored
// for events and actions tfpr does not act on, and a descriptive error for a
// body that is not valid JSON or lacks what tfpr needs.
func Parse(event, delivery string, body []byte) (Event, error) {
	ev, _, err := parse(event, delivery, body, time.Now())
	return ev, err
}

// parse is Parse that also returns the delivery's action (for logging, even
// when the delivery is ignored) and takes the time it was received.
func parse(event, delivery string, body []byte, received time.Time) (Event, string, error) {
	switch event {
	case "pull_request", "push", "issue_comment", "ping":
	default:
		// Not decoding what is thrown away keeps acks for noisy events cheap.
		return nil, "", ErrIgnored
	}
	raw, err := github.ParseWebHook(event, body)
	if err != nil {
		return nil, "", fmt.Errorf("parse %s delivery %s: %w", event, delivery, describeJSONError(body, err))
	}
	m := Meta{Delivery: delivery, Event: event, Received: received}
	p := payloadError{event: event, delivery: delivery}
	switch e := raw.(type) {
	case *github.PullRequestEvent:
		return pullRequestEvent(m, p, e)
	case *github.PushEvent:
		return pushEvent(m, p, e)
	case *github.IssueCommentEvent:
		return commentEvent(m, p, e)
	case *github.PingEvent:
		return pingEvent(m, e)
	case nil:
		// json.Unmarshal turns a literal null into a nil payload without error.
		return nil, "", p.missing("a JSON object (body is null)")
	default:
		return nil, "", fmt.Errorf("parse %s delivery %s: unexpected payload type %T", event, delivery, raw)
	}
}

func pullRequestEvent(m Meta, p payloadError, e *github.PullRequestEvent) (Event, string, error) {
	action := e.GetAction()
	switch action {
	case "opened", "reopened", "synchronize", "ready_for_review", "closed":
	default:
		return nil, action, ErrIgnored
	}
	if err := fillMeta(&m, p, e.GetInstallation(), repoOf(e.GetRepo()), e.GetSender()); err != nil {
		return nil, action, err
	}
	pr := e.GetPullRequest()
	if pr == nil {
		return nil, action, p.missing("pull_request")
	}
	if pr.GetNumber() == 0 {
		return nil, action, p.missing("pull_request.number")
	}
	head, base := pr.GetHead(), pr.GetBase()
	if head.GetSHA() == "" {
		return nil, action, p.missing("pull_request.head.sha")
	}
	if base.GetRef() == "" {
		return nil, action, p.missing("pull_request.base.ref")
	}
	return PullRequestEvent{
		M:      m,
		Action: action,
		PR: PullRequest{
			Number:         pr.GetNumber(),
			Title:          pr.GetTitle(),
			HeadSHA:        head.GetSHA(),
			HeadRef:        head.GetRef(),
			HeadRepo:       head.GetRepo().GetFullName(),
			BaseSHA:        base.GetSHA(),
			BaseRef:        base.GetRef(),
			Fork:           isFork(head.GetRepo(), base.GetRepo()),
			Draft:          pr.GetDraft(),
			Merged:         pr.GetMerged(),
			MergeCommitSHA: pr.GetMergeCommitSHA(),
			Author:         pr.GetUser().GetLogin(),
			MergedBy:       pr.GetMergedBy().GetLogin(),
			State:          pr.GetState(),
		},
	}, action, nil
}

func pushEvent(m Meta, p payloadError, e *github.PushEvent) (Event, string, error) {
	r := e.GetRepo()
	repo := Repo{
		ID:            r.GetID(),
		Owner:         r.GetOwner().GetLogin(),
		Name:          r.GetName(),
		FullName:      r.GetFullName(),
		CloneURL:      r.GetCloneURL(),
		DefaultBranch: r.GetDefaultBranch(),
		Private:       r.GetPrivate(),
	}
	if err := fillMeta(&m, p, e.GetInstallation(), repo, e.GetSender()); err != nil {
		return nil, "", err
	}
	if e.GetRef() == "" {
		return nil, "", p.missing("ref")
	}
	if e.GetAfter() == "" {
		return nil, "", p.missing("after")
	}
	return PushEvent{
		M:       m,
		Ref:     e.GetRef(),
		Before:  e.GetBefore(),
		After:   e.GetAfter(),
		Created: e.GetCreated(),
		Deleted: e.GetDeleted(),
		Forced:  e.GetForced(),
	}, "", nil
}

func commentEvent(m Meta, p payloadError, e *github.IssueCommentEvent) (Event, string, error) {
	action := e.GetAction()
	if action != "created" {
		return nil, action, ErrIgnored
	}
	if err := fillMeta(&m, p, e.GetInstallation(), repoOf(e.GetRepo()), e.GetSender()); err != nil {
		return nil, action, err
	}
	issue, comment := e.GetIssue(), e.GetComment()
	if issue.GetNumber() == 0 {
		return nil, action, p.missing("issue.number")
	}
	if comment.GetID() == 0 {
		return nil, action, p.missing("comment.id")
	}
	return CommentEvent{
		M:                 m,
		Action:            action,
		Number:            issue.GetNumber(),
		IsPR:              issue.IsPullRequest(),
		CommentID:         comment.GetID(),
		Body:              comment.GetBody(),
		Author:            comment.GetUser().GetLogin(),
		AuthorAssociation: comment.GetAuthorAssociation(),
	}, action, nil
}

// pingEvent requires nothing: GitHub pings an App right after it is created,
// before any installation or repository exists.
func pingEvent(m Meta, e *github.PingEvent) (Event, string, error) {
	m.Installation = e.GetInstallation().GetID()
	m.Repo = repoOf(e.GetRepo())
	m.Sender = userOf(e.GetSender())
	return PingEvent{M: m, HookID: e.GetHookID(), Zen: e.GetZen()}, "", nil
}

// fillMeta sets what every acted-on delivery but ping must carry: without an
// installation tfpr cannot get a token, without a repository it has nothing
// to check out.
func fillMeta(m *Meta, p payloadError, inst *github.Installation, repo Repo, sender *github.User) error {
	if inst.GetID() == 0 {
		return p.missing("installation.id (tfpr acts only on GitHub App deliveries)")
	}
	if repo.FullName == "" || repo.ID == 0 {
		return p.missing("repository (id and full_name)")
	}
	m.Installation = inst.GetID()
	m.Repo = repo
	m.Sender = userOf(sender)
	return nil
}

func repoOf(r *github.Repository) Repo {
	return Repo{
		ID:            r.GetID(),
		Owner:         r.GetOwner().GetLogin(),
		Name:          r.GetName(),
		FullName:      r.GetFullName(),
		CloneURL:      r.GetCloneURL(),
		DefaultBranch: r.GetDefaultBranch(),
		Private:       r.GetPrivate(),
	}
}

func userOf(u *github.User) User {
	return User{Login: u.GetLogin(), ID: u.GetID()}
}

// payloadError names the delivery a missing field belongs to.
type payloadError struct {
	event, delivery string
}

func (p payloadError) missing(what string) error {
	return fmt.Errorf("parse %s delivery %s: payload has no %s", p.event, p.delivery, what)
}

// describeJSONError adds the line and column of a decoding error, which
// encoding/json reports only as a byte offset.
func describeJSONError(body []byte, err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case len(bytes.TrimSpace(body)) == 0:
		return errors.New("body is empty, want a JSON object")
	case errors.As(err, &syntax):
		line, col := position(body, syntax.Offset)
		return fmt.Errorf("invalid JSON at line %d, column %d: %w", line, col, err)
	case errors.As(err, &typ):
		line, col := position(body, typ.Offset)
		field := typ.Field
		if field == "" {
			field = "(top level)"
		}
		return fmt.Errorf("field %s at line %d, column %d: JSON %s cannot be a %s", field, line, col, typ.Value, typ.Type)
	default:
		return fmt.Errorf("decode JSON: %w", err)
	}
}

// position converts a byte offset into a 1-based line and column.
func position(body []byte, offset int64) (line, col int) {
	offset = min(max(offset, 0), int64(len(body)))
	before := body[:offset]
	line = 1 + bytes.Count(before, []byte("\n"))
	col = int(offset) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// isFork reports whether a PR's head lives outside the base repository.
// Either a different id or a different name makes it a fork, and a deleted
// head repository (no id, no name) counts as one too: its code cannot be
// attributed to the base repository, so it never gets terraform by default.
func isFork(head, base *github.Repository) bool {
	if head == nil || head.GetID() == 0 || head.GetFullName() == "" {
		return true
	}
	return head.GetID() != base.GetID() || !strings.EqualFold(head.GetFullName(), base.GetFullName())
}
