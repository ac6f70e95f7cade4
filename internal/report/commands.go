package report

import (
	"strings"

	"github.com/tfpr/tfpr/internal/report/md"
	"github.com/tfpr/tfpr/internal/suggest"
)

// Verbs are the commands tfpr knows, as in `tfpr VERB ...`.
var Verbs = []string{"plan", "apply", "approve", "unblock", "drift", "help"}

// Help is the usage of tfpr's commands.
func Help() string { return execute("help", nil) }

// UnknownCommand answers `tfpr VERB` for a verb tfpr does not know, with the
// nearest known one when the verb looks like a typo of it.
func UnknownCommand(verb string) string {
	v := struct{ Command, Suggestion md.Markdown }{Command: md.Code("tfpr " + verb)}
	if s := Suggest(verb); s != "" {
		v.Suggestion = md.Code("tfpr " + s)
	}
	return execute("unknown", v)
}

// Suggest returns the known verb closest to verb, if it is within two
// edits (or verb starts it), else "".
func Suggest(verb string) string {
	verb = strings.ToLower(verb)
	if len(verb) > 32 {
		return "" // a typo is short; this also bounds the work
	}
	best, bestD := "", 3
	for _, k := range Verbs {
		d := suggest.Distance(verb, k)
		if len(verb) >= 2 && strings.HasPrefix(k, verb) {
			d = 1
		}
		if d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// maxReply bounds a reply in the living comment, which the round's
// rendering leaves room for.
const maxReply = 700

const (
	replyStart = "<!-- tfpr:reply -->\n"
	replyEnd   = "\n<!-- /tfpr:reply -->\n\n"
)

// WithReply puts tfpr's answer to actor's command at the top of the living
// comment body (replacing the previous answer): text is prose as in Note,
// help adds the usage table. The command and the actor's login are shown,
// never pinged.
func WithReply(body, actor, command, text string, help bool) string {
	if len(text) > maxReply {
		text = text[:maxReply] + "…"
	}
	if len(command) > 100 {
		command = command[:100] + "…"
	}
	v := struct {
		Actor, Command, Text md.Markdown
		Help                 []string
	}{Actor: md.Code(actor), Command: md.Code(command), Text: md.Note(text)}
	if help {
		v.Help = strings.Split(Help(), "\n")
	}
	reply := execute("reply", v) + "\n\n"
	marker, rest, _ := strings.Cut(body, "\n")
	if strings.HasPrefix(rest, replyStart) {
		if _, after, ok := strings.Cut(rest, replyEnd); ok {
			rest = after
		}
	}
	return marker + "\n" + reply + rest
}

// Placeholder is the living comment of a PR no plan round has reported on
// yet, to carry a reply.
func Placeholder() string {
	return CommentMarker(KindPlan, "", 1) + "\n### tfpr\n\nNo plan has been reported for this pull request yet.\n"
}
