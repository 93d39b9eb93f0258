package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/topk"
)

// testServer serves what two shards' processors wrote, as a stream keyed at
// random leaves it: partials of "/index.html" for the windows ending at
// now-3s and now-2s from both shards, which are complete, and for now-1s
// from shard-0 only, which is not; a partial of "/new.html" at now-1s from
// shard-0 only; and a whole snapshot of "/old.html" two minutes ago.
func testServer(t *testing.T) (*server, time.Time) {
	t.Helper()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) // date-proof: the server under test is given this clock
	mem := newMemory(t)
	ctx := context.Background()
	var snaps []sink.Snapshot
	for i := 3; i >= 1; i-- {
		end := now.Add(-time.Duration(i) * time.Second)
		snaps = append(snaps, sink.Snapshot{
			Group: "/index.html", Time: end, Window: windowSize, Host: "worker-a", Shard: "shard-0",
			Counts: []topk.Entry[string]{
				{Key: "http://www.google.com", Count: int64(10 * i)},
				{Key: "http://www.amazon.com", Count: 5},
				{Key: "http://www.bing.com", Count: 4},
			},
		})
		if i >= 2 {
			snaps = append(snaps, sink.Snapshot{
				Group: "/index.html", Time: end, Window: windowSize, Host: "worker-b", Shard: "shard-1",
				Counts: []topk.Entry[string]{
					{Key: "http://www.google.com", Count: int64(i)},
					{Key: "http://www.amazon.com", Count: 1},
					{Key: "http://www.reddit.com", Count: 1},
				},
			})
		}
	}
	snaps = append(snaps,
		sink.Snapshot{
			Group: "/new.html", Time: now.Add(-time.Second), Window: windowSize, Host: "worker-a", Shard: "shard-0",
			Counts: []topk.Entry[string]{{Key: "http://www.bing.com", Count: 2}},
		},
		sink.Snapshot{
			Group: "/old.html", Time: now.Add(-2 * time.Minute), Window: windowSize, Host: "w",
			Counts: []topk.Entry[string]{{Key: "http://www.yahoo.com", Count: 7}},
		})
	if err := mem.Write(ctx, snaps); err != nil {
		t.Fatal(err)
	}
	// The two shards split the hash key space in halves.
	for _, p := range []sink.Progress{
		{Shard: "shard-0", HashKeyStart: "0", HashKeyEnd: "170141183460469231731687303715884105727",
			Bucket: windowBucket, Through: now.Add(-time.Second)},
		{Shard: "shard-1", HashKeyStart: "170141183460469231731687303715884105728", HashKeyEnd: "340282366920938463463374607431768211455",
			Bucket: windowBucket, Through: now.Add(-2 * time.Second)},
	} {
		if err := mem.WriteProgress(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	return &server{
		reader: mem,
		groups: mem.Groups,
		now:    func() time.Time { return now },
		status: func() status {
			m, lag := int64(3), int64(40)
			return status{RecordsPerSecond: 12.5, LagMillis: &lag, Malformed: &m}
		},
		log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, now
}

func get(t *testing.T, h http.Handler, target string) (int, http.Header, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, rec.Header(), string(body)
}

func decodeJSON[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("decoding %q: %v", body, err)
	}
	return v
}

func TestAPIBadRequests(t *testing.T) {
	s, _ := testServer(t)
	h := s.handler()
	for _, tc := range []struct {
		target string
		want   string // in the error message
	}{
		{"/api/counts", "resource is required"},
		{"/api/counts?range_in_seconds=10", "resource is required"},
		{"/api/counts?resource=&range_in_seconds=10", "resource is required"},
		{"/api/counts?resource=/index.html", "range_in_seconds is required"},
		{"/api/counts?resource=/index.html&range_in_seconds=", "range_in_seconds is required"},
		{"/api/counts?resource=/index.html&range_in_seconds=ten", "range_in_seconds must be a whole number"},
		{"/api/counts?resource=/index.html&range_in_seconds=1.5", "range_in_seconds must be a whole number"},
		{"/api/counts?resource=/index.html&range_in_seconds=0", "range_in_seconds must be between 1 and 3600"},
		{"/api/counts?resource=/index.html&range_in_seconds=-5", "range_in_seconds must be between 1 and 3600"},
		{"/api/counts?resource=/index.html&range_in_seconds=3601", "range_in_seconds must be between 1 and 3600"},
		{"/api/counts?resource=/index.html&range_in_seconds=99999999999999999999", "range_in_seconds must be a whole number"},
		{"/api/top", "resource is required"},
		{"/api/top?n=3", "resource is required"},
		{"/api/top?resource=/index.html", "n is required"},
		{"/api/top?resource=/index.html&n=", "n is required"},
		{"/api/top?resource=/index.html&n=three", "n must be a whole number"},
		{"/api/top?resource=/index.html&n=0", "n must be between 1 and 100"},
		{"/api/top?resource=/index.html&n=-1", "n must be between 1 and 100"},
		{"/api/top?resource=/index.html&n=101", "n must be between 1 and 100"},
	} {
		t.Run(tc.target, func(t *testing.T) {
			code, hdr, body := get(t, h, tc.target)
			if code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400; body %s", code, body)
			}
			if ct := hdr.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			e := decodeJSON[map[string]string](t, body)
			if !strings.Contains(e["error"], tc.want) {
				t.Fatalf("error %q does not say %q", e["error"], tc.want)
			}
		})
	}
}

func TestAPIResources(t *testing.T) {
	s, _ := testServer(t)
	code, _, body := get(t, s.handler(), "/api/resources")
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, body)
	}
	if diff := cmp.Diff([]string{"/index.html", "/new.html", "/old.html"}, decodeJSON[[]string](t, body)); diff != "" {
		t.Fatalf("resources (-want +got):\n%s", diff)
	}

	empty := &server{groups: newMemory(t).Groups, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if _, _, body := get(t, empty.handler(), "/api/resources"); strings.TrimSpace(body) != "[]" {
		t.Fatalf("no resources: got %s, want []", body)
	}
}

func TestAPICounts(t *testing.T) {
	s, now := testServer(t)
	code, _, body := get(t, s.handler(), "/api/counts?resource=/index.html&range_in_seconds=2")
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, body)
	}
	at := func(i int) int64 { return now.Add(-time.Duration(i) * time.Second).UnixMilli() }
	// Two seconds back from now reaches the windows ending at now-2s and
	// now-1s, oldest first: the first merged from both shards, the second
	// shard-0's part only, and marked so.
	want := []countsRow{
		{Resource: "/index.html", Timestamp: at(2), Host: "worker-a,worker-b", Complete: true,
			ReferrerCounts: []referrerCount{
				{"http://www.google.com", 22}, {"http://www.amazon.com", 6},
				{"http://www.bing.com", 4}, {"http://www.reddit.com", 1},
			}},
		{Resource: "/index.html", Timestamp: at(1), Host: "worker-a", Complete: false,
			ReferrerCounts: []referrerCount{
				{"http://www.google.com", 10}, {"http://www.amazon.com", 5}, {"http://www.bing.com", 4},
			}},
	}
	if diff := cmp.Diff(want, decodeJSON[[]countsRow](t, body)); diff != "" {
		t.Fatalf("counts (-want +got):\n%s", diff)
	}
	// The original's field names, which the page relies on, and whether
	// the window is complete, which a script needs.
	for _, field := range []string{`"resource"`, `"timestamp"`, `"host"`, `"referrerCounts"`, `"referrer"`, `"count"`,
		`"complete":true`, `"complete":false`} {
		if !strings.Contains(body, field) {
			t.Errorf("body lacks %s: %s", field, body)
		}
	}

	for _, target := range []string{
		"/api/counts?resource=/nowhere.html&range_in_seconds=60",
		"/api/counts?resource=/old.html&range_in_seconds=60", // known, but nothing that recent
	} {
		if code, _, body := get(t, s.handler(), target); code != http.StatusOK || strings.TrimSpace(body) != "[]" {
			t.Errorf("%s: %d %s, want 200 []", target, code, body)
		}
	}
}

func TestAPITop(t *testing.T) {
	s, _ := testServer(t)
	for _, tc := range []struct {
		target string
		want   []referrerCount
	}{
		// The newest complete window only: never a sum over the
		// overlapping ones, nor the part of a window one shard wrote.
		{"/api/top?resource=/index.html&n=3", []referrerCount{
			{"http://www.google.com", 22}, {"http://www.amazon.com", 6}, {"http://www.bing.com", 4},
		}},
		{"/api/top?resource=/index.html&n=1", []referrerCount{{"http://www.google.com", 22}}},
		{"/api/top?resource=/index.html&n=100", []referrerCount{
			{"http://www.google.com", 22}, {"http://www.amazon.com", 6},
			{"http://www.bing.com", 4}, {"http://www.reddit.com", 1},
		}},
		{"/api/top?resource=/nowhere.html&n=3", []referrerCount{}},
		// No window of it is complete yet.
		{"/api/top?resource=/new.html&n=3", []referrerCount{}},
		// A ranking from two minutes ago is not "now".
		{"/api/top?resource=/old.html&n=3", []referrerCount{}},
	} {
		t.Run(tc.target, func(t *testing.T) {
			code, _, body := get(t, s.handler(), tc.target)
			if code != http.StatusOK {
				t.Fatalf("status %d: %s", code, body)
			}
			if diff := cmp.Diff(tc.want, decodeJSON[[]referrerCount](t, body)); diff != "" {
				t.Fatalf("top (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAPIStatus(t *testing.T) {
	s, _ := testServer(t)
	_, _, body := get(t, s.handler(), "/api/status")
	three, forty := int64(3), int64(40)
	want := status{RecordsPerSecond: 12.5, LagMillis: &forty, Malformed: &three}
	if diff := cmp.Diff(want, decodeJSON[status](t, body)); diff != "" {
		t.Fatalf("status (-want +got):\n%s", diff)
	}
}

// TestSinkStatus: a web server without a consumer reads its status from
// the newest complete windows: /index.html's ending at now-2s (33 visits in
// 10 s, a second older than a bucket), not shard-0's part of the window
// after it, nor /new.html's.
func TestSinkStatus(t *testing.T) {
	s, _ := testServer(t)
	got := newSinkStatus(s.reader, s.groups, s.now).get()
	second := int64(1000)
	if diff := cmp.Diff(status{RecordsPerSecond: 3.3, LagMillis: &second}, got); diff != "" {
		t.Fatalf("status (-want +got):\n%s", diff)
	}
}

// TestSinkStatusProblems: with no data the lag is unknown, not 0; with the
// counts table down the status says so in a few words.
func TestSinkStatusProblems(t *testing.T) {
	s, _ := testServer(t)
	none := func(context.Context) ([]string, error) { return nil, nil }
	if got := newSinkStatus(s.reader, none, s.now).get(); got.LagMillis != nil || got.Error != "" {
		t.Errorf("no data: %+v; want an unknown lag and no error", got)
	}
	down := func(context.Context) ([]string, error) { return nil, errors.New(backendFailure) }
	got := newSinkStatus(s.reader, down, s.now).get()
	if got.Error != "counts table unreachable" || strings.Contains(got.Error, "secret") {
		t.Errorf("table down: %+v; want a short error", got)
	}
}

// backendFailure is what an SDK error looks like: it names the operation,
// the request ID and the table.
const backendFailure = "operation error DynamoDB: Query, https response error StatusCode: 400, RequestID: R1, table counts-secret"

// failingReader is a sink whose backend is down.
type failingReader struct{}

func (failingReader) Query(context.Context, string, time.Time) ([]sink.Snapshot, error) {
	return nil, errors.New(backendFailure)
}

// TestAPIBackendErrors checks that a failing backend gives the client a
// short JSON error and the operator the cause: the SDK's text names tables,
// endpoints and request IDs, which the page has no business seeing.
func TestAPIBackendErrors(t *testing.T) {
	var logged bytes.Buffer
	s := &server{
		reader: failingReader{},
		groups: func(context.Context) ([]string, error) { return nil, errors.New(backendFailure) },
		now:    time.Now,
		log:    slog.New(slog.NewTextHandler(&logged, nil)),
	}
	for _, target := range []string{
		"/api/resources",
		"/api/counts?resource=/index.html&range_in_seconds=10",
		"/api/top?resource=/index.html&n=3",
	} {
		logged.Reset()
		code, hdr, body := get(t, s.handler(), target)
		if code != http.StatusInternalServerError || !strings.Contains(hdr.Get("Content-Type"), "application/json") {
			t.Errorf("%s: %d %q, want 500 in JSON", target, code, hdr.Get("Content-Type"))
		}
		msg := decodeJSON[map[string]string](t, body)["error"]
		if msg == "" || strings.Contains(body, "RequestID") || strings.Contains(body, "counts-secret") {
			t.Errorf("%s: body %s, want a short message without the backend's error", target, body)
		}
		path, _, _ := strings.Cut(target, "?")
		if log := logged.String(); !strings.Contains(log, "level=ERROR") || !strings.Contains(log, "path="+path) ||
			!strings.Contains(log, "RequestID: R1") {
			t.Errorf("%s: log %q, want an error naming the path and the cause", target, log)
		}
	}
}

func TestPageAssets(t *testing.T) {
	s, _ := testServer(t)
	h := s.handler()
	for _, tc := range []struct {
		target, contentType, contains string
	}{
		{"/", "text/html", `<script src="app.js"></script>`},
		{"/app.js", "javascript", "/api/counts?resource="},
		{"/style.css", "text/css", "@media"},
	} {
		code, hdr, body := get(t, h, tc.target)
		if code != http.StatusOK || !strings.Contains(hdr.Get("Content-Type"), tc.contentType) || !strings.Contains(body, tc.contains) {
			t.Errorf("%s: %d %q, want 200 %s containing %q", tc.target, code, hdr.Get("Content-Type"), tc.contentType, tc.contains)
		}
	}
	// The page must work offline: nothing is loaded from another origin.
	_, _, page := get(t, h, "/")
	for _, bad := range []string{"http://", "https://", "//cdn"} {
		if strings.Contains(page, bad) {
			t.Errorf("page refers to %q: it must load nothing from elsewhere", bad)
		}
	}
	if code, _, _ := get(t, h, "/nothing-here.js"); code != http.StatusNotFound {
		t.Errorf("unknown asset: status %d, want 404", code)
	}
}

// TestAPIErrorsAreJSON checks that every answer under /api/ is JSON, even
// for a path or method the API does not have, while the page's assets keep
// the file server's plain 404.
func TestAPIErrorsAreJSON(t *testing.T) {
	s, _ := testServer(t)
	h := s.handler()
	for _, tc := range []struct {
		method, target string
		code           int
		allow          string
	}{
		{http.MethodGet, "/api/nothing", http.StatusNotFound, ""},
		{http.MethodGet, "/api/", http.StatusNotFound, ""},
		{http.MethodGet, "/api/top/extra", http.StatusNotFound, ""},
		{http.MethodPost, "/api/nothing", http.StatusNotFound, ""},
		{http.MethodPost, "/api/top?resource=/index.html&n=3", http.StatusMethodNotAllowed, "GET, HEAD"},
		{http.MethodDelete, "/api/counts", http.StatusMethodNotAllowed, "GET, HEAD"},
		{http.MethodPut, "/api/resources", http.StatusMethodNotAllowed, "GET, HEAD"},
		{http.MethodPatch, "/api/status", http.StatusMethodNotAllowed, "GET, HEAD"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.target, nil))
		body := rec.Body.String()
		if rec.Code != tc.code || !strings.Contains(rec.Header().Get("Content-Type"), "application/json") {
			t.Errorf("%s %s: %d %q, want %d in JSON", tc.method, tc.target, rec.Code, rec.Header().Get("Content-Type"), tc.code)
			continue
		}
		if msg := decodeJSON[map[string]string](t, body)["error"]; msg == "" {
			t.Errorf("%s %s: body %s has no error message", tc.method, tc.target, body)
		}
		if got := rec.Header().Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.target, got, tc.allow)
		}
	}
	// HEAD is a GET without the body, as everywhere else.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodHead, "/api/status", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("HEAD /api/status: %d, want 200", rec.Code)
	}
	if code, hdr, _ := get(t, h, "/nothing-here.js"); code != http.StatusNotFound || strings.Contains(hdr.Get("Content-Type"), "json") {
		t.Errorf("unknown asset: %d %q, want the file server's 404", code, hdr.Get("Content-Type"))
	}
}
