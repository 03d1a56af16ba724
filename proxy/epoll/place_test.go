//go:build linux

package epoll

import "testing"

// TestPlaceConnFillsOneLoopFirst pins the placement rule: a loop takes loopFill
// clients before the next gets any, and once every loop has that many the fewest
// wins, so a burst of connections is not all left on the loop that accepted it.
func TestPlaceConnFillsOneLoopFirst(t *testing.T) {
	e := &Engine{}
	for range 3 {
		e.loops = append(e.loops, &evLoop{})
	}
	place := func(from int) int {
		t.Helper()
		to := e.placeConn(e.loops[from])
		to.load.Add(1)
		for i, l := range e.loops {
			if l == to {
				return i
			}
		}
		t.Fatal("placeConn returned a loop the engine does not have")
		return -1
	}
	for n := range loopFill {
		if got := place(2); got != 0 {
			t.Fatalf("connection %d accepted on loop 2 went to loop %d; want loop 0 until it has %d", n+1, got, loopFill)
		}
	}
	if got := place(2); got != 1 {
		t.Fatalf("connection %d went to loop %d; want loop 1 once loop 0 is full", loopFill+1, got)
	}
	for range 2*loopFill - 1 {
		place(0)
	}
	// Now 32, 32, 32: a tie keeps the connection on the loop that accepted it.
	if got := place(1); got != 1 {
		t.Fatalf("with every loop full and equal, a connection accepted on loop 1 went to loop %d; want 1", got)
	}
	// 32, 33, 32: the fewest (loop 0 and 2 tie below the acceptor) wins.
	if got := place(1); got != 0 {
		t.Fatalf("with loops at 32, 33, 32 a connection went to loop %d; want the first of the fewest, 0", got)
	}
}
