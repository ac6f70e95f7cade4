package lintcmd

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// Lint's heap: parsing allocates many times what lint keeps (on
// cloud-foundation-fabric x6, 3 GB for a peak of about 40 MB live), so how
// often the collector runs decides much of lint's CPU, and how far the
// heap may grow past what is live decides its peak memory. Go's own knobs
// each fail one way: GOGC sets the heap goal as a multiple of what is live,
// which collects very often while little is live; a fixed GOMEMLIMIT
// collects continuously (up to half the CPU) once what is live nears it.
// So lint sets the soft limit after every collection to
// max(heapFloor, heapRatio × live): a small tree never collects more
// often than a heapFloor-sized heap needs, and a large one always has
// room to grow.
const (
	heapFloor = 80 << 20
	heapRatio = 2
)

// heapLimit is the soft memory limit for live bytes of live heap.
func heapLimit(live uint64) int64 {
	return max(heapFloor, int64(min(live, 1<<40))*heapRatio)
}

// TuneMemory sets lint's collector for the rest of the process, and
// returns what restores Go's settings. Collector settings belong to the
// whole process, so only a main that runs one lint calls it, once: Run
// leaves them alone. A GOMEMLIMIT in the environment decides alone; a
// GOGC keeps its heap goal, under the limit that follows the live heap.
func TuneMemory() (restore func()) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	gc := debug.SetGCPercent(-1)
	if os.Getenv("GOGC") != "" {
		debug.SetGCPercent(gc)
	}
	t := &heapTuner{sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	limit := debug.SetMemoryLimit(heapLimit(0))
	t.arm()
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		t.stopped = true
		debug.SetMemoryLimit(limit)
		debug.SetGCPercent(gc)
	}
}

// heapTuner re-sets the soft memory limit after each collection.
type heapTuner struct {
	mu      sync.Mutex // orders a running finalizer against restore
	stopped bool
	sample  []metrics.Sample
}

// arm asks to be called after the next collection: the runtime runs the
// finalizer of an object that collection found unreachable.
func (t *heapTuner) arm() {
	runtime.SetFinalizer(&sentinel{}, func(*sentinel) {
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.stopped {
			return
		}
		metrics.Read(t.sample)
		if t.sample[0].Value.Kind() == metrics.KindUint64 {
			debug.SetMemoryLimit(heapLimit(t.sample[0].Value.Uint64()))
		}
		t.arm()
	})
}

// sentinel is a pointer-sized object, so the allocator never combines it
// with others (a finalizer on a tiny, pointer-free object may never run).
type sentinel struct{ _ *int }
