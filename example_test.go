package streamtop_test

import (
	"fmt"
	"time"

	"github.com/streamtop/streamtop/window"
)

// The program that opens the package documentation and the README.
func Example() {
	// The last 10 seconds, in buckets of 1 second.
	w, err := window.NewCounter[string](10*time.Second, time.Second)
	if err != nil {
		panic(err)
	}
	t0 := time.Unix(1_700_000_000, 0)
	w.Add("http://www.google.com", t0, 1) // leaves the window at t0+10s
	w.Add("http://www.google.com", t0.Add(5*time.Second), 1)
	w.Add("http://www.amazon.com", t0.Add(6*time.Second), 1)
	w.Add("http://www.google.com", t0.Add(7*time.Second), 1)
	w.Advance(t0.Add(12 * time.Second))
	for _, e := range w.Top(2) {
		fmt.Println(e.Key, e.Count)
	}
	// Output:
	// http://www.google.com 2
	// http://www.amazon.com 1
}
