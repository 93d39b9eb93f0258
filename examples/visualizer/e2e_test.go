package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/streamtop/streamtop/internal/consumertest"
	"github.com/streamtop/streamtop/topk"
)

// startApp runs the whole program in-process on a free loopback port and
// stops it when the test ends.
func startApp(t *testing.T, c config) *app {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan *app, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, c, io.Discard, func(a *app) { started <- a }) }()
	var a *app
	select {
	case a = <-started:
	case err := <-done:
		cancel()
		t.Fatalf("run: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run after shutdown: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("no graceful shutdown within 20 s")
		}
	})
	return a
}

func fetchJSON[T any](t *testing.T, base, path string) T {
	t.Helper()
	res, err := http.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, res.StatusCode, body)
	}
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, body)
	}
	return v
}

func testConfig() config {
	return config{addr: "127.0.0.1:0", rate: 5000, shards: 2, host: "e2e-worker", drift: 0, seed: 1,
		roles: roles{producer: true, consumer: true, web: true}}
}

// TestEndToEnd runs producer, consumer and web server as the program does
// with no flags, with fixed referrer weights, and checks the API against the
// weights and, exactly, against the records on the stream.
func TestEndToEnd(t *testing.T) {
	a := startApp(t, testConfig())
	base := a.url[:len(a.url)-1]
	ctx := context.Background()

	// A record that is not JSON, on the shard that carries /index.html.
	time.Sleep(time.Second)
	brokenAt := time.Now()
	if err := a.backend.put(ctx, []message{{key: "/index.html", data: []byte(`{"resource": "/index.html", "referrer":`)}}); err != nil {
		t.Fatal(err)
	}

	// The shard must go on: a window ending seconds after the broken record
	// is written. Waiting that long also gives the windows enough visits for
	// the shares below to be well apart from one another.
	deadline := time.Now().Add(15 * time.Second)
	for {
		rows := fetchJSON[[]countsRow](t, base, "/api/counts?resource=/index.html&range_in_seconds=5")
		if len(rows) > 0 && time.UnixMilli(rows[len(rows)-1].Timestamp).After(brokenAt.Add(4*time.Second)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no window after the broken record; latest rows %v", rows)
		}
		time.Sleep(200 * time.Millisecond)
	}
	st := fetchJSON[status](t, base, "/api/status")
	if st.Malformed == nil || *st.Malformed != 1 {
		t.Errorf("status reports %v malformed records, want 1", st.Malformed)
	}
	if st.RecordsPerSecond < 1000 {
		t.Errorf("status reports %.0f records/s in, producer runs at 5000", st.RecordsPerSecond)
	}

	if got := fetchJSON[[]string](t, base, "/api/resources"); !cmp.Equal(got, []string{"/cart.html", "/checkout.html", "/index.html", "/products.html"}) {
		t.Errorf("resources %v", got)
	}

	// The top 3 are the three heaviest referrers, in order, and every
	// referrer's share of the window is its weight's share.
	sum := 0.0
	for _, w := range baseWeights {
		sum += w
	}
	latest := map[string]countsRow{}
	for _, res := range resources {
		top := fetchJSON[[]referrerCount](t, base, "/api/top?n=3&resource="+url.QueryEscape(res))
		var names []string
		for _, rc := range top {
			names = append(names, rc.Referrer)
		}
		if diff := cmp.Diff(referrers[:3], names); diff != "" {
			t.Errorf("%s: top 3 (-want +got):\n%s", res, diff)
		}
		rows := fetchJSON[[]countsRow](t, base, "/api/counts?range_in_seconds=60&resource="+url.QueryEscape(res))
		if len(rows) == 0 {
			t.Fatalf("%s: no counts", res)
		}
		row := rows[len(rows)-1]
		latest[res] = row
		if row.Host != "e2e-worker" {
			t.Errorf("%s: host %q", res, row.Host)
		}
		var total int64
		for _, rc := range row.ReferrerCounts {
			total += rc.Count
		}
		for _, rc := range row.ReferrerCounts {
			j := indexOf(referrers, rc.Referrer)
			if j < 0 {
				t.Fatalf("%s: unknown referrer %q", res, rc.Referrer)
			}
			if got, want := float64(rc.Count)/float64(total), baseWeights[j]/sum; math.Abs(got-want) > 0.05 {
				t.Errorf("%s: %s has %.3f of %d visits, weight says %.3f", res, rc.Referrer, got, total, want)
			}
		}
	}

	// Exactly: each newest snapshot equals a count of the stream's records
	// that arrived in its window.
	records := consumertest.ReadAll(t, a.backend.stream)
	for res, row := range latest {
		end := time.UnixMilli(row.Timestamp)
		exact := topk.NewExact[string]()
		for _, r := range records {
			var v visit
			if json.Unmarshal(r.Data, &v) != nil || v.Resource != res {
				continue
			}
			if !r.ArrivalTime.Before(end.Add(-windowSize)) && r.ArrivalTime.Before(end) {
				exact.Add(v.Referrer, 1)
			}
		}
		var want []referrerCount
		for _, e := range exact.Top(exact.Len()) {
			want = append(want, referrerCount{e.Key, e.Count})
		}
		if diff := cmp.Diff(want, row.ReferrerCounts); diff != "" {
			t.Errorf("%s, window ending %v: API (+) differs from the stream (-):\n%s", res, end, diff)
		}
	}
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

func TestRunFailsOnBusyAddress(t *testing.T) {
	a := startApp(t, testConfig())
	c := testConfig()
	c.addr = a.url[len("http://") : len(a.url)-1]
	err := run(context.Background(), c, io.Discard, nil)
	if err == nil {
		t.Fatal("second server on the same address started")
	}
	if want := fmt.Sprintf("-addr %s", c.addr); !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not name %q", err, want)
	}
}
