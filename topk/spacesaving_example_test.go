package topk_test

import (
	"fmt"

	"github.com/streamtop/streamtop/topk"
)

// With room for two keys, a third key waits in the admission filter until its
// weight passes the smallest monitored count, then takes that counter over.
// Its Err says how much of its Count may belong to keys seen before it.
func ExampleSpaceSaving() {
	s, err := topk.NewSpaceSaving[string](2)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, page := range []string{"/home", "/about", "/home", "/cart", "/home", "/cart", "/cart", "/cart"} {
		s.Add(page, 1)
	}
	for _, e := range s.Top(2) {
		fmt.Printf("%s: between %d and %d\n", e.Key, e.Count-e.Err, e.Count)
	}
	// /about is no longer monitored; all that is known is an upper bound.
	count, errBound := s.Count("/about")
	fmt.Printf("/about: between %d and %d\n", count-errBound, count)
	// Output:
	// /cart: between 3 and 4
	// /home: between 3 and 3
	// /about: between 0 and 1
}

// Summaries of two shards of a stream merge into one summary of the whole
// stream, with the same guarantees.
func ExampleSpaceSaving_Merge() {
	east, _ := topk.NewSpaceSaving[string](3)
	west, _ := topk.NewSpaceSaving[string](3)
	east.Add("/home", 5)
	east.Add("/cart", 2)
	west.Add("/home", 1)
	west.Add("/search", 4)
	if err := east.Merge(west); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(east.Top(3))
	// Output: [{/home 6 0} {/search 4 0} {/cart 2 0}]
}

// TopOf answers for the union of several summaries without merging them,
// here the top two pages over three shards.
func ExampleTopOf() {
	shards := make([]*topk.SpaceSaving[string], 3)
	for i := range shards {
		shards[i], _ = topk.NewSpaceSaving[string](8)
	}
	shards[0].Add("/home", 5)
	shards[1].Add("/search", 4)
	shards[1].Add("/home", 2)
	shards[2].Add("/cart", 3)
	shards[2].Add("/search", 1)
	fmt.Println(topk.TopOf(2, shards...))
	// Output: [{/home 7 0} {/search 5 0}]
}

// A batch of records, one key each, counts in one call.
func ExampleSpaceSaving_AddAll() {
	s, _ := topk.NewSpaceSaving[string](2)
	s.AddAll([]string{"/home", "/cart", "/home", "/search", "/home"})
	fmt.Println(s.Top(1))
	// Output: [{/home 3 0}]
}
