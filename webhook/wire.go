package webhook

// The wire types hold only the parts of GitHub's payloads tfpr reads; the
// JSON names follow GitHub's webhook documentation (and go-github's types).

type wireUser struct {
	Login string `json:"login"`
	ID    int64  `json:"id"`
}

func (u *wireUser) login() string {
	if u == nil {
		return ""
	}
	return u.Login
}

type wireInstallation struct {
	ID int64 `json:"id"`
}

func (i *wireInstallation) id() int64 {
	if i == nil {
		return 0
	}
	return i.ID
}

type wireRepo struct {
	ID            int64     `json:"id"`
	Name          string    `json:"name"`
	FullName      string    `json:"full_name"`
	CloneURL      string    `json:"clone_url"`
	DefaultBranch string    `json:"default_branch"`
	Private       bool      `json:"private"`
	Owner         *wireUser `json:"owner"`
}

func (r *wireRepo) fullName() string {
	if r == nil {
		return ""
	}
	return r.FullName
}

type wireBranch struct {
	SHA  string    `json:"sha"`
	Ref  string    `json:"ref"`
	Repo *wireRepo `json:"repo"`
}

type wirePR struct {
	Number         int        `json:"number"`
	Title          string     `json:"title"`
	State          string     `json:"state"`
	Draft          bool       `json:"draft"`
	Merged         bool       `json:"merged"`
	MergeCommitSHA string     `json:"merge_commit_sha"`
	User           *wireUser  `json:"user"`
	MergedBy       *wireUser  `json:"merged_by"`
	Head           wireBranch `json:"head"`
	Base           wireBranch `json:"base"`
}

// wireEnvelope is what every delivery carries besides its event.
type wireEnvelope struct {
	Repository   *wireRepo         `json:"repository"`
	Installation *wireInstallation `json:"installation"`
	Sender       *wireUser         `json:"sender"`
}

type wirePullRequestEvent struct {
	Action      string  `json:"action"`
	PullRequest *wirePR `json:"pull_request"`
	wireEnvelope
}

type wirePushEvent struct {
	Ref     string `json:"ref"`
	Before  string `json:"before"`
	After   string `json:"after"`
	Created bool   `json:"created"`
	Deleted bool   `json:"deleted"`
	Forced  bool   `json:"forced"`
	wireEnvelope
}

type wireCommentEvent struct {
	Action string `json:"action"`
	Issue  *struct {
		Number      int       `json:"number"`
		PullRequest *struct{} `json:"pull_request"`
	} `json:"issue"`
	Comment *struct {
		ID                int64     `json:"id"`
		Body              string    `json:"body"`
		User              *wireUser `json:"user"`
		AuthorAssociation string    `json:"author_association"`
	} `json:"comment"`
	wireEnvelope
}

type wirePingEvent struct {
	Zen    string `json:"zen"`
	HookID int64  `json:"hook_id"`
	wireEnvelope
}

type wireCheckRunEvent struct {
	Action   string `json:"action"`
	CheckRun *struct {
		Name         string `json:"name"`
		ExternalID   string `json:"external_id"`
		HeadSHA      string `json:"head_sha"`
		PullRequests []struct {
			Number int        `json:"number"`
			Head   wireBranch `json:"head"`
			Base   wireBranch `json:"base"`
		} `json:"pull_requests"`
	} `json:"check_run"`
	wireEnvelope
}
