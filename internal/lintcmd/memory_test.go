package lintcmd

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestHeapLimit(t *testing.T) {
	for _, tc := range []struct {
		live uint64
		want int64
	}{
		{0, heapFloor},
		{heapFloor / 4, heapFloor},
		{heapFloor / 2, heapFloor},
		{heapFloor, 2 * heapFloor},
		{300 << 20, 600 << 20},
		{math.MaxUint64, 2 << 40},
	} {
		if got := heapLimit(tc.live); got != tc.want {
			t.Errorf("heapLimit(%d) = %d, want %d", tc.live, got, tc.want)
		}
	}
}

// TestTuneMemoryFollowsTheLiveHeap keeps more alive than the floor allows
// for and checks that the limit rises with it after a collection (a fixed
// limit would have the collector run continuously), then that restoring
// puts back the limit and heap goal there were.
func TestTuneMemoryFollowsTheLiveHeap(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	t.Setenv("GOGC", "")
	before := debug.SetMemoryLimit(-1)
	gcBefore := debug.SetGCPercent(-1)
	debug.SetGCPercent(gcBefore)
	stop := TuneMemory()
	if gc := debug.SetGCPercent(-1); gc != -1 {
		t.Errorf("GOGC %d while tuned, want off: the limit alone sets the heap goal", gc)
	}
	if got := debug.SetMemoryLimit(-1); got != heapFloor {
		t.Errorf("limit at start %d, want the floor %d", got, heapFloor)
	}
	live := make([]byte, 2*heapFloor)
	for i := range live {
		live[i] = 1
	}
	deadline := time.Now().Add(30 * time.Second)
	for debug.SetMemoryLimit(-1) < int64(len(live))*heapRatio {
		if time.Now().After(deadline) {
			t.Fatalf("limit %d after collections with %d bytes live; want at least %d", debug.SetMemoryLimit(-1), len(live), int64(len(live))*heapRatio)
		}
		runtime.GC()
		runtime.Gosched()
	}
	runtime.KeepAlive(live)
	stop()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("limit after restore %d, want %d as before", got, before)
	}
	if gc := debug.SetGCPercent(gcBefore); gc != gcBefore {
		t.Errorf("GOGC after restore %d, want %d as before", gc, gcBefore)
	}
}

// TestTuneMemoryLeavesTheEnvironmentItsSay: GOMEMLIMIT decides alone; a
// GOGC keeps its heap goal but the limit still applies, so GOGC=off
// cannot grow lint's heap without bound.
func TestTuneMemoryLeavesTheEnvironmentItsSay(t *testing.T) {
	limit := debug.SetMemoryLimit(-1)
	t.Setenv("GOMEMLIMIT", "1GiB")
	restore := TuneMemory()
	if got := debug.SetMemoryLimit(-1); got != limit {
		t.Errorf("with GOMEMLIMIT set the limit became %d", got)
	}
	restore()
	t.Setenv("GOMEMLIMIT", "")
	t.Setenv("GOGC", "off")
	gc := debug.SetGCPercent(250)
	defer debug.SetGCPercent(gc)
	restore = TuneMemory()
	if got := debug.SetMemoryLimit(-1); got != heapFloor {
		t.Errorf("with GOGC set the limit is %d, want %d", got, heapFloor)
	}
	if got := debug.SetGCPercent(250); got != 250 {
		t.Errorf("with GOGC set the heap goal became %d%%, want 250%% as it was", got)
	}
	restore()
}
