package report

import (
	"bytes"
	"html"
	"regexp"
	"strings"
	"testing"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	gmhtml "github.com/yuin/goldmark/renderer/html"

	"github.com/tfpr/tfpr/internal/policy"
	"github.com/tfpr/tfpr/internal/terraform"
)

// Everything below is written by the PR: file and project names, the
// policy message quoting its code, its tfpr:ignore reason, and plan output
// echoing its strings.
const (
	pwn      = "@acme/team ![x](http://evil.example/p.png) <img src=x> [link](http://x) #12 www.evil.example"
	planText = "  # terraform_data.x will be created\n  + resource \"terraform_data\" \"x\" {\n      + input = <<-EOT\n            ```\n            </details> @acme/team ![x](http://evil.example/p.png)\n            ```\n            # not a heading\n        EOT\n    }\n"
)

func hostileRound() Round {
	return Round{Kind: "plan", SHA: sha, PR: 7, Notes: []string{"Note from a name: `" + pwn + "` and " + pwn}, Results: []Result{
		{Project: "microservices/x`|@acme/team/dev", Outcome: Denied, Notes: []string{pwn}, Findings: []policy.Finding{
			{Rule: "TFPR007", Severity: policy.SeverityDeny, Message: "member " + pwn + " is public", File: "microservices/x/![x](y).tf", Line: 3},
			{Rule: "TFPR004", Severity: policy.SeverityDeny, Message: "*bold* | cell | " + pwn, File: "a`b.tf", Line: 9, Suppressed: true, SuppressReason: "ok by " + pwn + "\n# heading"},
		}},
		{Project: "microservices/alpha/dev", Outcome: Planned, Plan: &terraform.Plan{HasChanges: true, Add: 1, Text: planText}},
		{Project: "microservices/beta/dev", Outcome: Errored, Output: "Error: bad value \"```\" near " + pwn},
	}}
}

func TestHostileTextGolden(t *testing.T) {
	r := hostileRound()
	golden(t, "plan_hostile", Comment(r))
	cr := Check("plan", sha, r.Results[0])
	golden(t, "check_hostile", cr.Summary+"\n---\n"+Check("plan", sha, r.Results[1]).Text)
}

// The rendered comment and check-run output, read as GitHub would: nothing
// the PR wrote becomes a mention, image, link, heading or HTML, and the
// plan's fenced block holds the whole plan.
func TestHostileTextIsInert(t *testing.T) {
	r := hostileRound()
	docs := map[string]string{"comment": Comment(r)}
	for _, res := range r.Results {
		cr := Check("plan", sha, res)
		docs["summary of "+res.Project] = cr.Summary
		docs["text of "+res.Project] = cr.Text
	}
	for name, src := range docs {
		out := renderGFM(t, src)
		for _, el := range []string{"<img", "<a ", "<h1", "<h2", "<h5", "<em>", "<blockquote>\n<blockquote>", "<li>#", "<p>#"} {
			if strings.Contains(out, el) {
				t.Errorf("%s renders a live %s:\n%s", name, el, out)
			}
		}
		if m := liveText.FindString(outsideCode(out)); m != "" {
			t.Errorf("%s leaves %q live outside code:\n%s", name, m, out)
		}
	}
	comment := renderGFM(t, docs["comment"])
	esc := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")
	if want := `<pre><code class="language-diff">` + esc.Replace(diffMarks(clean(planText))); !strings.Contains(comment, want) {
		t.Errorf("the plan's code block does not hold the whole plan (closed early?):\n%s", comment)
	}
	if n := strings.Count(comment, "<tr>"); n != 4 {
		t.Errorf("the summary table has %d rows, want a header and 3 projects:\n%s", n, comment)
	}
	if h3, sections := strings.Count(comment, "<h3>"), strings.Count(comment, "<details"); h3 != 1 || sections != 3 {
		t.Errorf("the comment has %d titles and %d project sections, want 1 and 3:\n%s", h3, sections, comment)
	}
	if n := strings.Count(comment, "<strong>"); n != 4 {
		t.Errorf("the comment has %d bold spans, want tfpr's own 4:\n%s", n, comment)
	}
	if !strings.Contains(comment, "<code>microservices/x`|@acme/team/dev</code>") {
		t.Errorf("the project name is not shown verbatim as code:\n%s", comment)
	}
}

// liveText is what GitHub turns into mentions, issue references and links
// in rendered text.
var liveText = regexp.MustCompile(`@[A-Za-z0-9_-]|#[0-9]|://|(?i)www\.`)

var codeSpans = regexp.MustCompile(`(?s)<pre><code[^>]*>.*?</code></pre>|<code>.*?</code>`)

// outsideCode is the rendered HTML without code, entities decoded: the
// text GitHub scans for mentions and references.
func outsideCode(out string) string {
	return html.UnescapeString(codeSpans.ReplaceAllString(out, ""))
}

func renderGFM(t testing.TB, src string) string {
	t.Helper()
	var out bytes.Buffer
	gm := goldmark.New(goldmark.WithExtensions(extension.GFM), goldmark.WithRendererOptions(gmhtml.WithUnsafe()))
	if err := gm.Convert([]byte(src), &out); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

var hrefs = regexp.MustCompile(`<a href="([^"]*)"`)

// Findings link to their file and line at the PR head; a hostile file name
// cannot move the link out of the repository's tree nor end it early.
func TestFindingLinksStayInTheRepository(t *testing.T) {
	r := hostileRound()
	r.RepoURL = "https://github.com/acme/infra"
	r.Results[0].Findings = append(r.Results[0].Findings, policy.Finding{Rule: "TFPR009", Severity: policy.SeverityWarn,
		Message: "m", File: "../../other/repo/blob/x) [y](http://evil.example", Line: 4})
	out := renderGFM(t, Comment(r))
	links := hrefs.FindAllStringSubmatch(out, -1)
	if len(links) != 3 {
		t.Fatalf("want one link per finding (3), got %d:\n%s", len(links), out)
	}
	prefix := "https://github.com/acme/infra/blob/" + sha + "/"
	for _, l := range links {
		u := html.UnescapeString(l[1])
		if !strings.HasPrefix(u, prefix) || strings.Contains(u[len(prefix):], "/../") || strings.HasPrefix(u[len(prefix):], "../") || strings.Contains(u, "evil.example/") {
			t.Errorf("link %q leaves %s", u, prefix)
		}
	}
	if !strings.Contains(out, prefix+"microservices/x/%21%5Bx%5D%28y%29.tf#L3") {
		t.Errorf("the finding at microservices/x/![x](y).tf:3 does not link to its line:\n%s", out)
	}
}
