package topk_test

import (
	"fmt"

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
