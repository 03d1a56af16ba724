package rollout

import (
	"fmt"
	"sort"
	"strings"
)

// Cycle is the length of the proxy's smooth weighted round-robin cycle for these colour
// weights: their sum after dividing by the gcd (zero weights never picked). Any window of
// Cycle consecutive picks of one proxy contains each colour exactly weight/gcd times.
func Cycle(weights map[string]int) int {
	g := 0
	for _, w := range weights {
		g = gcd(g, w)
	}
	if g == 0 {
		return 0
	}
	sum := 0
	for _, w := range weights {
		sum += w / g
	}
	return sum
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// Expected is the count of each colour in n picks: exact when n is a multiple of the cycle.
func Expected(weights map[string]int, n int) map[string]int {
	sum := 0
	for _, w := range weights {
		sum += w
	}
	out := map[string]int{}
	for c, w := range weights {
		if w > 0 && sum > 0 {
			out[c] = n * w / sum
		}
	}
	return out
}

// CheckSplit compares observed colour counts with the weights: each colour may differ from
// its expected count by at most tol (0: exact, what one proxy gives over whole cycles).
// Colours of weight 0 or not in weights must not appear at all (tolerance does not apply:
// a drained colour receiving traffic is a bug, not noise).
func CheckSplit(got map[string]int, weights map[string]int, tol int) error {
	n := 0
	for _, v := range got {
		n += v
	}
	want := Expected(weights, n)
	var bad []string
	names := map[string]bool{}
	for c := range got {
		names[c] = true
	}
	for c := range weights {
		names[c] = true
	}
	keys := make([]string, 0, len(names))
	for c := range names {
		keys = append(keys, c)
	}
	sort.Strings(keys)
	for _, c := range keys {
		g, w := got[c], want[c]
		if weights[c] == 0 && g > 0 {
			bad = append(bad, fmt.Sprintf("%s got %d, want 0 (weight 0 or unknown colour)", c, g))
			continue
		}
		if g-w > tol || w-g > tol {
			bad = append(bad, fmt.Sprintf("%s got %d, want %d±%d", c, g, w, tol))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("split over %d requests with weights %s: %s", n, Weights(weights), strings.Join(bad, "; "))
	}
	return nil
}
