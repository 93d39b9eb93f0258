package window_test

import (
	"fmt"
	"time"

	"github.com/streamtop/streamtop/window"
)

// A Counter saved by one process and restored by another goes on exactly
// where it left off: the same counts, and the same buckets expiring at the
// same times.
func ExampleCounter_MarshalBinary() {
	c, _ := window.NewCounter[string](3*time.Second, time.Second)
	t0 := time.Unix(1_700_000_000, 0)
	c.Add("/index.html", t0, 2)
	c.Add("/cart.html", t0.Add(time.Second), 1)
	c.Add("/index.html", t0.Add(2*time.Second), 1)

	data, err := c.MarshalBinary()
	if err != nil {
		panic(err)
	}
	var restored window.Counter[string] // the zero value decodes too
	if err := restored.UnmarshalBinary(data); err != nil {
		panic(err)
	}
	fmt.Println(len(data), "bytes:", restored.Top(2))

	restored.Advance(t0.Add(3 * time.Second)) // the first bucket expires
	fmt.Println(restored.Top(2))
	// Output:
	// 52 bytes: [{/index.html 3 0} {/cart.html 1 0}]
	// [{/cart.html 1 0} {/index.html 1 0}]
}
