package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Wrapper is a terraform stand-in that runs the real binary and appends one
// line per invocation to Log: start and end wall-clock times, exit status,
// working directory and arguments. The time spent in terraform is then
// known exactly, and everything else in a run is tfpr's.
//
// While the Gate file exists, invocations other than `version` (which the
// server asks at start) wait before starting (the wait is not part of the
// logged time); when Gate+".abort" exists they fail at once
// instead of running terraform. Gate+".held" is created by the first
// invocation that waits.
type Wrapper struct {
	Path string // the executable to hand to tfpr as TFPR_TERRAFORM_BIN
	Log  string
	Gate string
}

// WriteWrapper writes a Wrapper for the terraform binary real into dir.
// It needs bash for $EPOCHREALTIME: timing with date(1) would add two
// process starts to every invocation.
func WriteWrapper(dir, real string) (*Wrapper, error) {
	w := &Wrapper{
		Path: filepath.Join(dir, "terraform"),
		Log:  filepath.Join(dir, "invocations.log"),
		Gate: filepath.Join(dir, "gate"),
	}
	bash, err := findBash()
	if err != nil {
		return nil, err
	}
	script := fmt.Sprintf(`#!%s
gate=%s
if [ -e "$gate" ] && [ "$1" != version ]; then
	: > "$gate.held"
	while [ -e "$gate" ]; do sleep 0.05; done
fi
[ -e "$gate.abort" ] && exit 3
start=$EPOCHREALTIME
%s "$@"
rc=$?
end=$EPOCHREALTIME
printf '%%s %%s %%s|%%s|%%s\n' "$start" "$end" "$rc" "$PWD" "$*" >> %s
exit $rc
`, bash, shellQuote(w.Gate), shellQuote(real), shellQuote(w.Log))
	if err := os.WriteFile(w.Path, []byte(script), 0o755); err != nil {
		return nil, fmt.Errorf("write terraform wrapper: %w", err)
	}
	return w, nil
}

// shellQuote quotes s as one shell word.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// findBash returns bash from the places terraform's PATH allowlist covers.
func findBash() (string, error) {
	for _, p := range []string{"/bin/bash", "/usr/bin/bash", "/usr/local/bin/bash"} {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", errors.New("terraform wrapper: bash not found in /bin, /usr/bin or /usr/local/bin")
}

// Hold makes new invocations wait until Release.
func (w *Wrapper) Hold() error {
	if err := os.WriteFile(w.Gate, nil, 0o644); err != nil {
		return fmt.Errorf("hold terraform: %w", err)
	}
	return nil
}

// Held reports whether an invocation is waiting at the gate.
func (w *Wrapper) Held() bool {
	_, err := os.Stat(w.Gate + ".held")
	return err == nil
}

// Release lets waiting and future invocations run; with abort they exit 3
// without running terraform.
func (w *Wrapper) Release(abort bool) error {
	if abort {
		if err := os.WriteFile(w.Gate+".abort", nil, 0o644); err != nil {
			return fmt.Errorf("abort terraform: %w", err)
		}
	}
	if err := os.Remove(w.Gate); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("release terraform: %w", err)
	}
	return nil
}

// Invocation is one finished terraform run recorded by a Wrapper.
type Invocation struct {
	Start, End time.Time
	Exit       int
	Dir        string
	Args       []string
}

// Duration is the wall time terraform took.
func (i Invocation) Duration() time.Duration { return i.End.Sub(i.Start) }

// Command is the subcommand, e.g. "plan" or "apply".
func (i Invocation) Command() string {
	if len(i.Args) == 0 {
		return ""
	}
	return i.Args[0]
}

// In reports whether the invocation ran in project dir (repo-relative).
func (i Invocation) In(project string) bool {
	return strings.HasSuffix(filepath.ToSlash(i.Dir), "/"+project)
}

// Invocations reads every finished invocation logged so far, in the order
// they finished.
func (w *Wrapper) Invocations(ctx context.Context) ([]Invocation, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(w.Log)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read terraform invocations: %w", err)
	}
	defer f.Close()
	var out []Invocation
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		inv, err := parseInvocation(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", w.Log, n, err)
		}
		out = append(out, inv)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", w.Log, err)
	}
	return out, nil
}

func parseInvocation(line string) (Invocation, error) {
	head, rest, ok := strings.Cut(line, "|")
	dir, args, ok2 := strings.Cut(rest, "|")
	f := strings.Fields(head)
	if !ok || !ok2 || len(f) != 3 {
		return Invocation{}, fmt.Errorf("malformed invocation line %q", line)
	}
	start, err := epochTime(f[0])
	if err != nil {
		return Invocation{}, err
	}
	end, err := epochTime(f[1])
	if err != nil {
		return Invocation{}, err
	}
	rc, err := strconv.Atoi(f[2])
	if err != nil {
		return Invocation{}, fmt.Errorf("exit status %q: %w", f[2], err)
	}
	return Invocation{Start: start, End: end, Exit: rc, Dir: dir, Args: strings.Fields(args)}, nil
}

// epochTime parses bash's $EPOCHREALTIME, "1700000000.123456".
func epochTime(s string) (time.Time, error) {
	secs, frac, _ := strings.Cut(s, ".")
	sec, err := strconv.ParseInt(secs, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("timestamp %q: %w", s, err)
	}
	frac = (frac + "000000")[:6]
	us, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("timestamp %q: %w", s, err)
	}
	return time.Unix(sec, us*1000), nil
}

// Quantile returns the q-quantile (0..1, nearest rank) of ds, 0 if empty.
func Quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(ds))
	rank := int(math.Ceil(q * float64(len(s))))
	return s[min(max(rank-1, 0), len(s)-1)]
}

// Ms is d in milliseconds, for b.ReportMetric.
func Ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// WrapperCost measures what a Wrapper adds outside the time it logs (bash
// starting and writing the log line), per invocation, by wrapping true(1)
// n times. A benchmark that attributes everything outside terraform's
// logged time to tfpr can subtract this.
func WrapperCost(ctx context.Context, dir string, n int) (time.Duration, error) {
	truePath := ""
	for _, p := range []string{"/bin/true", "/usr/bin/true"} {
		if _, err := os.Stat(p); err == nil {
			truePath = p
			break
		}
	}
	if truePath == "" {
		return 0, errors.New("wrapper cost: true(1) not found")
	}
	w, err := WriteWrapper(dir, truePath)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	for range n {
		if out, err := exec.CommandContext(ctx, w.Path, "version").CombinedOutput(); err != nil {
			return 0, fmt.Errorf("wrapper cost: run %s: %v: %s", w.Path, err, out)
		}
	}
	wall := time.Since(start)
	invs, err := w.Invocations(ctx)
	if err != nil {
		return 0, err
	}
	if len(invs) != n {
		return 0, fmt.Errorf("wrapper cost: %d invocations logged, want %d", len(invs), n)
	}
	var logged time.Duration
	for _, inv := range invs {
		logged += inv.Duration()
	}
	return (wall - logged) / time.Duration(n), nil
}
