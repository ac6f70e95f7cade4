package suggest

import "testing"

func TestClosest(t *testing.T) {
	known := []string{"TFPR_STATE_BUCKET", "TFPR_PLAN_BUCKET", "allowed_providers"}
	for in, want := range map[string]string{
		"TFPR_STATE_BUCKT":  "TFPR_STATE_BUCKET",
		"TFPR_PLAN_BUKCET":  "TFPR_PLAN_BUCKET",
		"alowed_providers":  "allowed_providers",
		"TFPR_SOMETHING":    "",
		"allowed_providers": "allowed_providers",
	} {
		if got := Closest(in, known); got != want {
			t.Errorf("Closest(%q) = %q, want %q", in, got, want)
		}
	}
}
