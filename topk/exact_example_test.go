package topk_test

import (
	"fmt"
	"maps"

	"github.com/streamtop/streamtop/topk"
)

func ExampleExact() {
	e := topk.NewExact[string]()
	for _, page := range []string{"/", "/docs", "/", "/blog", "/docs", "/"} {
		e.Add(page, 1)
	}
	fmt.Println(e.Top(2))

	// Taking counts back, as a sliding window does when visits expire: a
	// count that reaches 0 forgets its key.
	e.Add("/blog", -1)
	fmt.Println(e.Len(), e.Count("/blog"))
	// Output:
	// [{/ 3 0} {/docs 2 0}]
	// 2 0
}

// All visits every count where Top(Len()) would sort them all first. Add may
// be called from the loop, here to forget the pages seen only once.
func ExampleExact_All() {
	e := topk.NewExact[string]()
	for _, page := range []string{"/", "/docs", "/", "/blog", "/docs", "/", "/about"} {
		e.Add(page, 1)
	}
	for page, n := range e.All() {
		if n == 1 {
			e.Add(page, -n)
		}
	}
	fmt.Println(maps.Collect(e.All())) // fmt prints a map's keys in order
	// Output: map[/:3 /docs:2]
}
