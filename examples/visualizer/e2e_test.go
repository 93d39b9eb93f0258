package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/streamtop/streamtop/internal/consumertest"
	"github.com/streamtop/streamtop/source"
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
		partitionKey: keyRandom, roles: roles{producer: true, consumer: true, web: true}}
}

// TestEndToEnd runs producer, consumer and web server as the program does
// with no flags, with fixed referrer weights, once with records keyed by page
// and once keyed at random, and checks the API against the weights and,
// exactly, against the records on the stream.
func TestEndToEnd(t *testing.T) {
	for _, key := range []string{keyPage, keyRandom} {
		t.Run("partition-key="+key, func(t *testing.T) {
			c := testConfig()
			c.partitionKey = key
			testEndToEnd(t, c)
		})
	}
}

func testEndToEnd(t *testing.T, c config) {
	a := startApp(t, c)
	base := a.url[:len(a.url)-1]
	ctx := context.Background()

	// A record that is not JSON.
	time.Sleep(time.Second)
	brokenAt := time.Now()
	if err := a.backend.put(ctx, []message{{key: "/index.html", data: []byte(`{"resource": "/index.html", "referrer":`)}}); err != nil {
		t.Fatal(err)
	}

	// The shards must go on: a complete window ending seconds after the
	// broken record is written. Waiting that long also gives the windows
	// enough visits for the shares below to be well apart from one another.
	deadline := time.Now().Add(15 * time.Second)
	for {
		rows := completeRows(fetchJSON[[]countsRow](t, base, "/api/counts?resource=/index.html&range_in_seconds=5"))
		if len(rows) > 0 && time.UnixMilli(rows[len(rows)-1].Timestamp).After(brokenAt.Add(4*time.Second)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no complete window after the broken record; latest rows %v", rows)
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
	charted := map[string][]countsRow{}
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
		charted[res] = rows
		complete := completeRows(rows)
		if len(complete) == 0 {
			t.Fatalf("%s: no complete counts in %v", res, rows)
		}
		// Windows become complete in order: the incomplete ones, if any,
		// are the newest, which not every shard has closed yet.
		if n := len(complete); rows[n-1].Timestamp != complete[n-1].Timestamp {
			t.Errorf("%s: an incomplete window before a complete one: %v", res, rows)
		}
		t.Logf("%s: %d windows, the newest %d incomplete", res, len(rows), len(rows)-len(complete))
		row := complete[len(complete)-1]
		if row.Host != "e2e-worker" {
			t.Errorf("%s: host %q", res, row.Host)
		}
		if got := fetchJSON[[]referrerCount](t, base, "/api/top?n=100&resource="+url.QueryEscape(res)); len(got) > 0 &&
			!cmp.Equal(got, row.ReferrerCounts) && !newer(base, res, row) {
			t.Errorf("%s: /api/top %v is not the newest complete window %v", res, got, row.ReferrerCounts)
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

	// Exactly: every complete window equals a count of the stream's
	// records that arrived in it, and an incomplete one counts no more
	// than that.
	records := consumertest.ReadAll(t, a.backend.stream)
	checkPartitioning(t, c.partitionKey, records)
	for res, rows := range charted {
		for _, row := range rows {
			want := recount(records, res, time.UnixMilli(row.Timestamp))
			if row.Complete {
				if diff := cmp.Diff(want, row.ReferrerCounts); diff != "" {
					t.Errorf("%s, window ending %v: API (+) differs from the stream (-):\n%s", res, row.Timestamp, diff)
				}
				continue
			}
			for _, rc := range row.ReferrerCounts {
				if i := slices.IndexFunc(want, func(w referrerCount) bool { return w.Referrer == rc.Referrer }); i < 0 || rc.Count > want[i].Count {
					t.Errorf("%s, incomplete window ending %v: %v, more than the stream's %v", res, row.Timestamp, rc, want)
				}
			}
		}
	}
}

// completeRows returns the rows of complete windows.
func completeRows(rows []countsRow) []countsRow {
	return slices.DeleteFunc(slices.Clone(rows), func(r countsRow) bool { return !r.Complete })
}

// newer reports whether a complete window newer than row is there by now,
// which /api/top may have answered with.
func newer(base, res string, row countsRow) bool {
	r, err := http.Get(base + "/api/counts?range_in_seconds=60&resource=" + url.QueryEscape(res))
	if err != nil {
		return false
	}
	defer r.Body.Close()
	var rows []countsRow
	if json.NewDecoder(r.Body).Decode(&rows) != nil {
		return false
	}
	c := completeRows(rows)
	return len(c) > 0 && c[len(c)-1].Timestamp > row.Timestamp
}

// recount counts, from the records themselves, the referrers of res's visits
// that arrived in the window ending at end, in the API's order.
func recount(records []source.Record, res string, end time.Time) []referrerCount {
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
	want := []referrerCount{}
	for _, e := range exact.Top(exact.Len()) {
		want = append(want, referrerCount{e.Key, e.Count})
	}
	return want
}

// checkPartitioning checks that the records on the stream are keyed as the
// flag says: by page, each page's visits are on one shard; keyed at random,
// on every shard.
func checkPartitioning(t *testing.T, key string, records []source.Record) {
	t.Helper()
	shards, pages := map[string]bool{}, map[string]map[string]bool{}
	for _, r := range records {
		var v visit
		if json.Unmarshal(r.Data, &v) != nil {
			continue
		}
		shards[r.ShardID] = true
		if pages[v.Resource] == nil {
			pages[v.Resource] = map[string]bool{}
		}
		pages[v.Resource][r.ShardID] = true
	}
	for res, on := range pages {
		if want := map[string]int{keyPage: 1, keyRandom: len(shards)}[key]; len(on) != want {
			t.Errorf("-partition-key %s: %s's visits are on %d shards, want %d", key, res, len(on), want)
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
