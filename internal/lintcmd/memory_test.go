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

// TestTuneHeapFollowsTheLiveHeap keeps more alive than the floor allows
// for and checks that the limit rises with it after a collection (a fixed
// limit would have the collector run continuously), then that stopping
// restores the limit there was.
func TestTuneHeapFollowsTheLiveHeap(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	stop := tuneHeap()
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
		t.Errorf("limit after stop %d, want %d as before", got, before)
	}
}
