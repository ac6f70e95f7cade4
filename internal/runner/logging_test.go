package runner

import (
	"testing"

	"github.com/tfpr/tfpr/webhook"
)

// A delivery can be followed from the webhook to what its job did.
func TestJobLogsNameTheDelivery(t *testing.T) {
	h := newHarness(t, Config{})
	h.openPR(t, "v1", "")
	h.ws.commit("m1", "b0", map[string]string{projA + "/input": "v1"})
	h.ws.land("m1")
	m := meta
	m.Delivery = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
	h.dispatch(t, webhook.PushEvent{M: m, Ref: "refs/heads/main", Before: "b0", After: "m1"})
	lines := h.logs.lines("apply queued")
	if len(lines) != 1 || lines[0]["delivery"] != m.Delivery || lines[0]["job"] == nil {
		t.Errorf("apply queued log lines = %v, want one naming delivery %s and its job", lines, m.Delivery)
	}
}
