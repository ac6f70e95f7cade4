package runspec

import (
	"strings"
	"testing"
	"time"
)

// A worker's terraform phases come back in its result and are checked:
// a command cannot have run for a negative time or longer than the worker
// may live.
func TestResultPhasesAreBounded(t *testing.T) {
	spec := Spec{RunID: 7, Stage: Unlock, Budget: time.Minute}
	ok := Result{RunID: 7, Stage: Unlock, Status: Succeeded, Exits: []Exit{{Command: "init", Took: 2 * time.Second}, {Command: "force-unlock", Took: time.Second}}}
	if err := ok.Validate(spec); err != nil {
		t.Fatalf("valid result refused: %v", err)
	}
	for _, took := range []time.Duration{-time.Second, time.Minute + Grace + time.Nanosecond} {
		bad := ok
		bad.Exits = []Exit{{Command: "init", Took: took}}
		err := bad.Validate(spec)
		if err == nil || !strings.Contains(err.Error(), `terraform exit 1 ("init") took `+took.String()) {
			t.Errorf("init taking %s: err = %v, want it refused naming the exit and its time", took, err)
		}
	}
}
