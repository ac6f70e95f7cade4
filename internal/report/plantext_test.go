package report

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// terraform plan's own output (not `show`) is full of progress lines and a
// symbol legend; the comment shows only what the plan does.
func TestPlanNoiseRemoved(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "plans", "destroy.plan-stdout.txt"))
	if err != nil {
		t.Fatal(err)
	}
	got := clean(string(raw))
	for _, noise := range []string{"Refreshing state...", "Resource actions are indicated", "Saved the plan to", "terraform apply \"", "─────", "\n\n\n"} {
		if strings.Contains(got, noise) {
			t.Errorf("cleaned plan still holds %q:\n%s", noise, got)
		}
	}
	for _, keep := range []string{"# terraform_data.a will be destroyed", `- resource "terraform_data" "b" {`, "Plan: 0 to add, 0 to change, 2 to destroy."} {
		if !strings.Contains(got, keep) {
			t.Errorf("cleaned plan lost %q:\n%s", keep, got)
		}
	}
	for _, l := range []string{
		"data.google_project.p: Reading...", "data.google_project.p: Read complete after 0s [id=x]",
		"module.m.data.x.y: Still reading... [10s elapsed]", "Acquiring state lock. This may take a few moments...",
	} {
		if clean("Plan: 1 to add\n"+l) != "Plan: 1 to add" {
			t.Errorf("%q is not removed", l)
		}
	}
}

// Action symbols become diff markers in the first column, alignment kept,
// and nothing else is coloured.
func TestDiffMarks(t *testing.T) {
	in := strings.Join([]string{
		"  # terraform_data.a will be created",
		"  + resource \"terraform_data\" \"a\" {",
		"      + input = \"x\"",
		"  ~ resource \"terraform_data\" \"b\" {",
		"      ~ input = \"a\" -> \"b\"",
		"      - old   = 1 -> null",
		"-/+ resource \"terraform_data\" \"c\" {",
		"+not a change at column 0",
		"    }",
	}, "\n")
	want := strings.Join([]string{
		"  # terraform_data.a will be created",
		"+   resource \"terraform_data\" \"a\" {",
		"+       input = \"x\"",
		"!   resource \"terraform_data\" \"b\" {",
		"!       input = \"a\" -> \"b\"",
		"-       old   = 1 -> null",
		"!   resource \"terraform_data\" \"c\" {",
		" +not a change at column 0",
		"    }",
	}, "\n")
	if got := diffMarks(in); got != want {
		t.Errorf("diffMarks:\n%s\nwant:\n%s", got, want)
	}
}

// A cut keeps whole lines from the head and the tail within the budget and
// counts what it dropped.
func TestTrimKeepsHeadAndTail(t *testing.T) {
	var ls []string
	for i := 1; i <= 1000; i++ {
		ls = append(ls, strings.Repeat("x", i%50)+"|line")
	}
	text := strings.Join(ls, "\n")
	for _, n := range []int{300, 1000, 5000, 20000} {
		got := trim(text, n, "the run log")
		if len(got) > n {
			t.Errorf("trim to %d gave %d bytes", n, len(got))
		}
		if !strings.HasPrefix(got, ls[0]+"\n") || !strings.HasSuffix(got, "\n"+ls[999]) || !strings.Contains(got, "lines cut here") {
			t.Errorf("trim to %d lost the head, the tail or the note:\n%s", n, got)
		}
		kept := strings.Count(got, "|line")
		var cut, from, to, total int
		note := got[strings.Index(got, "… ")+len("… "):]
		if _, err := fmtSscanf(note, &cut, &from, &to, &total); err != nil || kept+cut != 1000 || total != 1000 || to-from+1 != cut {
			t.Errorf("trim to %d: kept %d, note says %d cut (lines %d–%d of %d): %v", n, kept, cut, from, to, total, err)
		}
	}
	if got := trim("short", 100, "x"); got != "short" {
		t.Errorf("text within budget changed: %q", got)
	}
}

func fmtSscanf(s string, cut, from, to, total *int) (int, error) {
	return fmt.Sscanf(s, "%d lines cut here (lines %d–%d of %d)", cut, from, to, total)
}
