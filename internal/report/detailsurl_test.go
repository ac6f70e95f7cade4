package report

import (
	"strings"
	"testing"
)

// A result that names its run on the runs page links it from its check run
// and its comment section; one that does not renders as before.
func TestDetailsURLLinksTheRun(t *testing.T) {
	res := Result{Project: "microservices/alpha/dev", Outcome: Planned, DetailsURL: "https://tfpr.acme.example/runs/12"}
	if cr := Check("plan", "abc", res); cr.DetailsURL != res.DetailsURL {
		t.Errorf("check run details URL = %q", cr.DetailsURL)
	}
	if c := Comment(Round{Kind: "plan", SHA: "abc", PR: 1, Results: []Result{res}}); !strings.Contains(c, "[Run log](https://tfpr.acme.example/runs/12)") {
		t.Errorf("comment lacks the run link:\n%s", c)
	}
	res.DetailsURL = ""
	if c := Comment(Round{Kind: "plan", SHA: "abc", PR: 1, Results: []Result{res}}); strings.Contains(c, "Run log") {
		t.Errorf("comment links a run it was not given:\n%s", c)
	}
}
