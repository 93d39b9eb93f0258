package option

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

var errInvalid = errors.New("test: invalid option")

type config struct{ set []int }

type opt interface{ apply(*config) error }

type optFunc func(*config) error

func (f optFunc) apply(c *config) error { return f(c) }

func with(n int) opt {
	return optFunc(func(c *config) error {
		if n < 0 {
			return fmt.Errorf("%w: with(%d): want >= 0", errInvalid, n)
		}
		c.set = append(c.set, n)
		return nil
	})
}

func TestApply(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []opt
		want []int
		ok   bool
	}{
		{"none", nil, nil, true},
		{"in order", []opt{with(2), with(1), with(3)}, []int{2, 1, 3}, true},
		{"nil", []opt{with(1), nil, with(2)}, []int{1}, false},
		{"stops at the first error", []opt{with(1), with(-1), with(2)}, []int{1}, false},
	} {
		var c config
		err := Apply(&c, errInvalid, tc.opts, opt.apply)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, errInvalid)) {
			t.Errorf("%s: Apply = %v; want ok %v, or an error wrapping the sentinel", tc.name, err, tc.ok)
		}
		if fmt.Sprint(c.set) != fmt.Sprint(tc.want) {
			t.Errorf("%s: applied %v; want %v", tc.name, c.set, tc.want)
		}
	}
}

func TestPositive(t *testing.T) {
	for _, d := range []time.Duration{time.Nanosecond, time.Hour} {
		var got time.Duration
		if err := Positive(&got, errInvalid, "WithX", d); err != nil || got != d {
			t.Errorf("Positive(%v) = %v, set %v; want nil, set %v", d, err, got, d)
		}
	}
	for _, d := range []time.Duration{0, -time.Second} {
		got := time.Minute
		err := Positive(&got, errInvalid, "WithX", d)
		if !errors.Is(err, errInvalid) || !strings.Contains(err.Error(), fmt.Sprintf("WithX(%v)", d)) || got != time.Minute {
			t.Errorf("Positive(%v) = %v, set %v; want an error naming WithX(%v), nothing set", d, err, got, d)
		}
	}
}

func TestClock(t *testing.T) {
	var got func() time.Time
	if err := Clock(&got, errInvalid, nil); !errors.Is(err, errInvalid) || got != nil {
		t.Errorf("Clock(nil) = %v; want an error wrapping the sentinel, nothing set", err)
	}
	if err := Clock(&got, errInvalid, time.Now); err != nil || got == nil {
		t.Errorf("Clock(time.Now) = %v; want nil, the clock set", err)
	}
}
