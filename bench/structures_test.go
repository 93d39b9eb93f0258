package bench

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/streamtop/streamtop/internal/baseline"
	"github.com/streamtop/streamtop/internal/workload"
	"github.com/streamtop/streamtop/topk"
	"github.com/streamtop/streamtop/window"
)

// structure is what BenchmarkStructures drives. Windowed structures count t;
// the others ignore it. count returns the structure's estimate of a key's
// count, an upper bound for the approximate ones.
type structure interface {
	add(key string, t time.Time)
	count(key string) int64
	top(k int) []topk.Entry[string]
	len() int
}

// impl is one row of the tables. base names the row whose figures this one's
// are divided by; a baseline has none.
type impl struct {
	name     string
	base     string
	windowed bool
	make     func() (structure, error)
}

// impls are the rows, in table order; sketch_test.go appends window.Sketch.
var impls = []impl{
	{name: "map", make: func() (structure, error) { return &mapS{}, nil }},
	{name: "Exact", base: "map", make: func() (structure, error) { return exactS{topk.NewExact[string]()}, nil }},
	{name: "heapSS1024", make: heapSS(1024)},
	{name: "SpaceSaving1024", base: "heapSS1024", make: spaceSaving(1024)},
	{name: "heapSS8192", make: heapSS(8192)},
	{name: "SpaceSaving8192", base: "heapSS8192", make: spaceSaving(8192)},
	{name: "ring", windowed: true, make: func() (structure, error) {
		r, err := baseline.NewRing[string](windowSize, windowBucket)
		return ringS{r}, err
	}},
	{name: "Counter", base: "ring", windowed: true, make: func() (structure, error) {
		c, err := window.NewCounter[string](windowSize, windowBucket)
		return counterS{c}, err
	}},
}

type mapS struct{ baseline.Map[string] }

func (m *mapS) add(key string, _ time.Time)    { m.Add(key, 1) }
func (m *mapS) count(key string) int64         { return m.Count(key) }
func (m *mapS) top(k int) []topk.Entry[string] { return m.Top(k) }
func (m *mapS) len() int                       { return m.Len() }

type exactS struct{ *topk.Exact[string] }

func (e exactS) add(key string, _ time.Time)    { e.Add(key, 1) }
func (e exactS) count(key string) int64         { return e.Count(key) }
func (e exactS) top(k int) []topk.Entry[string] { return e.Top(k) }
func (e exactS) len() int                       { return e.Len() }

type heapS struct{ *baseline.SpaceSaving[string] }

func heapSS(capacity int) func() (structure, error) {
	return func() (structure, error) {
		s, err := baseline.NewSpaceSaving[string](capacity)
		return heapS{s}, err
	}
}

func (s heapS) add(key string, _ time.Time)    { s.Add(key, 1) }
func (s heapS) count(key string) int64         { c, _ := s.Count(key); return c }
func (s heapS) top(k int) []topk.Entry[string] { return s.Top(k) }
func (s heapS) len() int                       { return s.Len() }

type spaceSavingS struct{ *topk.SpaceSaving[string] }

func spaceSaving(capacity int) func() (structure, error) {
	return func() (structure, error) {
		s, err := topk.NewSpaceSaving[string](capacity)
		return spaceSavingS{s}, err
	}
}

func (s spaceSavingS) add(key string, _ time.Time)    { s.Add(key, 1) }
func (s spaceSavingS) count(key string) int64         { c, _ := s.Count(key); return c }
func (s spaceSavingS) top(k int) []topk.Entry[string] { return s.Top(k) }
func (s spaceSavingS) len() int                       { return s.Len() }

type ringS struct{ *baseline.Ring[string] }

func (r ringS) add(key string, t time.Time)    { r.Add(key, t, 1) }
func (r ringS) count(key string) int64         { return r.Count(key) }
func (r ringS) top(k int) []topk.Entry[string] { return r.Top(k) }
func (r ringS) len() int                       { return r.Len() }

type counterS struct{ *window.Counter[string] }

func (c counterS) add(key string, t time.Time)    { c.Add(key, t, 1) }
func (c counterS) count(key string) int64         { return c.Count(key) }
func (c counterS) top(k int) []topk.Entry[string] { return c.Top(k) }
func (c counterS) len() int                       { return c.Len() }

// topK and wideK are the k of the accuracy figures: precision@10 and
// @100, and the largest relative error among the true top 10.
const (
	topK  = 10
	wideK = 100
)

// accuracy holds the untimed figures of one structure on one stream.
type accuracy struct {
	precision, precisionWide, maxRelErr float64
	heap, bytesPerKey                   float64
	keys                                int
}

// measure feeds a new structure the whole stream once, off the clock, and
// judges it: against the exact counts of the whole stream, or of the last
// window for a windowed structure. Its memory is the live heap it added, over
// the keys it tracks; the stream's keys are shared, so key bytes are not in
// it.
func measure(tb testing.TB, im impl, s *stream) (structure, accuracy) {
	// The pass allocates only what the structure keeps, so collecting
	// while it runs is wasted work; liveHeap collects before and after.
	defer debug.SetGCPercent(debug.SetGCPercent(800))
	before := liveHeap()
	st, err := im.make()
	if err != nil {
		tb.Fatal(err)
	}
	for i, k := range s.keys {
		st.add(k, recordTime(i))
	}
	after := liveHeap()
	exact, heavy := s.whole, s.topWhole
	if im.windowed {
		exact, heavy = s.window, s.topWindow
	}
	top := st.top(wideK)
	got := make([]string, len(top))
	for i, e := range top {
		got[i] = e.Key
	}
	var a accuracy
	a.precision = workload.PrecisionAtK(got, exact, topK)
	a.precisionWide = workload.PrecisionAtK(got, exact, wideK)
	for _, key := range heavy[:min(topK, len(heavy))] {
		truth := float64(exact[key])
		a.maxRelErr = math.Max(a.maxRelErr, math.Abs(float64(st.count(key))-truth)/truth)
	}
	a.keys = st.len()
	a.heap = float64(after) - float64(before)
	if a.keys > 0 {
		a.bytesPerKey = float64(after-before) / float64(a.keys)
	}
	return st, a
}

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkStructures times Add, one record per op, for every structure on
// every stream, continuing from the state after one full pass so the figure
// is of the steady state (a full window that keeps sliding, a full summary
// that keeps evicting). Windowed structures see record i at t0 + i*step.
func BenchmarkStructures(b *testing.B) {
	for _, s := range streams {
		for _, im := range impls {
			b.Run("stream="+s.name+"/impl="+im.name, func(b *testing.B) {
				s.load()
				// The pass runs once per sub-benchmark, however many
				// times the framework calls this function.
				st, acc := measureOnce(b, im, s)
				keys, n := s.keys, len(s.keys)
				next := nextIndex[st]
				b.ReportAllocs()
				b.ResetTimer()
				if im.windowed {
					for i := range b.N {
						st.add(keys[(next+i)%n], recordTime(next+i))
					}
				} else {
					var t time.Time
					for i := range b.N {
						st.add(keys[(next+i)%n], t)
					}
				}
				b.StopTimer()
				nextIndex[st] = next + b.N
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
				b.ReportMetric(acc.precision, "precision@10")
				b.ReportMetric(acc.precisionWide, "precision@100")
				b.ReportMetric(acc.heap, "heap-B")
				b.ReportMetric(acc.maxRelErr, "max-rel-err")
				b.ReportMetric(acc.bytesPerKey, "B/key")
				b.ReportMetric(float64(acc.keys), "keys")
			})
			clear(passes)
			clear(nextIndex)
		}
		s.release()
	}
}

// passes and nextIndex carry a sub-benchmark's structure between the
// framework's calls: one pass, then every timed run continues the stream.
var (
	passes    = map[string]pass{}
	nextIndex = map[structure]int{}
)

type pass struct {
	st  structure
	acc accuracy
}

func measureOnce(b *testing.B, im impl, s *stream) (structure, accuracy) {
	if p, ok := passes[b.Name()]; ok {
		return p.st, p.acc
	}
	st, acc := measure(b, im, s)
	passes[b.Name()] = pass{st, acc}
	nextIndex[st] = len(s.keys)
	return st, acc
}
