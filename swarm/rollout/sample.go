package rollout

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/archwayhq/archway/app"
)

// Cell is one row/column of a Tally: which platform answered through which colour.
type Cell struct {
	Platform string // e.g. linux/arm/v7, as the app reports the binary it runs
	Machine  string // uname -m seen by the task (armv7l, aarch64, i686, x86_64)
	Color    string
}

// Tally counts answers of a sample through the proxy.
type Tally struct {
	Counts map[Cell]int
	Total  int
	Failed int
	// FirstErr keeps the first failure so a bad run is explained, not just counted.
	FirstErr string
}

// ByColor sums the counts per colour.
func (t Tally) ByColor() map[string]int {
	m := map[string]int{}
	for c, n := range t.Counts {
		m[c.Color] += n
	}
	return m
}

// Sample sends n GET requests for /api/info through the proxy at baseURL and tallies who
// answered. The app echoes the Color header the proxy set, so the colour column is the
// proxy's choice, and the platform column is the task's own view of its architecture.
func Sample(ctx context.Context, c *http.Client, baseURL string, n int) Tally {
	t := Tally{Counts: map[Cell]int{}}
	url := strings.TrimSuffix(baseURL, "/") + "/api/info"
	for range n {
		info, err := GetInfo(ctx, c, url, nil)
		t.Total++
		if err != nil {
			t.Failed++
			if t.FirstErr == "" {
				t.FirstErr = err.Error()
			}
			continue
		}
		t.Counts[Cell{Platform: info.Platform, Machine: info.Machine, Color: info.Color}]++
	}
	return t
}

// GetInfo asks archway-app's /api/info at url (through the proxy) with the extra
// header, if any; a non-200 answer or a body that is not the app's JSON is an error.
func GetInfo(ctx context.Context, c *http.Client, url string, header http.Header) (app.Info, error) {
	var info app.Info
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return info, err
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return info, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return info, fmt.Errorf("GET %s: read body: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return info, fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, &info); err != nil {
		return info, fmt.Errorf("GET %s: decode: %w", url, err)
	}
	return info, nil
}

// WriteTable prints platform × colour counts with row and column totals.
func (t Tally) WriteTable(w io.Writer) error {
	type row struct{ platform, machine string }
	rows := map[row]map[string]int{}
	colors := map[string]int{}
	for c, n := range t.Counts {
		r := row{c.Platform, c.Machine}
		if rows[r] == nil {
			rows[r] = map[string]int{}
		}
		rows[r][c.Color] += n
		colors[c.Color] += n
	}
	colNames := make([]string, 0, len(colors))
	for c := range colors {
		colNames = append(colNames, c)
	}
	slices.Sort(colNames)
	rowKeys := make([]row, 0, len(rows))
	for r := range rows {
		rowKeys = append(rowKeys, r)
	}
	slices.SortFunc(rowKeys, func(a, b row) int { return strings.Compare(a.platform+a.machine, b.platform+b.machine) })

	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "PLATFORM\tUNAME -M\t")
	for _, c := range colNames {
		fmt.Fprintf(tw, "%s\t", c)
	}
	fmt.Fprintln(tw, "total\t")
	for _, r := range rowKeys {
		fmt.Fprintf(tw, "%s\t%s\t", r.platform, r.machine)
		sum := 0
		for _, c := range colNames {
			fmt.Fprintf(tw, "%d\t", rows[r][c])
			sum += rows[r][c]
		}
		fmt.Fprintf(tw, "%d\t\n", sum)
	}
	fmt.Fprint(tw, "all\t\t")
	for _, c := range colNames {
		fmt.Fprintf(tw, "%d\t", colors[c])
	}
	fmt.Fprintf(tw, "%d\t\n", t.Total-t.Failed)
	if err := tw.Flush(); err != nil {
		return err
	}
	if t.Failed > 0 {
		_, err := fmt.Fprintf(w, "failed: %d of %d (first: %s)\n", t.Failed, t.Total, t.FirstErr)
		return err
	}
	return nil
}
