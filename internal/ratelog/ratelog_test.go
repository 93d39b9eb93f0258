package ratelog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// date-proof: t0 is only an origin; the Limiter compares instants it is given.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func TestAllowOnePerKeyPerInterval(t *testing.T) {
	var l Limiter
	steps := []struct {
		key  string
		at   time.Duration
		ok   bool
		held int
	}{
		{"a", 0, true, 0},
		{"a", time.Second, false, 0},
		{"b", time.Second, true, 0}, // keys are independent
		{"a", 9 * time.Second, false, 0},
		{"a", 10 * time.Second, true, 2},
		{"a", 11 * time.Second, false, 0},
		{"a", 25 * time.Second, true, 1},
		{"a", 40 * time.Second, true, 0},
	}
	for i, s := range steps {
		ok, held := l.Allow(s.key, t0.Add(s.at))
		if ok != s.ok || held != s.held {
			t.Errorf("step %d: Allow(%q, t0+%v) = %v, %d; want %v, %d", i, s.key, s.at, ok, held, s.ok, s.held)
		}
	}
}

func TestLogSaysHowManyWereHeldBack(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	l := Limiter{Every: time.Minute}
	for i := range 5 {
		l.Log(log, slog.LevelWarn, "k", t0.Add(time.Duration(i)*20*time.Second), "throttled", "n", i)
	}
	l.Log(nil, slog.LevelWarn, "k", t0, "nothing") // a nil logger writes nothing
	want := "level=WARN msg=throttled n=0\nlevel=WARN msg=throttled n=3 suppressed=2\n"
	if got := buf.String(); got != want {
		t.Errorf("log:\n%s\nwant:\n%s", got, want)
	}
	if strings.Count(buf.String(), "\n") != 2 {
		t.Error("more than two lines")
	}
}
