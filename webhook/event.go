package webhook

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
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

// CheckRunEvent is a request to re-run a check run.
type CheckRunEvent struct {
	M          Meta
	Action     string
	Name       string
	ExternalID string // what the check's creator set: tfpr uses "<kind>:<project>"
	HeadSHA    string
	PRs        []CheckRunPR // open PRs of the head; GitHub lists no PRs from forks here
}

// CheckRunPR is a pull request a check run belongs to.
type CheckRunPR struct {
	Number  int
	HeadSHA string
	BaseRef string
	Fork    bool
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
func (e CheckRunEvent) Meta() Meta    { return e.M }

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
	case "pull_request", "push", "issue_comment", "ping", "check_run":
	default:
		// Not decoding what is thrown away keeps acks for noisy events cheap.
		return nil, "", ErrIgnored
	}
	m := Meta{Delivery: delivery, Event: event, Received: received}
	p := payloadError{event: event, delivery: delivery}
	if bytes.Equal(bytes.TrimSpace(body), []byte("null")) {
		return nil, "", p.missing("a JSON object (body is null)")
	}
	// Decoding into small structs of just the fields tfpr reads, rather
	// than go-github's full event types, keeps the ack path cheap, and the
	// v2 decoder skips the rest in a single pass (encoding/json validates
	// the whole body first, then decodes it: 3-4 times the CPU).
	var err error
	switch event {
	case "pull_request":
		var e wirePullRequestEvent
		if err = decodeWire(body, &e); err == nil {
			return pullRequestEvent(m, p, &e)
		}
	case "push":
		var e wirePushEvent
		if err = decodeWire(body, &e); err == nil {
			return pushEvent(m, p, &e)
		}
	case "issue_comment":
		var e wireCommentEvent
		if err = decodeWire(body, &e); err == nil {
			return commentEvent(m, p, &e)
		}
	case "check_run":
		var e wireCheckRunEvent
		if err = decodeWire(body, &e); err == nil {
			return checkRunEvent(m, p, &e)
		}
	default:
		var e wirePingEvent
		if err = decodeWire(body, &e); err == nil {
			return pingEvent(m, &e)
		}
	}
	return nil, "", fmt.Errorf("parse %s delivery %s: %w", event, delivery, describeJSONError(body, err))
}

// decodeWire reads a payload into one of the wire structs. A repeated member
// name takes the last value, as encoding/json does: checking names for
// duplicates costs 25 allocations per object, more than the rest of the
// decoding together.
func decodeWire(body []byte, v any) error {
	return json.Unmarshal(body, v, jsontext.AllowDuplicateNames(true))
}

func pullRequestEvent(m Meta, p payloadError, e *wirePullRequestEvent) (Event, string, error) {
	action := e.Action
	switch action {
	case "opened", "reopened", "synchronize", "ready_for_review", "closed":
	default:
		return nil, action, ErrIgnored
	}
	if err := fillMeta(&m, p, e.wireEnvelope); err != nil {
		return nil, action, err
	}
	pr := e.PullRequest
	if pr == nil {
		return nil, action, p.missing("pull_request")
	}
	if pr.Number == 0 {
		return nil, action, p.missing("pull_request.number")
	}
	head, base := pr.Head, pr.Base
	if head.SHA == "" {
		return nil, action, p.missing("pull_request.head.sha")
	}
	if base.Ref == "" {
		return nil, action, p.missing("pull_request.base.ref")
	}
	return PullRequestEvent{
		M:      m,
		Action: action,
		PR: PullRequest{
			Number:         pr.Number,
			Title:          pr.Title,
			HeadSHA:        head.SHA,
			HeadRef:        head.Ref,
			HeadRepo:       head.Repo.fullName(),
			BaseSHA:        base.SHA,
			BaseRef:        base.Ref,
			Fork:           isFork(head.Repo, base.Repo),
			Draft:          pr.Draft,
			Merged:         pr.Merged,
			MergeCommitSHA: pr.MergeCommitSHA,
			Author:         pr.User.login(),
			MergedBy:       pr.MergedBy.login(),
			State:          pr.State,
		},
	}, action, nil
}

func pushEvent(m Meta, p payloadError, e *wirePushEvent) (Event, string, error) {
	if err := fillMeta(&m, p, e.wireEnvelope); err != nil {
		return nil, "", err
	}
	if e.Ref == "" {
		return nil, "", p.missing("ref")
	}
	if e.After == "" {
		return nil, "", p.missing("after")
	}
	return PushEvent{M: m, Ref: e.Ref, Before: e.Before, After: e.After, Created: e.Created, Deleted: e.Deleted, Forced: e.Forced}, "", nil
}

func commentEvent(m Meta, p payloadError, e *wireCommentEvent) (Event, string, error) {
	action := e.Action
	if action != "created" {
		return nil, action, ErrIgnored
	}
	if err := fillMeta(&m, p, e.wireEnvelope); err != nil {
		return nil, action, err
	}
	if e.Issue == nil || e.Issue.Number == 0 {
		return nil, action, p.missing("issue.number")
	}
	if e.Comment == nil || e.Comment.ID == 0 {
		return nil, action, p.missing("comment.id")
	}
	return CommentEvent{
		M:                 m,
		Action:            action,
		Number:            e.Issue.Number,
		IsPR:              e.Issue.PullRequest != nil,
		CommentID:         e.Comment.ID,
		Body:              e.Comment.Body,
		Author:            e.Comment.User.login(),
		AuthorAssociation: e.Comment.AuthorAssociation,
	}, action, nil
}

// pingEvent requires nothing: GitHub pings an App right after it is created,
// before any installation or repository exists.
func pingEvent(m Meta, e *wirePingEvent) (Event, string, error) {
	m.Installation = e.Installation.id()
	m.Repo = repoOf(e.Repository)
	m.Sender = userOf(e.Sender)
	return PingEvent{M: m, HookID: e.HookID, Zen: e.Zen}, "", nil
}

// fillMeta sets what every acted-on delivery but ping must carry: without an
// installation tfpr cannot get a token, without a repository it has nothing
// to check out.
func fillMeta(m *Meta, p payloadError, env wireEnvelope) error {
	inst, repo, sender := env.Installation, repoOf(env.Repository), env.Sender
	if inst.id() == 0 {
		return p.missing("installation.id (tfpr acts only on GitHub App deliveries)")
	}
	if repo.FullName == "" || repo.ID == 0 {
		return p.missing("repository (id and full_name)")
	}
	m.Installation = inst.id()
	m.Repo = repo
	m.Sender = userOf(sender)
	return nil
}

func repoOf(r *wireRepo) Repo {
	if r == nil {
		return Repo{}
	}
	owner := ""
	if r.Owner != nil {
		owner = r.Owner.Login
	}
	return Repo{ID: r.ID, Owner: owner, Name: r.Name, FullName: r.FullName, CloneURL: r.CloneURL, DefaultBranch: r.DefaultBranch, Private: r.Private}
}

func userOf(u *wireUser) User {
	if u == nil {
		return User{}
	}
	return User{Login: u.Login, ID: u.ID}
}

// payloadError names the delivery a missing field belongs to.
type payloadError struct {
	event, delivery string
}

func (p payloadError) missing(what string) error {
	return fmt.Errorf("parse %s delivery %s: payload has no %s", p.event, p.delivery, what)
}

// describeJSONError says where in the body decoding failed, as a line and
// column and the dotted path of the field, which the decoder reports as a
// byte offset and a JSON pointer.
func describeJSONError(body []byte, err error) error {
	var syntax *jsontext.SyntacticError
	var typ *json.SemanticError
	switch {
	case len(bytes.TrimSpace(body)) == 0:
		return errors.New("body is empty, want a JSON object")
	case errors.As(err, &syntax):
		line, col := position(body, syntax.ByteOffset)
		if field := dotted(syntax.JSONPointer); field != "" {
			return fmt.Errorf("invalid JSON at line %d, column %d, in %s: %w", line, col, field, syntax.Err)
		}
		return fmt.Errorf("invalid JSON at line %d, column %d: %w", line, col, syntax.Err)
	case errors.As(err, &typ):
		line, col := position(body, typ.ByteOffset)
		field := dotted(typ.JSONPointer)
		if field == "" {
			field = "(top level)"
		}
		goType := "value of another type"
		if typ.GoType != nil {
			goType = typ.GoType.String()
		}
		return fmt.Errorf("field %s at line %d, column %d: JSON %s cannot be a %s", field, line, col, kindName(typ.JSONKind), goType)
	default:
		// Formatted now, not wrapped: the decoder's errors may point into
		// the body, whose buffer serves the next delivery.
		return fmt.Errorf("decode JSON: %v", err)
	}
}

// dotted writes a JSON pointer as the dotted path the payload's
// documentation uses (pull_request.head.sha).
func dotted(p jsontext.Pointer) string {
	return strings.Join(slices.Collect(p.Tokens()), ".")
}

// kindName names a JSON kind as a reader of the payload would.
func kindName(k jsontext.Kind) string {
	switch k {
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 0:
		return "value"
	}
	return k.String()
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
func isFork(head, base *wireRepo) bool {
	if head == nil || head.ID == 0 || head.FullName == "" || base == nil {
		return true
	}
	return head.ID != base.ID || !strings.EqualFold(head.FullName, base.FullName)
}

// checkRunEvent reads a re-run request (the "Re-run" button on a check run).
func checkRunEvent(m Meta, p payloadError, e *wireCheckRunEvent) (Event, string, error) {
	if e.Action != "rerequested" {
		return nil, e.Action, ErrIgnored
	}
	if err := fillMeta(&m, p, e.wireEnvelope); err != nil {
		return nil, e.Action, err
	}
	if e.CheckRun == nil || e.CheckRun.HeadSHA == "" {
		return nil, e.Action, p.missing("check_run.head_sha")
	}
	ev := CheckRunEvent{M: m, Action: e.Action, Name: e.CheckRun.Name, ExternalID: e.CheckRun.ExternalID, HeadSHA: e.CheckRun.HeadSHA}
	for _, pr := range e.CheckRun.PullRequests {
		ev.PRs = append(ev.PRs, CheckRunPR{Number: pr.Number, HeadSHA: pr.Head.SHA, BaseRef: pr.Base.Ref, Fork: isFork(pr.Head.Repo, pr.Base.Repo)})
	}
	return ev, e.Action, nil
}
