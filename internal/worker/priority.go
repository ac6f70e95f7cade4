package worker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"syscall"
	"time"
)

// Nice is the niceness a worker runs at, and so the terraform it starts:
// a plan or an apply is batch work, while the server on the same host
// answers GitHub's webhooks within milliseconds. At 10 the kernel gives a
// busy server about ten times a worker's share of the CPU, and the workers
// still get every cycle the server leaves idle.
const Nice = 10

// lowerPriority lowers this process's CPU priority in both ways Linux
// weighs it: the niceness of each thread, at once, and, when the worker
// leads its own session (every executor starts it so), the niceness of the
// session's autogroup, in the background for up to a minute (see
// reniceSession). With autogroup scheduling on, the kernel first shares
// the CPU between sessions, so a worker's own niceness alone would change
// nothing against the server, which is in another session. failed is
// called if the session keeps its priority.
func lowerPriority(ctx context.Context, failed func(error)) error {
	if err := reniceThreads(); err != nil {
		return err
	}
	// Not bound to the run: a process that outlives it (a test) still
	// gets there, and a worker exits when its run ends anyway.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	go func() {
		defer cancel()
		if err := reniceSession(ctx); err != nil {
			failed(err)
		}
	}()
	return nil
}

// reniceSession sets the autogroup of this process's session to Nice. The
// session must be the worker's own: led by the worker itself (the
// unsandboxed executor's setsid), or by the init of its PID namespace
// (bubblewrap's --new-session, a container). The autogroup is shared by
// the whole session, which otherwise would be someone's shell. It does
// nothing when the kernel has no autogroups.
//
// The kernel lets an unprivileged process change an autogroup's niceness
// once per 100 ms on the whole host and answers EAGAIN in between, so
// when a PR starts many workers at once most are refused at first: each
// tries again, a little later each time, until ctx ends. The autogroup
// holds the whole session, so terraform started meanwhile is lowered too.
func reniceSession(ctx context.Context) error {
	sid, _, errno := syscall.RawSyscall(syscall.SYS_GETSID, 0, 0, 0)
	if errno != 0 || int(sid) != os.Getpid() && sid != 1 {
		return nil
	}
	wait := 50 * time.Millisecond
	for {
		err := os.WriteFile("/proc/self/autogroup", []byte(strconv.Itoa(Nice)), 0)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if !errors.Is(err, syscall.EAGAIN) {
			return fmt.Errorf("lower the worker's session priority: %w", err)
		}
		// Spread the workers refused together over the next windows.
		t := time.NewTimer(wait/2 + rand.N(wait))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("lower the worker's session priority: %w (still refused when the run ended)", err)
		case <-t.C:
		}
		wait = min(2*wait, time.Second)
	}
}

// reniceThreads sets every thread of this process to at least Nice. Linux
// keeps a niceness per thread, and a new thread or child process inherits
// its creator's: once all threads are set, all later ones are too. A
// thread started while the list is read is caught by the next pass.
func reniceThreads() error {
	done := map[int]bool{}
	for {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return fmt.Errorf("lower the worker's priority: %w", err)
		}
		changed := false
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil || done[tid] {
				continue
			}
			done[tid], changed = true, true
			if err := renice(tid); err != nil {
				return fmt.Errorf("lower the worker's priority: thread %d: %w", tid, err)
			}
		}
		if !changed {
			return nil
		}
	}
}

// renice raises tid's niceness to Nice, never lowering it: an unprivileged
// process may not, and a host that set a higher one meant it.
func renice(tid int) error {
	// The raw syscall returns 20 - nice.
	prio, err := syscall.Getpriority(syscall.PRIO_PROCESS, tid)
	if errors.Is(err, syscall.ESRCH) {
		return nil // the thread ended meanwhile
	}
	if err != nil {
		return err
	}
	if 20-prio >= Nice {
		return nil
	}
	if err := syscall.Setpriority(syscall.PRIO_PROCESS, tid, Nice); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}
