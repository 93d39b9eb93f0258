package main

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/streamtop/streamtop/sink"
)

//go:embed web
var webFiles embed.FS

// Limits on the query parameters, so one request cannot ask the sink for an
// unbounded amount of history or the server for an unbounded answer.
const (
	maxRangeSeconds = 3600
	maxTopN         = 100
	// latestWithin bounds how old a snapshot /api/top may report as "the
	// latest window": older data means the consumer stopped, and a stale
	// ranking shown as current would mislead.
	latestWithin = time.Minute
)

// status is what /api/status reports: how fast records come in, how far the
// consumer is behind, how many records it had to skip, and what is wrong with
// the backend, if anything. A web server without a consumer in its process
// derives the first two from the counts table and cannot know the third, so
// it leaves Malformed out; with no complete window to judge by, the lag is
// unknown (null), not 0.
type status struct {
	RecordsPerSecond float64 `json:"recordsPerSecond"`
	LagMillis        *int64  `json:"lagMillis"`
	Malformed        *int64  `json:"malformed,omitempty"`
	// Error is a short description of a backend problem ("lease table not
	// found", "counts table unreachable"), never the backend's own error
	// text, which names endpoints and request IDs; the log has that.
	Error string `json:"error,omitempty"`
}

// server answers the page's requests from a sink.Reader. It holds no state
// of its own, so several web processes can serve the same counts table.
//
// The zero value is not usable: every field must be set before handler is
// called. Its handlers are safe for concurrent use as far as reader, groups
// and status are. Each request costs one Query of the sink (or one listing of
// its groups for /api/resources) plus the JSON of what it returns.
type server struct {
	reader sink.Reader
	// groups lists the resources that have data.
	groups func(ctx context.Context) ([]string, error)
	status func() status
	now    func() time.Time
	// metrics, if set, serves /metrics (Prometheus' text format).
	metrics http.Handler
	// log receives the backend errors behind 500 answers, which the client
	// never sees: they may name tables, endpoints or AWS request IDs.
	log *slog.Logger
}

// referrerCount and countsRow give /api/counts the JSON shape of the original
// sample's GetCounts, so its page logic carries over, plus whether each
// window is complete.
type referrerCount struct {
	Referrer string `json:"referrer"`
	Count    int64  `json:"count"`
}

type countsRow struct {
	Resource  string `json:"resource"`
	Timestamp int64  `json:"timestamp"` // window end, Unix milliseconds
	Host      string `json:"host"`
	// Complete: every shard has written its part of the window, so its
	// counts are final. An incomplete window (usually the newest, while
	// the shards' processors close it one after the other) counts only
	// the shards that have, and may still grow.
	Complete       bool            `json:"complete"`
	ReferrerCounts []referrerCount `json:"referrerCounts"`
}

func (s *server) handler() http.Handler {
	assets, err := fs.Sub(webFiles, "web")
	if err != nil {
		// The directory is embedded at build time; its absence is a build bug.
		panic(err)
	}
	page := http.NewServeMux()
	page.Handle("GET /", noCache(http.FileServerFS(assets)))

	// Everything under /api/ answers in JSON, errors included, so the page
	// (or a script) can always decode the answer. Each route is registered
	// twice: for GET (which covers HEAD), and for any other method with a
	// JSON 405. A path that matches no route gets a JSON 404.
	api := http.NewServeMux()
	for path, h := range map[string]http.HandlerFunc{
		"/api/resources": s.resources,
		"/api/counts":    s.counts,
		"/api/top":       s.top,
		"/api/status":    s.statusHandler,
	} {
		api.HandleFunc("GET "+path, h)
		api.HandleFunc(path, methodNotAllowed)
	}
	api.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such API endpoint: "+r.URL.Path)
	})

	mux := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Two muxes, because one cannot hold both "GET /" and a pattern
		// for every method under /api/: they overlap and neither is more
		// specific, which ServeMux refuses.
		if strings.HasPrefix(r.URL.Path, "/api/") {
			api.ServeHTTP(w, r)
			return
		}
		if r.URL.Path == "/metrics" && s.metrics != nil {
			s.metrics.ServeHTTP(w, r)
			return
		}
		page.ServeHTTP(w, r)
	})
	return secure(noBody(mux))
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", "GET, HEAD")
	writeError(w, http.StatusMethodNotAllowed, r.Method+" is not allowed here: use GET")
}

// internalError logs what went wrong and tells the client only that it did:
// a backend's error text (an SDK error names the table, the endpoint and the
// request ID) is for the operator, not for whoever loads the page.
func (s *server) internalError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.ErrorContext(r.Context(), "web server: request failed", "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "the server could not read the counts; its log says why")
}

// maxHeaderBytes bounds a request's line and headers. The page's requests
// need well under 1 KB; net/http's default of 1 MB would let each connection
// make the server hold that much.
const maxHeaderBytes = 8 << 10

// newHTTPServer returns the web server for h: timeouts, so that slow or idle
// clients cannot hold connections forever, and a bound on request headers.
// Its own errors (failed accepts, broken connections) go to errLog.
func newHTTPServer(h http.Handler, errLog io.Writer) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          log.New(errLog, "visualizer: web server: ", 0),
	}
}

// contentSecurityPolicy lets the page load its script, style sheet and data
// from this server only, and nothing inline: an injected <script> or style
// attribute does not run. The icon is the empty data: URL in index.html, so
// browsers do not ask for a /favicon.ico that does not exist.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// secure sets headers that cost nothing and shut doors the page never uses:
// no content sniffing (a JSON answer is never run as a script), no framing,
// no referrer sent to other sites, and no use of the API's answers by pages
// of other origins.
func secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr.Set("Content-Security-Policy", contentSecurityPolicy)
		hdr.Set("X-Content-Type-Options", "nosniff")
		hdr.Set("X-Frame-Options", "DENY")
		hdr.Set("Referrer-Policy", "no-referrer")
		hdr.Set("Cross-Origin-Opener-Policy", "same-origin")
		hdr.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.ServeHTTP(w, r)
	})
}

// noBody refuses requests that carry a body: every route is a GET, so a body
// is a mistake or an attempt to make the server read data it has no use for.
// "Connection: close" tells net/http not to read the body to reuse the
// connection.
func noBody(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// ContentLength is -1 when the length is unknown (chunked).
		if r.ContentLength != 0 {
			w.Header().Set("Connection", "close")
			writeError(w, http.StatusRequestEntityTooLarge, "request bodies are not accepted")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// noCache makes browsers revalidate the page's assets, so a rebuilt binary
// is never shown with a stale script.
func noCache(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}

func (s *server) resources(w http.ResponseWriter, r *http.Request) {
	groups, err := s.groups(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	groups = slices.Clone(groups)
	slices.Sort(groups)
	if groups == nil {
		groups = []string{}
	}
	writeJSON(w, http.StatusOK, groups)
}

func (s *server) counts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	resource, err := requiredString(q.Get("resource"), "resource")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	seconds, err := intParam(q.Get("range_in_seconds"), "range_in_seconds", 1, maxRangeSeconds)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	since := s.now().Add(-time.Duration(seconds) * time.Second)
	snaps, err := s.reader.Query(r.Context(), resource, since)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	rows := make([]countsRow, 0, len(snaps))
	for _, sn := range snaps {
		rows = append(rows, countsRow{
			Resource:       sn.Group,
			Timestamp:      sn.Time.UnixMilli(),
			Host:           sn.Host,
			Complete:       sn.Complete,
			ReferrerCounts: referrerCounts(sn, len(sn.Counts)),
		})
	}
	writeJSON(w, http.StatusOK, rows)
}

// top answers with the first n entries of the newest complete snapshot. Each
// holds the exact counts of one whole window, so this is the true top-n; the
// original page instead summed overlapping windows in the browser. A newer
// window that not every shard has written yet would rank a part of the
// visits, so it is left out.
func (s *server) top(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	resource, err := requiredString(q.Get("resource"), "resource")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	n, err := intParam(q.Get("n"), "n", 1, maxTopN)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	snaps, err := sink.QueryComplete(r.Context(), s.reader, resource, s.now().Add(-latestWithin))
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if len(snaps) == 0 {
		writeJSON(w, http.StatusOK, []referrerCount{})
		return
	}
	writeJSON(w, http.StatusOK, referrerCounts(snaps[len(snaps)-1], n))
}

func (s *server) statusHandler(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.status())
}

// referrerCounts returns the first n counts of a snapshot, in its Top order
// (count descending, then referrer ascending).
func referrerCounts(sn sink.Snapshot, n int) []referrerCount {
	n = min(n, len(sn.Counts))
	out := make([]referrerCount, 0, n)
	for _, e := range sn.Counts[:n] {
		out = append(out, referrerCount{Referrer: e.Key, Count: e.Count})
	}
	return out
}

var errBadParam = errors.New("bad parameter")

func requiredString(v, name string) (string, error) {
	if v == "" {
		return "", fmt.Errorf("%w: %s is required", errBadParam, name)
	}
	return v, nil
}

func intParam(v, name string, lo, hi int) (int, error) {
	if v == "" {
		return 0, fmt.Errorf("%w: %s is required", errBadParam, name)
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%w: %s must be a whole number, got %q", errBadParam, name, v)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%w: %s must be between %d and %d, got %d", errBadParam, name, lo, hi, n)
	}
	return n, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	// The client may have gone away; there is no one left to tell.
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
