package rollout

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/archwayhq/archway/app"
)

// TestSampleAndLoad runs both against a backend that answers like archway-app and fails
// every fifth request: the failures must be counted, never hidden.
func TestSampleAndLoad(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%5 == 0 {
			http.Error(w, "boom", http.StatusBadGateway)
			return
		}
		_ = json.NewEncoder(w).Encode(app.Info{Platform: "linux/arm/v7", Machine: "armv7l", Color: "green"})
	}))
	defer srv.Close()

	ta := Sample(context.Background(), srv.Client(), srv.URL, 10)
	if ta.Total != 10 || ta.Failed != 2 || ta.Counts[Cell{"linux/arm/v7", "armv7l", "green"}] != 8 {
		t.Errorf("tally = %+v", ta)
	}
	if ta.FirstErr == "" {
		t.Error("first failure not kept")
	}

	l := StartLoad(context.Background(), srv.Client(), srv.URL+"/api/info", 2, time.Millisecond)
	time.Sleep(100 * time.Millisecond)
	res := l.Stop()
	if res.OK == 0 || res.Failed == 0 || len(res.Errors) == 0 {
		t.Errorf("load result = %+v, want both successes and counted failures", res)
	}
}
