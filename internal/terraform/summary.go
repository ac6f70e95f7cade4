package terraform

import (
	"encoding/json"
	"fmt"

	tfjson "github.com/hashicorp/terraform-json"
)

// Summary counts what a plan does, from `terraform show -json`: each
// resource change by its actions, plus what terraform reports beside them
// (imports, moves, removals from state, outputs). A replacement counts once,
// in Replace, not in Create and Delete as terraform's "Plan:" line does.
type Summary struct {
	Create, Update, Delete, Replace int
	Import, Move, Forget            int
	// Outputs counts root outputs that change.
	Outputs int
	// Deleted and Replaced name the resources destroyed or replaced, the
	// changes a reviewer must not miss.
	Deleted, Replaced []string
}

// Empty reports whether the plan changes nothing at all.
func (s Summary) Empty() bool {
	return s.Create+s.Update+s.Delete+s.Replace+s.Import+s.Move+s.Forget+s.Outputs == 0
}

// Destructive reports whether applying destroys any object.
func (s Summary) Destructive() bool { return s.Delete+s.Replace > 0 }

// SummaryOf decodes a plan's JSON form (`terraform show -json`) and
// summarizes it.
func SummaryOf(planJSON []byte) (Summary, error) {
	var p tfjson.Plan
	if err := json.Unmarshal(planJSON, &p); err != nil {
		return Summary{}, fmt.Errorf("decode plan JSON: %w", err)
	}
	return summaryOf(&p), nil
}

func summaryOf(plan *tfjson.Plan) Summary {
	var s Summary
	if plan == nil {
		return s
	}
	for _, rc := range plan.ResourceChanges {
		if rc == nil || rc.Change == nil || rc.Mode == tfjson.DataResourceMode {
			continue
		}
		if rc.Change.Importing != nil {
			s.Import++
		}
		if rc.PreviousAddress != "" && rc.PreviousAddress != rc.Address {
			s.Move++
		}
		acts := rc.Change.Actions
		switch {
		case acts.Create():
			s.Create++
		case acts.Update():
			s.Update++
		case acts.Delete():
			s.Delete++
			s.Deleted = append(s.Deleted, rc.Address)
		case acts.Replace():
			s.Replace++
			s.Replaced = append(s.Replaced, rc.Address)
		case acts.Forget():
			s.Forget++
		}
	}
	for _, oc := range plan.OutputChanges {
		if oc != nil && !oc.Actions.NoOp() {
			s.Outputs++
		}
	}
	return s
}
