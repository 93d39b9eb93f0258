package bench

import (
	"strconv"
	"testing"
	"time"

	"github.com/streamtop/streamtop/topk"
	"github.com/streamtop/streamtop/window"
)

func init() {
	guarded = append(guarded, guard{name: "Sketch", perSlide: 2, make: func(tb testing.TB) adder {
		s, err := window.NewSketch[string](guardWindow, guardBucket, 256)
		if err != nil {
			tb.Fatal(err)
		}
		return func(k string, t time.Time) { s.Add(k, t, 1) }
	}})
	pipelineImpls = append(pipelineImpls, pipelineImpl{name: "Sketch1024", base: "ring", make: func(size, bucket time.Duration) (windowed, error) {
		return window.NewSketch[string](size, bucket, 1024)
	}})
	for _, c := range []int{1024, 8192} {
		impls = append(impls, impl{name: "Sketch" + strconv.Itoa(c), base: "ring", windowed: true, make: func() (structure, error) {
			s, err := window.NewSketch[string](windowSize, windowBucket, c)
			return sketchS{s}, err
		}})
	}
}

type sketchS struct{ *window.Sketch[string] }

func (s sketchS) add(key string, t time.Time)    { s.Add(key, t, 1) }
func (s sketchS) count(key string) int64         { c, _ := s.Count(key); return c }
func (s sketchS) top(k int) []topk.Entry[string] { return s.Top(k) }
func (s sketchS) len() int                       { return s.Len() }
