package lintcmd

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
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

// heapTuner re-sets the soft memory limit after each collection.
type heapTuner struct {
	stopped atomic.Bool
	sample  []metrics.Sample
}

// tuneHeap starts following the live heap; stop ends it and restores the
// limit there was before.
func tuneHeap() (stop func()) {
	t := &heapTuner{sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	prev := debug.SetMemoryLimit(heapLimit(0))
	t.arm()
	return func() {
		t.stopped.Store(true)
		debug.SetMemoryLimit(prev)
	}
}

// arm asks to be called after the next collection: the runtime runs the
// finalizer of an object that collection found unreachable.
func (t *heapTuner) arm() {
	runtime.SetFinalizer(&sentinel{}, func(*sentinel) {
		if t.stopped.Load() {
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
