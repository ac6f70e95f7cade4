// Package runspec is what the server hands a worker for one terraform run
// and what the worker hands back: the run spec, the bundle that carries the
// spec with the project's files (and, for an apply, the saved plan), and the
// result. Both sides read each other's bytes with fixed bounds, because a
// worker runs code from a pull request and the server must not trust it.
package runspec

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/tfpr/tfpr/internal/terraform"
)

// Stage is the terraform operation a run performs.
type Stage int

const (
	// Plan runs init, plan to a saved plan file, and show (JSON and text).
	Plan Stage = iota + 1
	// Apply runs init and applies the saved plan carried in the bundle.
	Apply
	// Unlock runs init and force-unlocks the state lock LockID, which a
	// run that died left behind.
	Unlock
)

func (s Stage) String() string {
	switch s {
	case Plan:
		return "plan"
	case Apply:
		return "apply"
	case Unlock:
		return "unlock"
	}
	return fmt.Sprintf("stage(%d)", int(s))
}

// MarshalText writes the stage's name, so specs and stored records read
// plainly.
func (s Stage) MarshalText() ([]byte, error) {
	if s != Plan && s != Apply && s != Unlock {
		return nil, fmt.Errorf("unknown stage %d", int(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText accepts "plan" or "apply".
func (s *Stage) UnmarshalText(b []byte) error {
	switch string(b) {
	case "plan":
		*s = Plan
	case "apply":
		*s = Apply
	case "unlock":
		*s = Unlock
	default:
		return fmt.Errorf("unknown stage %q (want plan, apply or unlock)", b)
	}
	return nil
}

// Spec describes one run. It travels inside the bundle, which only the
// holder of the run's token can fetch.
type Spec struct {
	RunID int64 `json:"run_id"`
	Stage Stage `json:"stage"`
	// Project is the project's directory relative to the bundle's tree,
	// slash-separated (e.g. microservices/alpha/dev).
	Project string `json:"project"`
	// Bucket and Prefix are the gcs backend's partial configuration.
	Bucket string `json:"bucket"`
	Prefix string `json:"prefix"`
	// LockPlans makes a plan take the state lock (see terraform.Options).
	LockPlans bool `json:"lock_plans,omitempty"`
	// Budget is how long the run may take; the worker gives up on
	// terraform after it and on delivering its result after Budget+Grace.
	Budget time.Duration `json:"budget"`
	// PlanSHA256 is the hash of the saved plan an apply must apply; the
	// worker refuses a plan file in the bundle that does not match.
	PlanSHA256 string `json:"plan_sha256,omitempty"`
	// LockID is the state lock an unlock removes.
	LockID string `json:"lock_id,omitempty"`
	// AccessToken is the short-lived OAuth token of the project's own
	// service account, given to terraform as GOOGLE_OAUTH_ACCESS_TOKEN.
	// Empty where the worker already runs as that account.
	AccessToken string `json:"access_token,omitempty"`
	// Terraform is the executable the server asked for its version at
	// start. A worker that finds the same file (path, size and
	// modification time) skips asking again: one terraform process per
	// run fewer. Anything else, or none, and the worker asks itself.
	Terraform *terraform.Binary `json:"terraform,omitempty"`
}

// Grace is how long past its budget a worker keeps trying to deliver its
// result, so a server that restarts meanwhile still gets it.
const Grace = 15 * time.Minute

// MaxBudget bounds a spec's budget: a worker is never told to live for
// days.
const MaxBudget = 24 * time.Hour

// TokenEnv carries the run token to the worker, which drops it from its
// environment before terraform starts.
const TokenEnv = "TFPR_RUN_TOKEN"

// Validate reports the first thing wrong with s.
func (s Spec) Validate() error {
	switch {
	case s.RunID <= 0:
		return fmt.Errorf("run spec: run_id %d is not positive", s.RunID)
	case s.Stage != Plan && s.Stage != Apply && s.Stage != Unlock:
		return fmt.Errorf("run spec %d: unknown stage %d", s.RunID, int(s.Stage))
	case s.Bucket == "":
		return fmt.Errorf("run spec %d: backend bucket is empty", s.RunID)
	case s.Budget <= 0 || s.Budget > MaxBudget:
		return fmt.Errorf("run spec %d: budget %s is outside (0, %s]", s.RunID, s.Budget, MaxBudget)
	case s.Stage == Apply && len(s.PlanSHA256) != 64:
		return fmt.Errorf("run spec %d: an apply needs the saved plan's sha256", s.RunID)
	case s.Stage == Unlock && (s.LockID == "" || strings.HasPrefix(s.LockID, "-")):
		return fmt.Errorf("run spec %d: an unlock needs a lock ID", s.RunID)
	}
	if err := checkRel(s.Project); err != nil {
		return fmt.Errorf("run spec %d: project: %w", s.RunID, err)
	}
	if t := s.Terraform; t != nil && (!strings.HasPrefix(t.Path, "/") || t.Version == "") {
		return fmt.Errorf("run spec %d: terraform executable %q with version %q: want an absolute path and a version", s.RunID, t.Path, t.Version)
	}
	return nil
}

// String leaves the access token out, so a spec can be logged.
func (s Spec) String() string {
	return fmt.Sprintf("run %d: %s %s (budget %s)", s.RunID, s.Stage, s.Project, s.Budget)
}

// checkRel accepts a clean, relative, slash-separated path that stays
// inside its root.
func checkRel(p string) error {
	switch {
	case p == "" || p == ".":
		return errors.New("path is empty")
	case strings.HasPrefix(p, "/"):
		return fmt.Errorf("%q is absolute", p)
	case strings.ContainsAny(p, "\\\x00"):
		return fmt.Errorf("%q holds a backslash or NUL", p)
	case path.Clean(p) != p:
		return fmt.Errorf("%q is not clean", p)
	case p == ".." || strings.HasPrefix(p, "../"):
		return fmt.Errorf("%q leaves its root", p)
	}
	return nil
}

// Status is how a run ended, as the worker saw it.
type Status int

const (
	// Succeeded: every terraform command exited 0.
	Succeeded Status = iota + 1
	// Failed: terraform failed, or the worker could not run it.
	Failed
	// StalePlan: terraform refused the saved plan because the state moved
	// since it was made; the server re-plans.
	StalePlan
)

var statusNames = map[Status]string{Succeeded: "succeeded", Failed: "failed", StalePlan: "stale-plan"}

func (s Status) String() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return fmt.Sprintf("status(%d)", int(s))
}

// MarshalText writes the status's name.
func (s Status) MarshalText() ([]byte, error) {
	if _, ok := statusNames[s]; !ok {
		return nil, fmt.Errorf("unknown status %d", int(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText accepts the names String gives.
func (s *Status) UnmarshalText(b []byte) error {
	for k, n := range statusNames {
		if n == string(b) {
			*s = k
			return nil
		}
	}
	return fmt.Errorf("unknown status %q", b)
}

// Change is one resource a plan changes.
type Change struct {
	Address string   `json:"address"`
	Actions []string `json:"actions"`
}

// PlanResult is what a plan run produced.
type PlanResult struct {
	HasChanges bool     `json:"has_changes"`
	Add        int      `json:"add"`
	Change     int      `json:"change"`
	Destroy    int      `json:"destroy"`
	Import     int      `json:"import"`
	Changes    []Change `json:"changes,omitempty"`
	Text       string   `json:"text"`
	JSON       []byte   `json:"json"`
	// File is the saved plan; SHA256 is its hash as the worker computed
	// it, checked by the server on receipt and again before an apply.
	File   []byte `json:"file"`
	SHA256 string `json:"sha256"`
}

// Result is what a worker posts when its run ends.
type Result struct {
	RunID  int64  `json:"run_id"`
	Stage  Stage  `json:"stage"`
	Status Status `json:"status"`
	// Error is the failure as terraform or the worker reported it.
	Error string `json:"error,omitempty"`
	// Plan is set for a plan that succeeded.
	Plan *PlanResult `json:"plan,omitempty"`
	// Output is an apply's output, also when it failed part way.
	Output string `json:"output,omitempty"`
	// Exits are the terraform commands the run ran, in order, with their
	// exit codes: the server counts them, as terraform runs only here.
	Exits []Exit `json:"exits,omitempty"`
	// Finished is when the worker finished terraform (its clock).
	Finished time.Time `json:"finished"`
}

// Exit is one terraform command a worker ran, its exit code (-1: it did
// not exit on its own) and how long it ran: the run's terraform phases.
type Exit struct {
	Command string        `json:"command"`
	Code    int           `json:"code"`
	Took    time.Duration `json:"took_ns"`
}

// Result bounds: a result larger than this is refused whole, and a run
// runs at most MaxExits terraform commands (init, plan, show or init,
// apply, or init, force-unlock).
const (
	MaxResultBytes = 96 << 20
	MaxExits       = 8
)

// Validate checks a result against the run it claims to be for.
func (r Result) Validate(spec Spec) error {
	if r.RunID != spec.RunID || r.Stage != spec.Stage {
		return fmt.Errorf("result for run %d (%s) does not match run %d (%s)", r.RunID, r.Stage, spec.RunID, spec.Stage)
	}
	if _, ok := statusNames[r.Status]; !ok {
		return fmt.Errorf("result of run %d: unknown status %d", r.RunID, int(r.Status))
	}
	if len(r.Exits) > MaxExits {
		return fmt.Errorf("result of run %d: %d terraform exits, a run has at most %d", r.RunID, len(r.Exits), MaxExits)
	}
	// A command cannot have run longer than the worker was allowed to live.
	for i, e := range r.Exits {
		if e.Took < 0 || e.Took > spec.Budget+Grace {
			return fmt.Errorf("result of run %d: terraform exit %d (%.40q) took %s, outside [0, %s]", r.RunID, i+1, e.Command, e.Took, spec.Budget+Grace)
		}
	}
	if r.Stage == Plan && r.Status == Succeeded {
		if r.Plan == nil || len(r.Plan.File) == 0 {
			return fmt.Errorf("result of run %d: a successful plan carries no plan file", r.RunID)
		}
		if got := SHA256(r.Plan.File); got != r.Plan.SHA256 {
			return fmt.Errorf("result of run %d: plan file hashes to %s, the worker reported %s", r.RunID, got, r.Plan.SHA256)
		}
		if !json.Valid(r.Plan.JSON) {
			return fmt.Errorf("result of run %d: plan JSON is not JSON", r.RunID)
		}
	}
	return nil
}
