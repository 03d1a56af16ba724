package app

import (
	"strconv"
	"strings"
)

// wantsJSON reports whether the Accept header prefers application/json over the
// text or HTML that GET / serves by default. curl (Accept: */*) and browsers
// (text/html first) keep the default. Ranking: higher q wins; a wildcard loses to a
// concrete type of equal q (RFC 9110 specificity); remaining ties go to the type
// listed first, as clients such as axios list the one they want first.
func wantsJSON(accept string) bool {
	type rank struct {
		q        float64
		specific bool
		pos      int
	}
	better := func(a, b rank) bool {
		if a.q != b.q {
			return a.q > b.q
		}
		if a.specific != b.specific {
			return a.specific
		}
		return a.pos < b.pos
	}
	var json, other *rank
	pos := 0
	for part := range strings.SplitSeq(accept, ",") {
		mediaType, params, _ := strings.Cut(part, ";")
		mediaType = strings.ToLower(strings.TrimSpace(mediaType))
		r := rank{q: 1, pos: pos}
		pos++
		for p := range strings.SplitSeq(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.TrimSpace(k) == "q" {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					r.q = f
				}
			}
		}
		if r.q <= 0 {
			continue
		}
		switch mediaType {
		case "application/json":
			r.specific = true
			if json == nil || better(r, *json) {
				json = &r
			}
		case "text/plain", "text/html", "text/*", "*/*":
			r.specific = !strings.HasSuffix(mediaType, "*")
			if other == nil || better(r, *other) {
				other = &r
			}
		}
	}
	return json != nil && (other == nil || better(*json, *other))
}
