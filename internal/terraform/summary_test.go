package terraform_test

import (
	"slices"
	"testing"

	"github.com/tfpr/tfpr/internal/terraform"
)

// A plan doing every kind of change is summarized from terraform's JSON:
// replacement apart from create and delete, moves, imports, removals from
// state and output changes counted, destroyed addresses named.
func TestPlanSummary(t *testing.T) {
	f := newFixture(t, "summary")
	f.apply(t, `
resource "terraform_data" "keep" { input = "a" }
resource "terraform_data" "upd" { input = "a" }
resource "terraform_data" "rep" { input = "a" }
resource "terraform_data" "gone" { input = "a" }
resource "terraform_data" "old" { input = "m" }
resource "terraform_data" "forgetme" { input = "f" }
output "o" { value = "x" }
`)
	p := f.plan(t, `
resource "terraform_data" "keep" { input = "a" }
resource "terraform_data" "upd" { input = "b" }
resource "terraform_data" "rep" {
  input            = "a"
  triggers_replace = ["2"]
}
resource "terraform_data" "new" { input = "n" }
resource "terraform_data" "moved" { input = "m" }
moved {
  from = terraform_data.old
  to   = terraform_data.moved
}
removed {
  from = terraform_data.forgetme
  lifecycle { destroy = false }
}
import {
  to = terraform_data.imported
  id = "x"
}
resource "terraform_data" "imported" {}
output "o" { value = "y" }
`)
	got := p.Summary
	want := terraform.Summary{Create: 1, Update: 1, Delete: 1, Replace: 1, Import: 1, Move: 1, Forget: 1, Outputs: 1,
		Deleted: []string{"terraform_data.gone"}, Replaced: []string{"terraform_data.rep"}}
	if got.Create != want.Create || got.Update != want.Update || got.Delete != want.Delete || got.Replace != want.Replace ||
		got.Import != want.Import || got.Move != want.Move || got.Forget != want.Forget || got.Outputs != want.Outputs ||
		!slices.Equal(got.Deleted, want.Deleted) || !slices.Equal(got.Replaced, want.Replaced) {
		t.Fatalf("summary = %+v\nwant      %+v", got, want)
	}
	again, err := terraform.SummaryOf(p.JSON)
	if err != nil || again.Replace != 1 || again.Move != 1 {
		t.Fatalf("SummaryOf(plan JSON) = %+v, %v", again, err)
	}
	if _, err := terraform.SummaryOf([]byte("{not json")); err == nil {
		t.Fatal("SummaryOf accepted bad JSON")
	}
}
