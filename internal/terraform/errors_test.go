package terraform

import "testing"

func TestTrimDiagnostics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		max      int
		want     string
	}{
		{
			name: "frame removed",
			in:   "\n╷\n│ Error: Invalid expression\n│ \n│   on main.tf line 5:\n│    5:   input =\n╵\n\n",
			want: "Error: Invalid expression\n\n  on main.tf line 5:\n   5:   input =",
		},
		{
			name: "plain text kept",
			in:   "Error: Saved plan is stale\n",
			want: "Error: Saved plan is stale",
		},
		{
			name: "cut on a character boundary",
			in:   "ab│cd",
			max:  3,
			want: "ab\n[... output truncated]",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := trimDiagnostics(tt.in, tt.max)
			if got != tt.want {
				t.Errorf("trimDiagnostics(%q) =\n%q\nwant\n%q", tt.in, got, tt.want)
			}
		})
	}
}
