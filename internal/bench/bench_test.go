package bench

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tfpr/tfpr/internal/project"
)

func TestParseStatus(t *testing.T) {
	tests := []struct {
		name    string
		status  string
		want    Memory
		wantErr string
	}{
		{
			name:   "linux status",
			status: "Name:\ttfpr\nVmPeak:\t  900000 kB\nVmRSS:\t   48456 kB\nRssAnon:\t    9812 kB\nRssFile:\t   38644 kB\nRssShmem:\t       0 kB\n",
			want:   Memory{RSS: 48456 << 10, Anon: 9812 << 10, File: 38644 << 10},
		},
		{name: "zombie", status: "Name:\ttfpr\nState:\tZ (zombie)\n", wantErr: "no VmRSS"},
		{name: "odd unit", status: "VmRSS:\t48 MB\nRssAnon:\t1 kB\nRssFile:\t1 kB\n", wantErr: `unexpected line "VmRSS:\t48 MB"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatus([]byte(tt.status))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseStatus = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestReadMemoryOfThisProcess(t *testing.T) {
	m, err := ReadMemory(context.Background(), os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS < 1<<20 || m.Anon+m.File > m.RSS {
		t.Fatalf("implausible memory of a running Go test: %+v", m)
	}
}

func TestQuantile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		var out []time.Duration
		for _, n := range ns {
			out = append(out, time.Duration(n)*time.Millisecond)
		}
		return out
	}
	tests := []struct {
		in   []time.Duration
		q    float64
		want time.Duration
	}{
		{nil, 0.5, 0},
		{ms(5, 1, 3, 2, 4), 0.5, 3 * time.Millisecond},
		{ms(5, 1, 3, 2, 4), 0, time.Millisecond},
		{ms(5, 1, 3, 2, 4), 1, 5 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.99, 10 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.9, 9 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := Quantile(tt.in, tt.q); got != tt.want {
			t.Errorf("Quantile(%v, %v) = %v, want %v", tt.in, tt.q, got, tt.want)
		}
	}
}

func TestParseInvocation(t *testing.T) {
	tests := []struct {
		line    string
		want    Invocation
		wantErr bool
	}{
		{
			line: "1700000000.250000 1700000001.500001 0|/data/co/microservices/alpha/dev|plan -input=false -out=/x/tfpr.tfplan",
			want: Invocation{Start: time.Unix(1700000000, 250000000), End: time.Unix(1700000001, 500001000), Exit: 0,
				Dir: "/data/co/microservices/alpha/dev", Args: []string{"plan", "-input=false", "-out=/x/tfpr.tfplan"}},
		},
		{line: "1700000000.5 1700000000.75 3|/d|", want: Invocation{Start: time.Unix(1700000000, 500000000), End: time.Unix(1700000000, 750000000), Exit: 3, Dir: "/d"}},
		{line: "garbage", wantErr: true},
		{line: "x 1700000000.1 0|/d|plan", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseInvocation(tt.line)
		if tt.wantErr {
			if err == nil {
				t.Errorf("parseInvocation(%q) = %+v, want an error", tt.line, got)
			}
			continue
		}
		if err != nil || !got.Start.Equal(tt.want.Start) || !got.End.Equal(tt.want.End) || got.Exit != tt.want.Exit ||
			got.Dir != tt.want.Dir || strings.Join(got.Args, " ") != strings.Join(tt.want.Args, " ") {
			t.Errorf("parseInvocation(%q) = %+v, %v; want %+v", tt.line, got, err, tt.want)
		}
	}
}

// TestWrapperTimesAndGates runs the wrapper around a stand-in "terraform"
// that sleeps, and checks what a benchmark relies on: the logged time
// covers the real command, a held gate delays invocations without being
// counted, and an abort fails them without running anything.
func TestWrapperTimesAndGates(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	real := filepath.Join(dir, "fake-terraform")
	if err := os.WriteFile(real, []byte("#!/bin/sh\necho \"$@\" >> "+marker+"\nsleep 0.2\nexit 7\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	w, err := WriteWrapper(t.TempDir(), real)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	work := filepath.Join(dir, "microservices", "alpha", "dev")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (*exec.Cmd, error) {
		cmd := exec.Command(w.Path, args...)
		cmd.Dir = work
		return cmd, cmd.Start()
	}

	cmd, err := run("plan", "-out=x")
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); cmd.ProcessState.ExitCode() != 7 {
		t.Fatalf("wrapper exit = %v, want the real command's 7", err)
	}
	invs, err := w.Invocations(ctx)
	if err != nil || len(invs) != 1 {
		t.Fatalf("invocations = %+v, %v; want one", invs, err)
	}
	inv := invs[0]
	if inv.Command() != "plan" || inv.Exit != 7 || !inv.In("microservices/alpha/dev") || inv.In("microservices/beta/dev") {
		t.Fatalf("logged %+v", inv)
	}
	if d := inv.Duration(); d < 200*time.Millisecond || d > 2*time.Second {
		t.Fatalf("logged duration %s for a 0.2 s command", d)
	}

	if err := w.Hold(); err != nil {
		t.Fatal(err)
	}
	heldAt := time.Now()
	cmd, err = run("apply")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !w.Held() {
		if time.Now().After(deadline) {
			t.Fatal("wrapper never reported being held")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	if err := w.Release(false); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	invs, _ = w.Invocations(ctx)
	if len(invs) != 2 || invs[1].Command() != "apply" {
		t.Fatalf("invocations after release = %+v", invs)
	}
	if invs[1].Start.Sub(heldAt) < 300*time.Millisecond || invs[1].Duration() > 2*time.Second {
		t.Fatalf("held invocation started %s after the hold and took %s: the wait must precede the logged start", invs[1].Start.Sub(heldAt), invs[1].Duration())
	}

	if err := w.Hold(); err != nil {
		t.Fatal(err)
	}
	if err := w.Release(true); err != nil {
		t.Fatal(err)
	}
	cmd, err = run("apply")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 3 {
		t.Fatalf("aborted invocation exited %d, want 3", code)
	}
	raw, _ := os.ReadFile(marker)
	if got := strings.Count(string(raw), "\n"); got != 2 {
		t.Fatalf("the real command ran %d times, want 2 (the aborted one must not run):\n%s", got, raw)
	}
}

func TestWrapperCost(t *testing.T) {
	cost, err := WrapperCost(context.Background(), t.TempDir(), 5)
	if err != nil {
		t.Fatal(err)
	}
	if cost <= 0 || cost > time.Second {
		t.Fatalf("wrapper cost %s per invocation is implausible", cost)
	}
}

func TestWriteLintCorpus(t *testing.T) {
	root := t.TempDir()
	c, err := WriteLintCorpus(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	if c.Files != 5000 || len(c.Projects) != 300 {
		t.Fatalf("corpus has %d files and %d projects, want 5000 and 300", c.Files, len(c.Projects))
	}
	var onDisk int
	filepath.WalkDir(root, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(d.Name(), ".tf") {
			onDisk++
		}
		return err
	})
	if onDisk != c.Files {
		t.Fatalf("%d .tf files on disk, corpus says %d", onDisk, c.Files)
	}
	p := c.Projects[0]
	main, err := os.ReadFile(filepath.Join(root, p.Dir, "f00.tf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range p.Modules {
		if !strings.Contains(string(main), `source  = "../../../`+m+`"`) {
			t.Errorf("%s/f00.tf does not call %s:\n%s", p.Dir, m, main)
		}
	}
	if _, err := WriteLintCorpus(context.Background(), root); err == nil {
		t.Fatal("writing over an existing corpus should fail")
	}
}

// TestWriteFabricCorpus checks the shape the fabric-shaped figures rely on,
// as project.Scan sees it: every directory a project, modules reached
// through modules, leaf modules with many callers.
func TestWriteFabricCorpus(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	c, err := WriteFabricCorpus(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	if c.Files != 4788 || len(c.Projects) != 798 {
		t.Fatalf("corpus has %d .tf files and %d projects, want 4788 and 798", c.Files, len(c.Projects))
	}
	g, err := project.Scan(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(g.Projects()); n != len(c.Projects) {
		t.Errorf("project.Scan finds %d projects, want every one of the %d dirs", n, len(c.Projects))
	}
	stage := "c0/fast/stages/s00"
	closure := g.Modules(stage)
	if len(closure) <= fabricStageCalls {
		t.Errorf("%s reaches %d modules, want more than its %d direct calls (modules calling modules): %v", stage, len(closure), fabricStageCalls, closure)
	}
	leaf := "c0/modules/m000"
	if !slices.Contains(closure, leaf) {
		t.Errorf("%s does not reach the leaf %s three levels down: %v", stage, leaf, closure)
	}
	if n := len(g.Callers(leaf)); n < 3 {
		t.Errorf("leaf module %s has %d direct callers, want several", leaf, n)
	}
	if _, err := WriteFabricCorpus(ctx, root); err == nil {
		t.Fatal("writing over an existing corpus should fail")
	}
}
