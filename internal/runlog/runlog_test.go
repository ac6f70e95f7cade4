package runlog

import (
	"fmt"
	"strings"
	"testing"
)

func drain(s *Subscription) []string {
	var out []string
	for l := range s.Lines {
		out = append(out, l)
	}
	return out
}

func TestSubscriberGetsBacklogThenLiveLinesThenEnd(t *testing.T) {
	b := New(Limits{})
	b.Append(1, "Initializing the backend...")
	s := b.Subscribe(1)
	if len(s.Backlog) != 1 || s.Backlog[0] != "Initializing the backend..." {
		t.Fatalf("backlog = %q", s.Backlog)
	}
	b.Append(1, "Plan: 1 to add", "token ya29.a0AfH6SMBx3kZq9LwQ7abcdefghijklmnop")
	b.Append(2, "another run")
	b.Finish(1)
	got := drain(s)
	if len(got) != 2 || got[0] != "Plan: 1 to add" || strings.Contains(got[1], "ya29.a0") || !strings.Contains(got[1], "«redacted»") {
		t.Fatalf("live lines = %q, want the run's two lines, masked", got)
	}
	if s.Lagged() {
		t.Error("a finished log reads as lagged")
	}
	late := b.Subscribe(1)
	if late.Lines != nil || len(late.Backlog) != 3 {
		t.Fatalf("subscribing to a finished log: lines %v, backlog %q", late.Lines, late.Backlog)
	}
}

func TestMemoryIsBounded(t *testing.T) {
	b := New(Limits{LineBytes: 10, LinesPerRun: 3, Runs: 2, Buffer: 2})
	b.Append(1, strings.Repeat("x", 100))
	if s := b.Subscribe(1); len(s.Backlog[0]) > 20 {
		t.Errorf("a 100-byte line was kept as %d bytes", len(s.Backlog[0]))
	}
	for i := range 10 {
		b.Append(1, fmt.Sprint(i))
	}
	s := b.Subscribe(1)
	if len(s.Backlog) != 3 || s.Backlog[2] != "9" || s.Dropped != 8 {
		t.Errorf("backlog = %q dropped %d, want the last 3 lines and 8 dropped", s.Backlog, s.Dropped)
	}
	// A reader that does not read is cut off instead of blocking Append.
	for i := range 5 {
		b.Append(1, fmt.Sprint(i))
	}
	if got := drain(s); len(got) != 2 || !s.Lagged() {
		t.Errorf("slow reader got %q lagged=%v, want its 2 buffered lines and lagged", got, s.Lagged())
	}
	b.Append(2, "two")
	b.Append(3, "three")
	if s := b.Subscribe(1); len(s.Backlog) != 0 {
		t.Errorf("run 1 still kept after two newer runs with a limit of 2: %q", s.Backlog)
	}
}
