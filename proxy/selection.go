package proxy

import "sync/atomic"

// swrrSequence returns one full cycle of nginx's smooth weighted round robin over
// weights (indices into weights; zero weights never appear). Weights are first divided
// by their gcd, which yields the same interleaving with a shorter cycle.
//
// Precomputing the cycle is what makes selection lock-free: SWRR's current weights are
// mutable state, but the sequence they produce is periodic with period sum(weights), so
// the hot path only needs an atomic counter into this immutable slice. Every window of
// sum(weights) consecutive picks then holds each index exactly weight times.
func swrrSequence(weights []int) []uint16 {
	g := 0
	for _, w := range weights {
		if w > 0 {
			g = gcd(g, w)
		}
	}
	if g == 0 {
		return nil
	}
	total := 0
	eff := make([]int, len(weights))
	for i, w := range weights {
		if w > 0 {
			eff[i] = w / g
			total += eff[i]
		}
	}
	current := make([]int, len(weights))
	seq := make([]uint16, 0, total)
	for range total {
		best := -1
		for i, w := range eff {
			if w == 0 {
				continue
			}
			current[i] += w
			if best < 0 || current[i] > current[best] {
				best = i
			}
		}
		current[best] -= total
		seq = append(seq, uint16(best))
	}
	return seq
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// paddedCounter keeps a hot atomic counter on its own cache line so that colours'
// counters and the snapshot's do not false-share under parallel load.
type paddedCounter struct {
	_ [64]byte
	n atomic.Uint64
	_ [56]byte
}

// paddedCounter32 is paddedCounter for member round robin, where 32-bit division is
// cheaper and a wrap every 2^32 requests only nudges the rotation.
type paddedCounter32 struct {
	_ [64]byte
	n atomic.Uint32
	_ [60]byte
}

// pick chooses a member: the next colour in the SWRR cycle, then the next up member of
// that colour. A colour whose members all went down since the cycle was built is
// skipped (the cycle is rebuilt on such changes; this covers the moment in between).
// It returns nil when nothing is available. No locks, no allocations.
func (s *snapshot) pick() *Member {
	n := uint64(len(s.cycle))
	if n == 0 {
		return nil
	}
	i := (s.next.n.Add(1) - 1) % n
	if m := s.cycle[i].pickMember(); m != nil {
		return m
	}
	for range n - 1 {
		if i++; i == n {
			i = 0
		}
		if m := s.cycle[i].pickMember(); m != nil {
			return m
		}
	}
	return nil
}

// pickOther is pick for a retry: an available member other than not. It walks the
// cycle from the current position without advancing the shared counter, so that
// retries do not shift the split of first attempts.
func (s *snapshot) pickOther(not *Member) *Member {
	n := uint64(len(s.cycle))
	if n == 0 {
		return nil
	}
	i := s.next.n.Load() % n
	for range n {
		c := s.cycle[i]
		for range len(c.members) {
			if m := c.pickMember(); m != nil && m != not {
				return m
			}
		}
		if i++; i == n {
			i = 0
		}
	}
	return nil
}

// pickMember is round robin over the colour's up members.
func (c *colour) pickMember() *Member {
	k := uint32(len(c.members))
	switch k {
	case 0:
		return nil
	case 1:
		if m := c.members[0]; m.up.Load() {
			return m
		}
		return nil
	}
	start := c.rr.n.Add(1) - 1
	for i := range k {
		if m := c.members[(start+i)%k]; m.up.Load() {
			return m
		}
	}
	return nil
}

// available reports whether the colour can take new requests: weight > 0 and at least
// one member up. Sticky selection uses it to fall back to normal picking.
func (c *colour) available() bool {
	return c.weight > 0 && c.healthy()
}

// healthy reports whether any member of c is up, whatever c's weight.
func (c *colour) healthy() bool {
	for _, m := range c.members {
		if m.up.Load() {
			return true
		}
	}
	return false
}
