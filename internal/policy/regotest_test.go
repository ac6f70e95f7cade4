package policy_test

import (
	"context"
	"testing"

	"github.com/tfpr/tfpr/internal/policy"
	"github.com/tfpr/tfpr/policies"
)

// TestDefaultPolicyUnitTests runs every *_test.rego of the default policies
// through OPA's tester, as `tfpr policy test` does.
func TestDefaultPolicyUnitTests(t *testing.T) {
	results, err := policy.Test(context.Background(), policies.FS(), policy.TestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) < 30 {
		t.Errorf("ran %d Rego tests, want at least 30", len(results))
	}
	for _, r := range results {
		if !r.Pass {
			t.Errorf("%s.%s (%s) failed %s: err=%v output=%q", r.Package, r.Name, r.Location, r.FailedAt, r.Err, r.Output)
		}
	}
}
