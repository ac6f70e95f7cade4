package terraform

import (
	"context"
	"errors"
	"os/exec"
	"strings"
)

// ErrFailed is matched (errors.Is) by the errors of runs whose terraform
// exited non-zero on another machine (a worker), which come back as text
// rather than as an *Error.
var ErrFailed = errors.New("terraform exited non-zero")

// Error is a failed terraform command.
type Error struct {
	// Command is the terraform subcommand, e.g. "init", "plan", "apply".
	Command string
	// Dir is the directory terraform ran in.
	Dir string
	// Stderr is terraform's diagnostics with the box drawing removed and
	// surrounding blank lines trimmed.
	Stderr string
	// Err is the underlying error; it matches context.Canceled or
	// context.DeadlineExceeded when the run was cut short by its context.
	Err error

	kind error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("terraform ")
	b.WriteString(e.Command)
	b.WriteString(" in ")
	b.WriteString(e.Dir)
	b.WriteString(" failed")
	var exit *exec.ExitError
	switch {
	case errors.Is(e.Err, context.Canceled), errors.Is(e.Err, context.DeadlineExceeded):
		b.WriteString(": interrupted: ")
		if errors.Is(e.Err, context.Canceled) {
			b.WriteString(context.Canceled.Error())
		} else {
			b.WriteString(context.DeadlineExceeded.Error())
		}
	case errors.As(e.Err, &exit):
		// tfexec appends stderr to its error text; use only the exit status
		// so the diagnostics appear once.
		b.WriteString(" (")
		b.WriteString(exit.ProcessState.String())
		b.WriteString(")")
	case e.Err != nil:
		b.WriteString(": ")
		b.WriteString(firstLine(e.Err.Error()))
	}
	if e.Stderr != "" {
		b.WriteString(":\n")
		b.WriteString(e.Stderr)
	}
	return b.String()
}

// Unwrap exposes both the underlying error and, for stale plans,
// ErrStalePlan.
func (e *Error) Unwrap() []error {
	if e.kind != nil {
		return []error{e.Err, e.kind}
	}
	return []error{e.Err}
}

// isStale reports whether terraform rejected a saved plan because the state
// moved on. Both terraform and OpenTofu use these diagnostic summaries; a
// lineage mismatch also means the plan must be made again.
func isStale(stderr string) bool {
	return strings.Contains(stderr, "Saved plan is stale") ||
		strings.Contains(stderr, "Saved plan does not match the given state")
}

// trimDiagnostics strips the ╷ │ ╵ frame terraform draws around diagnostics
// even with -no-color, and caps the size so a runaway provider cannot blow
// up a PR comment or log line.
func trimDiagnostics(s string, max int) string {
	lines := strings.Split(s, "\n")
	out := lines[:0]
	for _, l := range lines {
		l = strings.TrimRight(l, " \r")
		switch {
		case l == "╷" || l == "╵":
			continue
		case strings.HasPrefix(l, "│ "):
			l = l[len("│ "):]
		case l == "│":
			l = ""
		}
		out = append(out, l)
	}
	s = strings.TrimSpace(strings.Join(out, "\n"))
	if max > 0 && len(s) > max {
		cut := max
		for cut > 0 && !utf8Start(s[cut]) {
			cut--
		}
		s = s[:cut] + "\n[... output truncated]"
	}
	return s
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
