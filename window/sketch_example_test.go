package window_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/streamtop/streamtop/window"
)

// The top referrers over the last 10 seconds in bounded memory: each
// one-second bucket keeps at most 100 counters, however many referrers come.
// While the window holds fewer distinct keys than that, counts are exact.
func ExampleSketch() {
	s, err := window.NewSketch[string](10*time.Second, time.Second, 100)
	if err != nil {
		fmt.Println(err)
		return
	}
	t0 := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	s.Add("search.example", t0, 3)
	s.Add("news.example", t0.Add(4*time.Second), 2)
	s.Add("mail.example", t0.Add(9*time.Second), 4)
	// A record arriving late, but for a second still in the window, counts.
	s.Add("news.example", t0.Add(5*time.Second), 3)
	fmt.Println(s.Top(2))

	// Ten seconds on, the first second has left the window.
	s.Advance(t0.Add(10 * time.Second))
	fmt.Println(s.Top(3), s.Total())
	// Output:
	// [{news.example 5 0} {mail.example 4 0}]
	// [{news.example 5 0} {mail.example 4 0}] 9
}

// When more keys arrive than the capacity, counts become bounds: the true
// count lies in [Count-Err, Count], and Err is at most Total/capacity.
func ExampleSketch_Count() {
	s, _ := window.NewSketch[int](time.Minute, 10*time.Second, 2)
	t0 := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	for i := range 30 {
		s.Add(i%5, t0.Add(time.Duration(i)*time.Second), int64(1+i%5))
	}
	count, errBound := s.Count(4)
	fmt.Println(count-errBound <= 30 && 30 <= count, errBound*2 <= s.Total())
	// Output: true true
}

// All yields the entries Top(Len()) would return, in the same order, without
// copying them: here the two referrers a capacity of 2 keeps, each with the
// range its true count lies in.
func ExampleSketch_All() {
	s, _ := window.NewSketch[string](10*time.Second, time.Second, 2)
	t0 := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	s.Add("search.example", t0, 3)
	s.Add("news.example", t0.Add(4*time.Second), 2)
	s.Add("mail.example", t0.Add(9*time.Second), 4)
	for e := range s.All() {
		fmt.Printf("%s: %d to %d\n", e.Key, e.Count-e.Err, e.Count)
	}
	// Output:
	// mail.example: 4 to 4
	// search.example: 3 to 3
}

// A consumer closes the window ending at 20:00:10 once its watermark has
// passed it, after a record of the next second has come, and one of the
// closing second after that. Two seconds of history keep that window
// readable, with the same bounds as the current one.
func ExampleSketch_TopAt() {
	s, err := window.NewSketch[string](10*time.Second, time.Second, 100, window.WithHistory(2*time.Second))
	if err != nil {
		fmt.Println(err)
		return
	}
	t0 := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	s.Add("search.example", t0, 3)
	s.Add("news.example", t0.Add(9*time.Second), 2)
	s.Add("mail.example", t0.Add(10500*time.Millisecond), 4)  // the next second
	s.Add("search.example", t0.Add(9500*time.Millisecond), 1) // late, out of order

	end := t0.Add(10 * time.Second)
	top, err := s.TopAt(end, 3)
	if err != nil {
		fmt.Println(err)
		return
	}
	total, _ := s.TotalAt(end)
	fmt.Println(top, total)

	// An end past the newest bucket's, or off a boundary, is refused.
	_, err = s.TopAt(t0.Add(12*time.Second), 3)
	fmt.Println(errors.Is(err, window.ErrEnd))
	// Output:
	// [{search.example 4 0} {news.example 2 0}] 6
	// true
}
