package runner

import "time"

// Config is the part of tfpr's configuration the runner acts on.
type Config struct {
	StateBucket    string
	DataDir        string
	TerraformBin   string
	Parallelism    int
	ResyncInterval time.Duration
	ShutdownGrace  time.Duration
	AllowForkPRs   bool
	ApplyOnDrift   DriftPolicy
	ApproverUsers  []string
	ApproverTeams  []string
	// Env is terraform's base environment (already an allowlist).
	Env map[string]string
	// Impersonate maps a repository's project to the service account its
	// terraform runs as ("" for the server's own identity); plan may use a
	// read-only one.
	Impersonate    func(repo, project string, mode Mode) (string, error)
	AllowRepo      func(fullName string) bool
	Secrets        []string // never posted to GitHub, whatever terraform prints
	PollInterval   time.Duration
	PluginCacheDir string
	PlanTimeout    time.Duration // a PR plan running longer is cancelled
	RetryBase      time.Duration // first backoff of an apply that could not start

	// StatePrefixTemplate places a project's state (DefaultStatePrefix
	// when empty).
	StatePrefixTemplate string
	MaxProjectsPerPR    int // projects checked and planned per PR push

	// DriftInterval is how often every default-branch project is checked
	// for drift (0: never); DriftParallelism bounds the checks at once.
	DriftInterval    time.Duration
	DriftParallelism int
}
