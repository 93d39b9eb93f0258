package main

import (
	"bufio"
	"context"
	"fmt"
	"github.com/streamtop/streamtop/internal/logbuf"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestSecurityHeaders: every answer, the page's files, the API's JSON and its
// errors alike, carries the headers that lock the page down.
func TestSecurityHeaders(t *testing.T) {
	s, _ := testServer(t)
	h := s.handler()
	for _, target := range []string{
		"/", "/app.js", "/style.css", "/nothing-here.js",
		"/api/resources", "/api/counts?resource=/index.html&range_in_seconds=10",
		"/api/top?resource=/index.html&n=3", "/api/status", "/api/top",
	} {
		_, hdr, _ := get(t, h, target)
		for name, want := range map[string]string{
			"Content-Security-Policy":      contentSecurityPolicy,
			"X-Content-Type-Options":       "nosniff",
			"X-Frame-Options":              "DENY",
			"Referrer-Policy":              "no-referrer",
			"Cross-Origin-Resource-Policy": "same-origin",
		} {
			if got := hdr.Get(name); got != want {
				t.Errorf("%s: %s %q, want %q", target, name, got, want)
			}
		}
	}
	for _, directive := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(contentSecurityPolicy, directive+";") && !strings.HasSuffix(contentSecurityPolicy, directive) {
			t.Errorf("policy %q lacks %q", contentSecurityPolicy, directive)
		}
	}
	if strings.Contains(contentSecurityPolicy, "unsafe-") {
		t.Errorf("policy %q allows unsafe sources", contentSecurityPolicy)
	}
}

// TestPageHasNothingInline: the policy forbids inline scripts, styles and
// event handlers, so the page must have none; the browser test checks that
// the page works under the policy.
func TestPageHasNothingInline(t *testing.T) {
	s, _ := testServer(t)
	_, _, page := get(t, s.handler(), "/")
	for _, bad := range []*regexp.Regexp{
		regexp.MustCompile(`(?i)<script[^>]*>[^<]*\S[^<]*</script>`), // a script with a body
		regexp.MustCompile(`(?i)<style`),
		regexp.MustCompile(`(?i)\sstyle\s*=`),
		regexp.MustCompile(`(?i)\son[a-z]+\s*=`),
		regexp.MustCompile(`(?i)javascript:`),
	} {
		if m := bad.FindString(page); m != "" {
			t.Errorf("page has inline code the policy blocks: %q", m)
		}
	}
	for _, tag := range regexp.MustCompile(`(?i)<script[^>]*>`).FindAllString(page, -1) {
		if !strings.Contains(tag, " src=") {
			t.Errorf("page has an inline script: %q", tag)
		}
	}
	_, _, js := get(t, s.handler(), "/app.js")
	for _, bad := range []string{"eval(", "new Function", `setAttribute("style"`, ".innerHTML", "cssText"} {
		if strings.Contains(js, bad) {
			t.Errorf("app.js uses %s, which the policy blocks or which would bypass it", bad)
		}
	}
}

// TestRequestBodiesRejected: every route is a GET; a request with a body is
// refused before any handler runs, whatever its method or framing.
func TestRequestBodiesRejected(t *testing.T) {
	s, _ := testServer(t)
	h := s.handler()
	for _, tc := range []struct {
		name   string
		method string
		body   io.Reader
		length int64
	}{
		{"GET with a length", http.MethodGet, strings.NewReader("x=1"), 3},
		{"GET chunked", http.MethodGet, strings.NewReader("x=1"), -1},
		{"POST with a length", http.MethodPost, strings.NewReader(`{"n":3}`), 7},
		{"GET with a large body", http.MethodGet, strings.NewReader(strings.Repeat("x", 1<<20)), 1 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "/api/top?resource=/index.html&n=3", tc.body)
			req.ContentLength = tc.length
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), "bodies are not accepted") {
				t.Fatalf("status %d %s, want 413 with a JSON error", rec.Code, rec.Body)
			}
			if rec.Header().Get("Connection") != "close" {
				t.Errorf("Connection %q, want close: the server must not read the body", rec.Header().Get("Connection"))
			}
		})
	}
	// An empty body is no body.
	if code, _, _ := get(t, h, "/api/top?resource=/index.html&n=3"); code != http.StatusOK {
		t.Fatalf("GET without a body: %d", code)
	}
}

// TestRequestHeaderLimit runs the real server: oversized request lines and
// headers are refused by net/http before they reach a handler, and the
// server serves normal requests alongside.
func TestRequestHeaderLimit(t *testing.T) {
	s, _ := testServer(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newHTTPServer(s.handler(), io.Discard) // what it logs is not checked here
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	if srv.ReadHeaderTimeout == 0 || srv.ReadTimeout == 0 || srv.WriteTimeout == 0 || srv.IdleTimeout == 0 {
		t.Errorf("server without timeouts: %+v", srv)
	}

	// raw sends a request by hand, so that the client sets no limit of its
	// own, and returns the status line.
	raw := func(target string, extra string) string {
		t.Helper()
		conn, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n", target, extra)
		line, err := bufio.NewReader(conn).ReadString('\n')
		if err != nil {
			t.Fatalf("GET %.40s…: %v", target, err)
		}
		return strings.TrimSpace(line)
	}
	big := strings.Repeat("a", 4*maxHeaderBytes)
	for _, tc := range []struct {
		name, target, extra, want string
	}{
		{"normal", "/api/top?resource=/index.html&n=3", "", "HTTP/1.1 200 OK"},
		{"one large header", "/api/status", "X-Big: " + big + "\r\n", "HTTP/1.1 431 Request Header Fields Too Large"},
		{"many headers", "/api/status", strings.Repeat("X-Many: "+strings.Repeat("b", 100)+"\r\n", 4*maxHeaderBytes/100), "HTTP/1.1 431 Request Header Fields Too Large"},
		{"long URL", "/api/top?n=3&resource=" + big, "", "HTTP/1.1 431 Request Header Fields Too Large"},
		{"normal after", "/api/status", "", "HTTP/1.1 200 OK"},
	} {
		if got := raw(tc.target, tc.extra); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestLoopback(t *testing.T) {
	for _, tc := range []struct {
		addr net.Addr
		want bool
	}{
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}, true},
		{&net.TCPAddr{IP: net.IPv6loopback, Port: 8080}, true},
		{&net.TCPAddr{IP: net.IPv4zero, Port: 8080}, false},
		{&net.TCPAddr{IP: net.IPv6unspecified, Port: 8080}, false},
		{&net.TCPAddr{IP: net.IPv4(192, 168, 1, 10), Port: 8080}, false},
		{&net.UnixAddr{Name: "/tmp/x", Net: "unix"}, false},
	} {
		if got := loopback(tc.addr); got != tc.want {
			t.Errorf("loopback(%v) = %v, want %v", tc.addr, got, tc.want)
		}
	}
	// The default address is loopback, and run says nothing about it.
	c, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	host, _, _ := net.SplitHostPort(c.addr)
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		t.Fatalf("default -addr %s is not a loopback address", c.addr)
	}
}

func TestPageURL(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ln   net.Addr
		want string
	}{
		{"127.0.0.1:8080", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}, "http://127.0.0.1:8080/"},
		// Go reports a listener on 0.0.0.0 or on every interface as [::].
		{"0.0.0.0:8080", &net.TCPAddr{IP: net.IPv6unspecified, Port: 8080}, "http://127.0.0.1:8080/"},
		{":8080", &net.TCPAddr{IP: net.IPv6unspecified, Port: 8080}, "http://127.0.0.1:8080/"},
		{"0.0.0.0:8080", &net.TCPAddr{IP: net.IPv4zero, Port: 8080}, "http://127.0.0.1:8080/"},
		{"[::]:8080", &net.TCPAddr{IP: net.IPv6unspecified, Port: 8080}, "http://[::1]:8080/"},
		{"[::1]:8080", &net.TCPAddr{IP: net.IPv6loopback, Port: 8080}, "http://[::1]:8080/"},
		{"192.168.1.10:80", &net.TCPAddr{IP: net.IPv4(192, 168, 1, 10), Port: 80}, "http://192.168.1.10:80/"},
	} {
		if got := pageURL(tc.addr, tc.ln); got != tc.want {
			t.Errorf("pageURL(%q, %v) = %q, want %q", tc.addr, tc.ln, got, tc.want)
		}
	}
}

// TestWildcardAddrPrintsOpenableURL runs the program on 0.0.0.0 and opens
// the URL it prints.
func TestWildcardAddrPrintsOpenableURL(t *testing.T) {
	c := testConfig()
	c.addr = "0.0.0.0:0"
	var out logbuf.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan *app, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, c, &out, func(a *app) { started <- a }) }()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("run: %v", err)
	}
	var url string
	for line := range strings.Lines(out.String()) {
		if u, ok := strings.CutPrefix(line, "visualizer: serving "); ok {
			url = strings.TrimSpace(u)
		}
	}
	if !strings.HasPrefix(url, "http://127.0.0.1:") || strings.Contains(out.String(), "[::]") {
		t.Fatalf("printed %q as the URL; want http://127.0.0.1:port/. Output:\n%s", url, out.String())
	}
	res, err := http.Get(url + "api/status")
	if err != nil {
		t.Fatalf("opening the printed URL: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("GET %sapi/status: %d", url, res.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run after shutdown: %v", err)
	}
}
