package worker

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// Nice is the niceness a worker runs at, and so the terraform it starts:
// a plan or an apply is batch work, while the server on the same host
// answers GitHub's webhooks within milliseconds. At 10 the kernel gives a
// busy server about ten times a worker's share of the CPU, and the workers
// still get every cycle the server leaves idle.
const Nice = 10

// lowerPriority lowers this process's CPU priority in both ways Linux
// weighs it: the niceness of each thread, and, when the worker leads its
// own session (every executor starts it so), the niceness of the session's
// autogroup. With autogroup scheduling on, the kernel first shares the CPU
// between sessions, so a worker's own niceness alone would change nothing
// against the server, which is in another session.
func lowerPriority() error {
	if err := reniceThreads(); err != nil {
		return err
	}
	return reniceSession()
}

// reniceSession sets the autogroup of this process's session to Nice. The
// session must be the worker's own: led by the worker itself (the
// unsandboxed executor's setsid), or by the init of its PID namespace
// (bubblewrap's --new-session, a container). The autogroup is shared by
// the whole session, which otherwise would be someone's shell. It does
// nothing when the kernel has no autogroups.
func reniceSession() error {
	sid, _, errno := syscall.RawSyscall(syscall.SYS_GETSID, 0, 0, 0)
	if errno != 0 || int(sid) != os.Getpid() && sid != 1 {
		return nil
	}
	err := os.WriteFile("/proc/self/autogroup", []byte(strconv.Itoa(Nice)), 0)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("lower the worker's session priority: %w", err)
	}
	return nil
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
