package tlsterm

import (
	"testing"
	"time"
)

func newTestCA(t testing.TB) *CA {
	t.Helper()
	ca, err := NewCA("archway test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}
