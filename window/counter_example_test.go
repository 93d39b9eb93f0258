package window_test

import (
	"fmt"
	"time"

	"github.com/streamtop/streamtop/window"
)

// The top referrers over the last 10 seconds, in buckets of one second, as
// the web traffic visualizer keeps them.
func ExampleCounter() {
	c, err := window.NewCounter[string](10*time.Second, time.Second)
	if err != nil {
		fmt.Println(err)
		return
	}
	t0 := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	c.Add("search.example", t0, 3)
	c.Add("news.example", t0.Add(4*time.Second), 2)
	c.Add("mail.example", t0.Add(9*time.Second), 4)
	fmt.Println(c.Top(2))

	// Ten seconds on, the visits of the first second have left the window.
	c.Advance(t0.Add(10 * time.Second))
	fmt.Println(c.Top(3), c.Total())

	// A record from the expired second is too late to count.
	fmt.Println(c.Add("search.example", t0.Add(500*time.Millisecond), 1))
	// Output:
	// [{mail.example 4 0} {search.example 3 0}]
	// [{mail.example 4 0} {news.example 2 0}] 6
	// false
}

func ExampleCounter_Bounds() {
	c, _ := window.NewCounter[string](10*time.Second, time.Second)
	c.Add("x", time.Date(2026, 11, 25, 20, 0, 7, 500_000_000, time.UTC), 1)
	start, end := c.Bounds()
	fmt.Println(start.UTC().Format(time.TimeOnly), end.UTC().Format(time.TimeOnly))
	// Output: 19:59:58 20:00:08
}

// All visits every count of the window where Top(Len()) would sort them all
// first: here each referrer's share of the visits.
func ExampleCounter_All() {
	c, _ := window.NewCounter[string](10*time.Second, time.Second)
	t0 := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	c.Add("search.example", t0, 3)
	c.Add("news.example", t0.Add(4*time.Second), 1)
	c.Add("mail.example", t0.Add(9*time.Second), 4)
	share := map[string]float64{}
	for referrer, n := range c.All() {
		share[referrer] = float64(n) / float64(c.Total())
	}
	fmt.Println(share) // fmt prints a map's keys in order
	// Output: map[mail.example:0.5 news.example:0.125 search.example:0.375]
}

// A consumer closes the window ending at 20:00:10 when its watermark passes
// that time, but a record of the next second has already come, and one of
// the closing second comes after it. A second of history keeps the closing
// window readable, exactly, while the Counter has moved on.
func ExampleCounter_TopAt() {
	c, err := window.NewCounter[string](10*time.Second, time.Second, window.WithHistory(time.Second))
	if err != nil {
		fmt.Println(err)
		return
	}
	t0 := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	c.Add("search.example", t0, 3)
	c.Add("news.example", t0.Add(9*time.Second), 2)
	c.Add("mail.example", t0.Add(10500*time.Millisecond), 4)  // the next second
	c.Add("search.example", t0.Add(9500*time.Millisecond), 1) // late, out of order

	end := t0.Add(10 * time.Second) // the watermark has passed it
	top, err := c.TopAt(end, 3)
	if err != nil {
		fmt.Println(err)
		return
	}
	total, _ := c.TotalAt(end)
	fmt.Println(top, total)

	// The current window, [20:00:01, 20:00:11), has left t0's visits out.
	fmt.Println(c.Top(3), c.Total())
	// Output:
	// [{search.example 4 0} {news.example 2 0}] 6
	// [{mail.example 4 0} {news.example 2 0} {search.example 1 0}] 7
}
