package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/topk"
)

// testServer serves snapshots of "/index.html" ending at now-3s, now-2s and
// now-1s, and of "/old.html" ending two minutes ago.
func testServer(t *testing.T) (*server, time.Time) {
	t.Helper()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) // date-proof: the server under test is given this clock
	mem := newMemory(t)
	var snaps []sink.Snapshot
	for i := 3; i >= 1; i-- {
		snaps = append(snaps, sink.Snapshot{
			Group: "/index.html", Time: now.Add(-time.Duration(i) * time.Second), Window: windowSize,
			Host: "worker-" + string(rune('a'+i)),
			Counts: []topk.Entry[string]{
				{Key: "http://www.google.com", Count: int64(10 * i)},
				{Key: "http://www.amazon.com", Count: 5},
				{Key: "http://www.bing.com", Count: 4},
				{Key: "http://www.reddit.com", Count: 1},
			},
		})
	}
	snaps = append(snaps, sink.Snapshot{
		Group: "/old.html", Time: now.Add(-2 * time.Minute), Window: windowSize, Host: "w",
		Counts: []topk.Entry[string]{{Key: "http://www.yahoo.com", Count: 7}},
	})
	if err := mem.Write(context.Background(), snaps); err != nil {
		t.Fatal(err)
	}
	return &server{
		reader: mem,
		groups: mem.Groups,
		now:    func() time.Time { return now },
		status: func() status { m := int64(3); return status{RecordsPerSecond: 12.5, LagMillis: 40, Malformed: &m} },
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
	if diff := cmp.Diff([]string{"/index.html", "/old.html"}, decodeJSON[[]string](t, body)); diff != "" {
		t.Fatalf("resources (-want +got):\n%s", diff)
	}

	empty := &server{groups: newMemory(t).Groups}
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
	row := func(i int) countsRow {
		return countsRow{
			Resource: "/index.html", Timestamp: now.Add(-time.Duration(i) * time.Second).UnixMilli(),
			Host: "worker-" + string(rune('a'+i)),
			ReferrerCounts: []referrerCount{
				{"http://www.google.com", int64(10 * i)}, {"http://www.amazon.com", 5},
				{"http://www.bing.com", 4}, {"http://www.reddit.com", 1},
			},
		}
	}
	// Two seconds back from now reaches the snapshots ending at now-2s and
	// now-1s, oldest first.
	if diff := cmp.Diff([]countsRow{row(2), row(1)}, decodeJSON[[]countsRow](t, body)); diff != "" {
		t.Fatalf("counts (-want +got):\n%s", diff)
	}
	// The original's field names, which the page relies on.
	for _, field := range []string{`"resource"`, `"timestamp"`, `"host"`, `"referrerCounts"`, `"referrer"`, `"count"`} {
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
		// The newest window only, never a sum over the overlapping ones.
		{"/api/top?resource=/index.html&n=3", []referrerCount{
			{"http://www.google.com", 10}, {"http://www.amazon.com", 5}, {"http://www.bing.com", 4},
		}},
		{"/api/top?resource=/index.html&n=1", []referrerCount{{"http://www.google.com", 10}}},
		{"/api/top?resource=/index.html&n=100", []referrerCount{
			{"http://www.google.com", 10}, {"http://www.amazon.com", 5},
			{"http://www.bing.com", 4}, {"http://www.reddit.com", 1},
		}},
		{"/api/top?resource=/nowhere.html&n=3", []referrerCount{}},
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
	three := int64(3)
	want := status{RecordsPerSecond: 12.5, LagMillis: 40, Malformed: &three}
	if diff := cmp.Diff(want, decodeJSON[status](t, body)); diff != "" {
		t.Fatalf("status (-want +got):\n%s", diff)
	}
}

// failingReader is a sink whose backend is down.
type failingReader struct{}

func (failingReader) Query(context.Context, string, time.Time) ([]sink.Snapshot, error) {
	return nil, errors.New("counts table unreachable")
}

func TestAPIBackendErrors(t *testing.T) {
	s := &server{
		reader: failingReader{},
		groups: func(context.Context) ([]string, error) { return nil, errors.New("counts table unreachable") },
		now:    time.Now,
	}
	for _, target := range []string{
		"/api/resources",
		"/api/counts?resource=/index.html&range_in_seconds=10",
		"/api/top?resource=/index.html&n=3",
	} {
		code, _, body := get(t, s.handler(), target)
		if code != http.StatusInternalServerError || !strings.Contains(body, "counts table unreachable") {
			t.Errorf("%s: %d %s, want 500 naming the cause", target, code, body)
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
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/top?resource=/index.html&n=3", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: status %d, want 405", rec.Code)
	}
}
