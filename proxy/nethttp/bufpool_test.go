package nethttp

import "testing"

func TestBufferPoolReusesWithoutAllocating(t *testing.T) {
	var bp bufferPool
	b := bp.Get()
	if len(b) != copyBufSize {
		t.Fatalf("len = %d, want %d", len(b), copyBufSize)
	}
	bp.Put(b)
	// Get/Put pairs on a warm pool must not allocate: this is the per-request cost.
	// (sync.Pool may drop items at GC, so allow a stray fraction.)
	if n := testing.AllocsPerRun(1000, func() { bp.Put(bp.Get()) }); n > 0.1 {
		t.Fatalf("Get+Put allocates %.2f times per call, want 0", n)
	}
	bp.Put(make([]byte, 10)) // a foreign short buffer is dropped, never handed out
	for range 100 {
		if got := bp.Get(); len(got) != copyBufSize {
			t.Fatalf("Get returned len %d after a short Put", len(got))
		}
	}
}
