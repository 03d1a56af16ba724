package proxy

// LatencyBounds returns the upper bounds (seconds) of the proxy's latency histograms,
// the buckets /status and /metrics report.
func LatencyBounds() []float64 { return append([]float64(nil), latencyBuckets[:]...) }

// HistogramQuantile estimates the q-quantile of a histogram with the given upper bounds
// and per-bucket counts (len(bounds)+1 of them: the last is above the highest bound) by
// linear interpolation inside the bucket, as Prometheus' histogram_quantile does. It is
// the one estimate /status, the status page and the release analysis all use, so that
// a p99 means the same thing everywhere. An empty histogram gives 0; a quantile in the
// last bucket gives the highest bound.
func HistogramQuantile(bounds []float64, counts []uint64, q float64) float64 {
	var total uint64
	for _, c := range counts {
		total += c
	}
	if total == 0 || len(bounds) == 0 {
		return 0
	}
	rank := q * float64(total)
	var cum uint64
	for i, c := range counts {
		if float64(cum+c) >= rank && c > 0 {
			if i >= len(bounds) {
				return bounds[len(bounds)-1]
			}
			lo := 0.0
			if i > 0 {
				lo = bounds[i-1]
			}
			return lo + (bounds[i]-lo)*(rank-float64(cum))/float64(c)
		}
		cum += c
	}
	return bounds[len(bounds)-1]
}
