package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tfpr/tfpr/internal/report"
	"github.com/tfpr/tfpr/internal/store"
	"github.com/tfpr/tfpr/internal/terraform"
)

// DriftPolicy says what an apply does when the plan made on the merge
// commit differs from the reviewed one.
type DriftPolicy string

const (
	DriftApply DriftPolicy = "apply" // apply it and say how it differs
	DriftWait  DriftPolicy = "wait"  // hold it for `tfpr apply`
)

// planSource is where the plan an apply applies comes from.
type planSource int

const (
	planFresh    planSource = iota // plan again on the merge commit
	planReviewed                   // the plan reviewed on the PR
)

// planFacts are what choosePlan decides on.
type planFacts struct {
	Fresh        bool // a fresh plan is required (interrupted apply, stale reviewed plan)
	PR           int  // the PR that produced the merge commit; 0 unknown
	PRHead       string
	HaveReviewed bool
	Reviewed     store.Plan
	Fingerprint  string // tree of the project and its modules at the merge commit
}

// choosePlan decides whether the reviewed plan may be applied: only when it
// was made at the PR's final head on the same code. Otherwise why says, for
// the PR, why tfpr plans on the merge commit ("" when nothing needs saying).
func choosePlan(f planFacts) (planSource, string) {
	switch {
	case f.Fresh:
		return planFresh, ""
	case f.PR == 0:
		return planFresh, "No PR is known for this commit, so there is no reviewed plan; tfpr planned on the merge commit."
	case !f.HaveReviewed:
		return planFresh, fmt.Sprintf("PR #%d has no plan for this project; tfpr planned on the merge commit.", f.PR)
	case f.PRHead != "" && f.Reviewed.HeadSHA != f.PRHead:
		return planFresh, fmt.Sprintf("The last plan was made at %s, not at the PR's final head %s; tfpr re-planned on the merge commit.",
			short(f.Reviewed.HeadSHA), short(f.PRHead))
	case f.Reviewed.Fingerprint != f.Fingerprint:
		return planFresh, "The merge commit's code for this project differs from the reviewed head (another change merged first); tfpr re-planned on the merge commit."
	}
	return planReviewed, ""
}

// planForApply returns the plan to apply and whether it is the reviewed
// one: the reviewed plan when choosePlan allows it and its files are
// intact, else a fresh plan on the merge commit, compared value by value
// with the reviewed one.
func (r *Runner) planForApply(ctx context.Context, st *applyState, fingerprint string, fresh bool) (*terraform.Plan, bool, error) {
	p := st.run.Project
	reviewed, err := r.store.LatestPlan(ctx, st.run.Repo, st.merge.PR, p)
	haveReviewed := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, false, err
	}
	source, why := choosePlan(planFacts{Fresh: fresh, PR: st.merge.PR, PRHead: st.merge.HeadSHA, HaveReviewed: haveReviewed,
		Reviewed: reviewed, Fingerprint: fingerprint})
	if source == planReviewed {
		plan, err := r.fetchReviewed(ctx, st, reviewed)
		if err == nil {
			st.result.Notes = append(st.result.Notes, fmt.Sprintf("Applied the plan reviewed on PR #%d at %s.", st.merge.PR, short(reviewed.HeadSHA)))
			return plan, true, nil
		}
		why = "The reviewed plan could not be used (" + err.Error() + "); tfpr re-planned on the merge commit."
	}
	if why != "" {
		st.result.Notes = append(st.result.Notes, why)
	}
	plan, err := r.terraformPlan(ctx, st.co, st.run.Repo, p, st.inputs, filepath.Join(st.scratch, "merge.tfplan"), ModeApply)
	if err != nil {
		return nil, false, err
	}
	if haveReviewed {
		r.compareWithReviewed(ctx, st, reviewed, plan)
	}
	return plan, false, nil
}

// driftAction is what an apply does with a plan that differs from the
// reviewed one.
type driftAction int

const (
	driftProceed  driftAction = iota // apply, the differences reported
	driftApproved                    // apply: a code owner approved this very plan
	driftHold                        // wait for `tfpr apply`
)

// onDrift decides the fate of a plan that differs from the reviewed one.
// An approval counts only for the plan content it was given for.
func onDrift(policy DriftPolicy, approvedBy, heldDigest, digest string) driftAction {
	if policy != DriftWait {
		return driftProceed
	}
	if approvedBy != "" && digest != "" && heldDigest == digest {
		return driftApproved
	}
	return driftHold
}

// maxShownDifferences bounds the differences listed in a PR comment.
const maxShownDifferences = 40

// compareWithReviewed tells the PR every way the plan about to be applied
// differs from the reviewed one. With TFPR_APPLY_ON_DRIFT=wait any
// difference holds the apply until a code owner approves this very plan.
func (r *Runner) compareWithReviewed(ctx context.Context, st *applyState, reviewed store.Plan, plan *terraform.Plan) {
	diffs, err := r.diffReviewed(ctx, st, reviewed, plan)
	switch {
	case err != nil:
		st.result.Notes = append(st.result.Notes, "tfpr could not compare the new plan with the one reviewed at "+short(reviewed.HeadSHA)+
			" ("+err.Error()+"), so treats it as different.")
	case len(diffs) == 0:
		st.result.Notes = append(st.result.Notes, "The new plan makes exactly the changes reviewed at "+short(reviewed.HeadSHA)+", value for value.")
		return
	default:
		st.result.Notes = append(st.result.Notes, fmt.Sprintf("The new plan differs from the plan reviewed at %s in %d value(s) (reviewed → applied):",
			short(reviewed.HeadSHA), len(diffs)))
		for i, d := range diffs {
			if i == maxShownDifferences {
				st.result.Notes = append(st.result.Notes, fmt.Sprintf("… and %d more.", len(diffs)-i))
				break
			}
			st.result.Notes = append(st.result.Notes, d.describe())
		}
		r.logger(ctx).Info("applied plan differs from the reviewed plan", "run", st.run.ID, "project", st.run.Project, "differences", len(diffs))
	}
	digest := planDigest(plan.JSON)
	switch onDrift(r.cfg.ApplyOnDrift, st.run.ApprovedBy, st.run.HeldDigest, digest) {
	case driftProceed:
	case driftApproved:
		st.result.Notes = append(st.result.Notes, "A code owner approved this plan ("+st.run.ApprovedBy+").")
	case driftHold:
		st.result.Outcome = report.Waiting
		st.result.Plan = plan
		st.run.HeldDigest = digest
		st.result.Notes = append(st.result.Notes, "Apply is held: a code owner of the project can comment `tfpr apply` on this PR to apply this plan.")
	}
}

// diffReviewed compares plan with the reviewed plan's JSON form, which
// must be the copy saved at review (hash-checked).
func (r *Runner) diffReviewed(ctx context.Context, st *applyState, reviewed store.Plan, plan *terraform.Plan) ([]valueChange, error) {
	js, err := r.reviewedJSON(ctx, reviewed, filepath.Join(st.scratch, "compare.json"))
	if err != nil {
		return nil, err
	}
	before, err := readPlanContent(js)
	if err != nil {
		return nil, fmt.Errorf("reviewed plan: %w", err)
	}
	now, err := readPlanContent(plan.JSON)
	if err != nil {
		return nil, fmt.Errorf("new plan: %w", err)
	}
	return comparePlans(before, now), nil
}

// fetchReviewed copies the reviewed plan into the scratch dir and checks it
// is byte for byte the file that was reviewed, and its JSON form too.
func (r *Runner) fetchReviewed(ctx context.Context, st *applyState, reviewed store.Plan) (*terraform.Plan, error) {
	local := filepath.Join(st.scratch, "reviewed.tfplan")
	if err := r.files.Get(ctx, reviewed.File, local); err != nil {
		return nil, err
	}
	if got := fileHash(local); got != reviewed.Hash {
		return nil, fmt.Errorf("plan file hash %.12s does not match the reviewed %.12s", got, reviewed.Hash)
	}
	js, err := r.reviewedJSON(ctx, reviewed, local+".json")
	if err != nil {
		return nil, err
	}
	return &terraform.Plan{File: local, HasChanges: true, Add: reviewed.Add, Change: reviewed.Change, Destroy: reviewed.Destroy, JSON: js}, nil
}

// reviewedJSON fetches the JSON form saved beside a reviewed plan and
// checks it against the hash recorded at review: the plan-stage policies
// judge it, so a copy changed in the plan store must never reach them.
func (r *Runner) reviewedJSON(ctx context.Context, reviewed store.Plan, local string) ([]byte, error) {
	if reviewed.JSONHash == "" {
		return nil, errors.New("its JSON form has no recorded hash, so the plan policies cannot judge it")
	}
	if err := r.files.Get(ctx, reviewed.File+".json", local); err != nil {
		return nil, fmt.Errorf("its JSON form is missing, so the plan policies cannot judge it: %w", err)
	}
	js, err := os.ReadFile(local)
	if err != nil {
		return nil, fmt.Errorf("read reviewed plan JSON: %w", err)
	}
	sum := sha256.Sum256(js)
	if got := hex.EncodeToString(sum[:]); got != reviewed.JSONHash {
		return nil, fmt.Errorf("plan JSON hash %.12s does not match the reviewed %.12s", got, reviewed.JSONHash)
	}
	return js, nil
}
