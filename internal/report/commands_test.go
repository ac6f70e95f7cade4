package report

import (
	"strings"
	"testing"
)

func TestSuggest(t *testing.T) {
	for in, want := range map[string]string{"aply": "apply", "plna": "plan", "PLAN": "plan", "unblok": "unblock", "approv": "approve",
		"hlep": "help", "app": "apply", "destroy": "", "x": "", strings.Repeat("a", 10000): ""} {
		if got := Suggest(in); got != want {
			t.Errorf("Suggest(%.20q) = %q, want %q", in, got, want)
		}
	}
}

// A reply sits at the top of the living comment and replaces the previous
// one; the rest of the comment stays as it was.
func TestWithReplyGolden(t *testing.T) {
	body := Comment(planRound(planned(t, "microservices/alpha/dev", "adds")))
	once := WithReply(body, "dev-alice", "tfpr aply", UnknownCommand("aply"), false)
	twice := WithReply(once, "dev-bob", "tfpr help", "usage:", true)
	if strings.Count(twice, "<!-- tfpr:reply -->") != 1 || strings.Contains(twice, "dev-alice") {
		t.Fatalf("the second reply must replace the first:\n%s", twice)
	}
	if !strings.HasPrefix(twice, "<!-- tfpr:plan -->\n<!-- tfpr:reply -->\n") || !strings.HasSuffix(twice, body[len("<!-- tfpr:plan -->\n"):]) {
		t.Fatalf("the reply must follow the marker and leave the round's text alone:\n%s", twice)
	}
	golden(t, "reply_unknown", once)
	golden(t, "reply_help", twice)
	hostile := renderGFM(t, WithReply(body, "@acme/team", "tfpr <img src=x> @acme/team ![x](http://evil.example/p.png)", "`x` "+pwn, false))
	if m := liveText.FindString(outsideCode(hostile)); m != "" || strings.Contains(hostile, "<img") {
		t.Errorf("a reply leaves %q live:\n%s", m, hostile)
	}
}
